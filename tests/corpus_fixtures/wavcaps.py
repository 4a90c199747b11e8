"""WavCaps layout: json_files/<Source>/<x>_final.json ({"num_captions_per_audio": 1, "data": [...]}),
json_files/blacklist/*.json ({"AudioSet": [...], "FreeSound": [...]}), FLAC audio as the official zips
unpack it (.../waveforms/<Source>_flac/<id>.flac) or as aac-datasets moves it (Audio/<Source>/<id>.flac),
and Google's AudioSet strong-label table beside as_final.json for the AudioSet segment starts.

The generic test prepares the default subsets (bbc, soundbible); tests/test_corpus_wavcaps.py prepares
all four with the numbers in ``ALL_SUBSETS``.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.corpus_fixtures import write_audio, write_corrupt

UNZIPPED = Path("mnt/fast/nobackup/scratch4weeks/xm00178/WavCaps/data/waveforms")


def _flac(root: Path, source: str, stem: str, seconds: float, seed: int) -> None:
    write_audio(root / "Zip_files" / source / UNZIPPED / f"{source}_flac" / f"{stem}.flac", seconds, seed=seed)


def _json(path: Path, obj, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, **kwargs) + "\n", encoding="utf-8")


def _bbc(identifier, caption, description, category="['Nature']"):
    return {"description": description, "category": category, "caption": caption, "id": identifier,
            "duration": 88.84353125, "audio": "wav_path",
            "download_link": f"https://sound-effects-media.bbcrewind.co.uk/zip/{identifier}.wav.zip"}


def _sb(identifier, title, caption):
    slug = title.replace(" ", "-")
    return {"title": title, "description": f"{title}, recorded for SoundBible.", "author": "Daniel Simion",
            "href": f"{identifier}-{slug}.html", "caption": caption, "id": identifier, "duration": 14.1424375,
            "audio": "wav_path", "download_link": f"http://soundbible.com/grab.php?id={identifier}&type=wav"}


def _fsd(identifier, file_name, caption, tags):
    return {"id": identifier, "file_name": file_name, "href": f"/people/someone/sounds/{identifier}/", "tags": tags,
            "description": f"{file_name} as uploaded.", "author": "someone", "duration": 3.204375,
            "download_link": f"https://freesound.org/people/someone/sounds/{identifier}/download/{identifier}.wav",
            "caption": caption, "audio": "wav_path"}


def _as(identifier, caption):
    return {"id": identifier, "caption": caption, "audio": "wav_path", "duration": 10.0}


BUG = "A bug is stridulating. A dog is barking in the distance."
RAIN_ROOF = "Rain falls on a metal roof while thunder rumbles."
STOMP = "Füße stampfen: a crowd stomps on a wooden floor, then cheers."

# --subsets all: per subset (all train) bbc 5 clips, soundbible 3, freesound 4 (+1 blacklisted),
# audioset_sl 3 (+1 blacklisted); see tests/test_corpus_wavcaps.py
ALL_SUBSETS = {
    "total": {"clips": 15, "clips_missing_audio": 4, "clips_unreadable_audio": 1, "clips_without_caption": 2,
              "clips_written": 9, "captions_total": 16, "captions_empty": 2, "captions_duplicate": 1,
              "captions_on_missing_audio": 4, "captions_clean": 9, "captions_derived": 0},
    "ids": ["wavcaps_bbc_NHU05051026", "wavcaps_bbc_07070011",
            "wavcaps_soundbible_2219", "wavcaps_soundbible_2217",
            "wavcaps_freesound_180913", "wavcaps_freesound_2219", "wavcaps_freesound_2218",
            "wavcaps_audioset_sl_AsEtShArEd1", "wavcaps_audioset_sl_nOsTaRtAb12"],
    "excluded": {"blacklisted_audioset_sl": 1, "blacklisted_freesound": 1},
}


def build(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    meta = root / "json_files"
    # BBC (indented like the GitHub copy). NHU05051026 is listed twice (one clip, the second caption a
    # duplicate after strip); 07070011's audio sits where aac-datasets moves it; 07070012's caption is
    # blank (audio present: a clip without caption); NHU05099001 has no audio; 07070013's file is corrupt.
    _json(meta / "BBC_Sound_Effects" / "bbc_final.json", {"num_captions_per_audio": 1, "data": [
        _bbc("NHU05051026", BUG, "Greengrocer Cicada (Cyclochila Virens) - close-up stridulation. Dog in distance."),
        _bbc("07070011", "A car door closes, then footsteps walk away.", "Car door, slam, footsteps.", "['Cars']"),
        _bbc("07070012", "   ", "Atmosphere, empty room."),
        _bbc("NHU05099001", "Wind blows across an open field.", "Wind, open field, Norfolk."),
        _bbc("07070013", "An engine idles.", "Diesel engine idling."),
        _bbc("NHU05051026", f" {BUG} ", "Greengrocer Cicada (Cyclochila Virens), second take."),
    ]}, indent=4)
    _flac(root, "BBC_Sound_Effects", "NHU05051026", 1.5, 1)
    write_audio(root / "Audio" / "BBC_Sound_Effects" / "07070011.flac", 1.3, seed=2)
    _flac(root, "BBC_Sound_Effects", "07070012", 1.1, 3)
    write_corrupt(root / "Zip_files" / "BBC_Sound_Effects" / UNZIPPED / "BBC_Sound_Effects_flac" / "07070013.flac")
    # SoundBible ids are plain numbers like Freesound's: 2219 exists in both (different sounds, 1.2 s here,
    # 2.0 s in FreeSound_flac); 2218 has no SoundBible file, only a Freesound one of the same number (missing).
    _json(meta / "SoundBible" / "sb_final.json", {"num_captions_per_audio": 1, "data": [
        _sb("2219", "Airplane Landing Airport", "An airplane is landing."),
        _sb("2218", "Service Bell Help", "Someone is ringing a bell."),
        _sb("2217", "Heavy Rain Wind", "It is raining heavily and windy."),
    ]})
    _flac(root, "SoundBible", "2219", 1.2, 4)
    _flac(root, "SoundBible", "2217", 1.4, 5)
    # FreeSound (UTF-8, not escaped): 156 is blacklisted (its audio present), 555 has "caption": null.
    _json(meta / "FreeSound" / "fsd_final.json", {"num_captions_per_audio": 1, "data": [
        _fsd("180913", "UK Mello.wav", "A traditional ringtone is playing.", ["Standard", "ringtone"]),
        _fsd("156", "clotho test clip.wav", "Birds sing in a park.", ["birds"]),
        _fsd("2219", "waves.wav", "Waves crash on rocks.", ["sea", "waves"]),
        _fsd("555", "hiss.wav", None, ["noise"]),
        _fsd("2218", "Holzboden.wav", STOMP, ["Füße", "wood"]),
    ]}, indent=2, ensure_ascii=False)
    for stem, seconds, seed in (("180913", 1.6, 6), ("156", 1.0, 7), ("2219", 2.0, 8), ("555", 1.0, 9),
                                ("2218", 1.7, 10)):
        _flac(root, "FreeSound", stem, seconds, seed)
    # AudioSet_SL ("data" before the count; one line). YAsEtShArEd1 is the clip AudioCaps' fixture has at
    # 30 s; Yr1nicOVtvkQ is blacklisted; YnOsTaRtAb12 is in no strong-label table (origin yt:<id>);
    # Y-dAsH_uNd12 (start 120 s) has no audio.
    _json(meta / "AudioSet_SL" / "as_final.json", {"data": [
        _as("YAsEtShArEd1.wav", RAIN_ROOF),
        _as("Yr1nicOVtvkQ.wav", "A woman talks and a dog barks."),
        _as("YnOsTaRtAb12.wav", "A dog barks twice."),
        _as("Y-dAsH_uNd12.wav", "A siren wails."),
    ], "num_captions_per_audio": 1})
    for stem, seed in (("YAsEtShArEd1", 11), ("Yr1nicOVtvkQ", 12), ("YnOsTaRtAb12", 13)):
        _flac(root, "AudioSet_SL", stem, 1.0, seed)
    (meta / "AudioSet_SL" / "audioset_train_strong.tsv").write_text(
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n"
        "AsEtShArEd1_30000\t0.000\t4.120\t/m/06mb1\n"
        "AsEtShArEd1_30000\t2.500\t10.000\t/m/0ngt1\n"
        "-dAsH_uNd12_120000\t0.000\t10.000\t/m/03kmc9\n"
        "zzUnRelAtd1_10000\t1.000\t3.000\t/m/0bt9lr\n", encoding="utf-8")
    _json(meta / "blacklist" / "blacklist_exclude_all_ac.json",
          {"AudioSet": ["YvfY_TJq7n_U.wav", "Yr1nicOVtvkQ.wav"], "FreeSound": ["117790", "204046"]}, indent=4)
    _json(meta / "blacklist" / "blacklist_exclude_test_ac.json",
          {"AudioSet": ["YtdWhHV3X25Q.wav"], "FreeSound": ["201", "156", "Not found"]}, indent=4)
    _json(meta / "blacklist" / "blacklist_exclude_ub8k_esc50_vggsound.json",
          {"AudioSet": ["YHpnja1gcKN0.wav"], "FreeSound": ["185374"]}, indent=4)
    # default subsets (bbc, soundbible): bbc 5 clips / 6 captions, soundbible 3 / 3
    return {
        "summary": {
            "total": {"clips": 8, "clips_missing_audio": 3, "clips_unreadable_audio": 1, "clips_without_caption": 1,
                      "clips_written": 4, "captions_total": 9, "captions_empty": 1, "captions_duplicate": 1,
                      "captions_on_missing_audio": 3, "captions_clean": 4, "captions_derived": 0},
            "splits": {"train": {"clips": 8, "clips_missing_audio": 3, "clips_written": 4, "captions_total": 9,
                                 "captions_clean": 4}},
        },
        "ids": {"train": ["wavcaps_bbc_NHU05051026", "wavcaps_bbc_07070011",
                          "wavcaps_soundbible_2219", "wavcaps_soundbible_2217"]},
        "origins": {"wavcaps_bbc_NHU05051026": "bbc:NHU05051026", "wavcaps_soundbible_2219": "soundbible:2219"},
        "captions": {"wavcaps_bbc_NHU05051026": [(BUG, "llm")],
                     "wavcaps_soundbible_2217": [("It is raining heavily and windy.", "llm")]},
    }
