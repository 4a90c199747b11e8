"""LP-MusicCaps layout: the Hugging Face repositories LP-MusicCaps-MC / -MTT / -MSD, parquet shards in data/.

The parquet files have the released columns and types (strings, string lists, int64, bool). The
audio is the source corpora's, in two folders passed with --audio-dir: ``musiccaps_audio/`` (YouTube
clips) and ``mtt_audio/`` (MagnaTagATune, ``<dir>/<name>``). The real MagnaTagATune and MSD files
are MP3; here they are WAV/FLAC of the same stem, which is all the lookup uses. The MSD part is
written too (with ``msd_audio/``) but is not a default subset: tests/test_corpus_lp_musiccaps.py
prepares it.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.corpus_fixtures import write_audio, write_corrupt

CAPTIONS = ("caption_writing", "caption_summary", "caption_paraphrase", "caption_attribute_prediction")
STYLES = ("llm_writing", "llm_summary", "llm_paraphrase", "llm_attribute")
STRING, STRINGS = pa.string(), pa.list_(pa.string())

MC_SCHEMA = pa.schema([
    ("fname", STRING), ("ytid", STRING), ("aspect_list", STRINGS), ("caption_ground_truth", STRING),
    *[(c, STRING) for c in CAPTIONS], ("pseudo_attribute", STRINGS), ("is_crawled", pa.bool_()),
    ("author_id", pa.int64()), ("start_s", pa.int64()), ("end_s", pa.int64()),
    ("audioset_positive_labels", STRING), ("is_balanced_subset", pa.bool_()), ("is_audioset_eval", pa.bool_()),
])
MTT_SCHEMA = pa.schema([
    ("track_id", STRING), ("title", STRING), ("artist_name", STRING), ("release", STRING),
    ("tag_top50", STRINGS), ("tag_top188", STRINGS), *[(c, STRING) for c in CAPTIONS],
    ("pseudo_attribute", STRINGS), ("path", STRING),
])
MSD_SCHEMA = pa.schema([
    ("track_id", STRING), ("title", STRING), ("artist_name", STRING), ("release", STRING), ("year", pa.int64()),
    ("tag", STRINGS), *[(c, STRING) for c in CAPTIONS], ("path", STRING),
])

BACH_30 = "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59"
BACH_88 = "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-88-117"
MOURNING = "d/utopia_banished-night_of_the_black_wyvern-01-by_mourning-88-117"
LUTE = "3/jacob_heringman-blame_not_my_lute-57-lost_is_my_liberty-146-175"

# MusicCaps clip shared with the musiccaps fixture (origin yt:MuSiCsHaRe1:0)
SHARED = ("A bright pop tune with a catchy piano hook, handclaps and upbeat vocals.",
          "Upbeat pop with piano and handclaps.",
          "This cheerful pop song, driven by piano and handclaps, features lively vocals.",
          "An energetic pop track with piano, handclaps, synth bass and a joyful female vocal.")
CELLO = "Slow, melancholic solo cello, recorded in a large hall."
CELLO_ATTR = 'A mournful cello piece, marked "lento", in a reverberant hall, with a soft organ drone.'
BACH = ("A soprano sings a baroque aria over strings and harpsichord.",
        "Baroque opera aria with violin and harpsichord.",
        "Over a bed of strings, a classical soprano delivers an elegant aria.",
        "A sacred classical aria with soprano, violins, cello continuo and a choir.")
METAL = ("This song is a powerful and aggressive metal anthem with thundering drums.",
         "An intense, heavy and aggressive song with growling vocals.",
         "This head-banging track boasts heavy guitar riffs and thunderous drums.",
         "With heavy riffs and screaming vocals, this thrash song is dark and intense.")


def _mc_row(ytid, start, captions, eval_clip):
    return {"fname": f"[{ytid}]-[{start}-{start + 10}]", "ytid": ytid, "aspect_list": ["pop", "piano"],
            "caption_ground_truth": "A human-written MusicCaps caption.", **dict(zip(CAPTIONS, captions)),
            "pseudo_attribute": ["synth"], "is_crawled": True, "author_id": 4, "start_s": start, "end_s": start + 10,
            "audioset_positive_labels": "/m/04rlf", "is_balanced_subset": False, "is_audioset_eval": eval_clip}


def _mtt_row(track_id, path, captions, tags=("classical",)):
    return {"track_id": track_id, "title": "t", "artist_name": "a", "release": "r", "tag_top50": list(tags),
            "tag_top188": list(tags), **dict(zip(CAPTIONS, captions)), "pseudo_attribute": [], "path": path + ".mp3"}


def _msd_row(track_id, path, captions):
    return {"track_id": track_id, "title": "t", "artist_name": "a", "release": "r", "year": 2000, "tag": ["rock"],
            **dict(zip(CAPTIONS, captions)), "path": path}


def _write(path: Path, schema: pa.Schema, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=2)


def build(root: Path) -> dict:
    mc = root / "LP-MusicCaps-MC" / "data"
    mtt = root / "LP-MusicCaps-MTT" / "data"
    msd = root / "LP-MusicCaps-MSD" / "data"
    yt_audio, mtt_audio, msd_audio = root / "musiccaps_audio", root / "mtt_audio", root / "msd_audio"

    # MC train: the shared clip (4 clean); a clip whose writing and summary are the same text
    # (summary counted duplicate) with an empty paraphrase; a clip without audio
    _write(mc / "train-00000-of-00001-c4a67f61bdb1fbf4.parquet", MC_SCHEMA, [
        _mc_row("MuSiCsHaRe1", 0, SHARED, False),
        _mc_row("-0Gj8-vB1q4", 30, (CELLO, f"  {CELLO} ", "", CELLO_ATTR), False),
        _mc_row("MiSsInGmC01", 10, ("w", "s", "p", "a"), False),
    ])
    write_audio(yt_audio / "MuSiCsHaRe1.wav", 1.2, seed=1)  # the HF MusicCaps script's <ytid>.wav
    write_audio(yt_audio / "[-0Gj8-vB1q4]-[30-40].flac", 1.1, seed=2)  # LP-MusicCaps' own fname
    # MC test: a null attribute-prediction caption (an empty slot)
    _write(mc / "test-00000-of-00001-7f4171b43c96395e.parquet", MC_SCHEMA, [
        _mc_row("tEsTmC00001", 120, ("A jazz trio swings.", "Swinging jazz trio.", "A trio plays lively swing.", None),
                True),
    ])
    write_audio(yt_audio / "YtEsTmC00001_120.000_130.000.wav", 1.3, seed=3)  # AudioSet naming

    # MTT train: clip 2 (4 clean); clip 6 with no tags and four empty captions (as ~4k released rows)
    _write(mtt / "train-00000-of-00001-28dbf9154d6d526d.parquet", MTT_SCHEMA, [
        _mtt_row("2", BACH_30, BACH),
        _mtt_row("6", BACH_88, ("", "", "", ""), tags=()),
    ])
    write_audio(mtt_audio / f"{BACH_30}.wav", 1.4, seed=4)
    write_audio(mtt_audio / f"{BACH_88}.wav", 1.4, seed=5)
    # MTT valid: clip 831; a corrupt file of the same name in another folder must not be taken
    _write(mtt / "valid-00000-of-00001-0f3c1e2d4b5a6978.parquet", MTT_SCHEMA, [_mtt_row("831", MOURNING, METAL)])
    write_audio(mtt_audio / f"{MOURNING}.wav", 1.5, seed=6)
    write_corrupt(mtt_audio / "0" / (MOURNING.split("/")[1] + ".wav"))
    # MTT test: a clip without audio
    _write(mtt / "test-00000-of-00001-94781ef88fa7ed89.parquet", MTT_SCHEMA,
           [_mtt_row("57", LUTE, ("a", "b", "c", "d"))])

    # MSD (not a default subset): train in two shards, valid, test
    _write(msd / "train-00000-of-00002-557f11f5f8c72ffa.parquet", MSD_SCHEMA, [
        _msd_row("TRIHXPZ128F1466744", "8/1/8134074.clip.mp3", ("rap one", "rap two", "rap three", "rap four"))])
    _write(msd / "train-00001-of-00002-841359b23dd9a178.parquet", MSD_SCHEMA, [
        _msd_row("TRBAISB12903CF1054", "1/2/1234567.clip.mp3", ("metal one", "metal two", "", "metal four"))])
    _write(msd / "valid-00000-of-00001-bc348328eb4115ed.parquet", MSD_SCHEMA, [
        _msd_row("TRVALID0000000001", "3/4/3456789.clip.mp3", ("v1", "v2", "v3", "v4"))])
    _write(msd / "test-00000-of-00001-dcf74b4dfad2da31.parquet", MSD_SCHEMA, [
        _msd_row("TRTEST00000000001", "5/6/5678901.clip.mp3", ("t1", "t2", "t3", "t4"))])
    write_audio(msd_audio / "8" / "1" / "8134074.clip.wav", 1.0, seed=7)
    write_audio(msd_audio / "TRBAISB12903CF1054.wav", 1.0, seed=8)  # named by track id
    write_audio(msd_audio / "5" / "6" / "5678901.clip.wav", 1.0, seed=9)

    mc_id, mtt_id = "lp_musiccaps_mc_", "lp_musiccaps_mtt_"
    return {
        "audio_dirs": ["musiccaps_audio", "mtt_audio"],
        "summary": {
            "total": {"clips": 8, "clips_missing_audio": 2, "clips_unreadable_audio": 0, "clips_without_caption": 1,
                      "clips_written": 5, "captions_total": 32, "captions_empty": 6, "captions_duplicate": 1,
                      "captions_on_missing_audio": 8, "captions_clean": 17, "captions_derived": 0},
            "splits": {
                "train": {"clips": 5, "clips_missing_audio": 1, "clips_without_caption": 1, "clips_written": 3,
                          "captions_total": 20, "captions_empty": 5, "captions_duplicate": 1,
                          "captions_on_missing_audio": 4, "captions_clean": 10},
                "valid": {"clips": 1, "clips_missing_audio": 0, "clips_written": 1, "captions_total": 4,
                          "captions_empty": 0, "captions_clean": 4},
                "test": {"clips": 2, "clips_missing_audio": 1, "clips_written": 1, "captions_total": 8,
                         "captions_empty": 1, "captions_duplicate": 0, "captions_on_missing_audio": 4,
                         "captions_clean": 3},
            },
        },
        "ids": {
            "train": [mc_id + "MuSiCsHaRe1_0", mc_id + "-0Gj8-vB1q4_30000", mtt_id + "2"],
            "valid": [mtt_id + "831"],
            "test": [mc_id + "tEsTmC00001_120000"],
        },
        "origins": {mc_id + "MuSiCsHaRe1_0": "yt:MuSiCsHaRe1:0", mc_id + "tEsTmC00001_120000": "yt:tEsTmC00001:120000",
                    mtt_id + "2": "mtt:2", mtt_id + "831": "mtt:831"},
        "captions": {
            mc_id + "MuSiCsHaRe1_0": list(zip(SHARED, STYLES)),
            mc_id + "-0Gj8-vB1q4_30000": [(CELLO, "llm_writing"), (CELLO_ATTR, "llm_attribute")],
            mc_id + "tEsTmC00001_120000": [("A jazz trio swings.", "llm_writing"),
                                           ("Swinging jazz trio.", "llm_summary"),
                                           ("A trio plays lively swing.", "llm_paraphrase")],
        },
    }
