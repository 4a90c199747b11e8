"""Sound-event data sets: ESC-50, UrbanSound8K, FSD50K, VGGSound."""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Dict, List, Optional

from audiotext.data.schema import id_origin, youtube_origin

from .common import (
    Item, LayoutError, PathLike, SkipLog, check_listed_audio, index_audio, read_table,
    require_dir, require_file, to_float, to_int, write_splits,
)

log = logging.getLogger(__name__)


def prepare_esc50(corpus_dir: PathLike, output_dir: PathLike, *, num_jobs: int = 1,
                  sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """ESC-50 (github.com/karolpiczak/ESC-50, the ``ESC-50-master`` folder).

    Layout: ``meta/esc50.csv`` (filename,fold,target,category,esc10,src_file,take) and
    ``audio/<filename>`` (5 s, 44.1 kHz mono WAV). Splits ``fold1``..``fold5`` (the official
    folds, also in ``custom['fold']``); label = ``category``. Extras: ``target`` (class
    index), ``esc10`` (bool), ``src_file``, ``take``.
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    csv_path = require_file(root / "meta" / "esc50.csv", "ESC-50 metadata",
                            "pass the directory that holds meta/ and audio/, e.g. ESC-50-master")
    audio_dir = require_dir(root / "audio", "ESC-50 audio directory")
    _, rows = read_table(csv_path, ("filename", "fold", "target", "category", "esc10", "src_file", "take"))
    items = []
    for line, row in rows:
        fold = to_int(row["fold"], csv_path, line, "fold")
        if not 1 <= fold <= 5:
            raise LayoutError(f"{csv_path}:{line}: fold must be 1..5, got {fold}")
        name = row["filename"].strip()
        items.append(Item(f"fold{fold}", audio_dir / name, f"esc50-{Path(name).stem}", {
            "label": row["category"].strip(), "fold": fold,
            "target": to_int(row["target"], csv_path, line, "target"),
            "esc10": row["esc10"].strip().lower() == "true",
            "src_file": row["src_file"].strip(), "take": row["take"].strip(),
        }, origin=id_origin("freesound", row["src_file"].strip())))
    check_listed_audio(items, csv_path)
    return write_splits("esc50", "sound", items, output_dir, split_order=[f"fold{k}" for k in range(1, 6)],
                        num_jobs=num_jobs, sampling_rate=sampling_rate)


def prepare_urbansound8k(corpus_dir: PathLike, output_dir: PathLike, *, num_jobs: int = 1,
                         sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """UrbanSound8K (the ``UrbanSound8K`` folder of the official archive).

    Layout: ``metadata/UrbanSound8K.csv`` (slice_file_name,fsID,start,end,salience,fold,classID,class)
    and ``audio/fold<fold>/<slice_file_name>`` (≤4 s WAVs, mixed rates, some stereo: stereo
    files become lhotse MultiCuts). Splits ``fold1``..``fold10`` (official folds, never
    to be reshuffled); label = ``class``. Extras: ``class_id``, ``fs_id``, ``salience``
    (1 foreground, 2 background), ``source_start``/``source_end`` (seconds in the
    Freesound original).
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    csv_path = require_file(root / "metadata" / "UrbanSound8K.csv", "UrbanSound8K metadata",
                            "pass the directory that holds metadata/ and audio/, e.g. UrbanSound8K")
    audio_dir = require_dir(root / "audio", "UrbanSound8K audio directory")
    _, rows = read_table(csv_path, ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID",
                                    "class"))
    items = []
    for line, row in rows:
        fold = to_int(row["fold"], csv_path, line, "fold")
        if not 1 <= fold <= 10:
            raise LayoutError(f"{csv_path}:{line}: fold must be 1..10, got {fold}")
        name = row["slice_file_name"].strip()
        items.append(Item(f"fold{fold}", audio_dir / f"fold{fold}" / name, f"urbansound8k-{Path(name).stem}", {
            "label": row["class"].strip(), "fold": fold,
            "class_id": to_int(row["classID"], csv_path, line, "classID"),
            "fs_id": row["fsID"].strip(),
            "salience": to_int(row["salience"], csv_path, line, "salience"),
            "source_start": to_float(row["start"], csv_path, line, "start"),
            "source_end": to_float(row["end"], csv_path, line, "end"),
        }, origin=id_origin("freesound", row["fsID"].strip())))
    check_listed_audio(items, csv_path)
    return write_splits("urbansound8k", "sound", items, output_dir,
                        split_order=[f"fold{k}" for k in range(1, 11)], num_jobs=num_jobs,
                        sampling_rate=sampling_rate)


FSD50K_SPLITS = {"train": "train", "val": "valid"}


def _label_list(value: str) -> List[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def prepare_fsd50k(corpus_dir: PathLike, output_dir: PathLike, *, num_jobs: int = 1,
                   sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """FSD50K (zenodo.org/record/4060432, the unzipped ``FSD50K.*`` folders side by side).

    Layout: ``FSD50K.ground_truth/dev.csv`` (fname,labels,mids,split with split train/val),
    ``FSD50K.ground_truth/eval.csv`` (fname,labels,mids), ``FSD50K.dev_audio/<fname>.wav``,
    ``FSD50K.eval_audio/<fname>.wav``. Splits train / valid (dev ``val``) / test (eval).
    Multi-label: ``labels`` is the comma-separated ``labels`` field (200-class vocabulary,
    ancestors included as distributed). Extras: ``mids``, ``fname``.
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    hint = "pass the directory that holds FSD50K.ground_truth/, FSD50K.dev_audio/ and FSD50K.eval_audio/"
    truth = root / "FSD50K.ground_truth"
    dev_csv = require_file(truth / "dev.csv", "FSD50K ground truth", hint)
    eval_csv = require_file(truth / "eval.csv", "FSD50K ground truth", hint)
    dev_audio = require_dir(root / "FSD50K.dev_audio", "FSD50K dev audio directory", hint)
    eval_audio = require_dir(root / "FSD50K.eval_audio", "FSD50K eval audio directory", hint)
    items: List[Item] = []
    for csv_path, audio_dir, is_dev in ((dev_csv, dev_audio, True), (eval_csv, eval_audio, False)):
        required = ("fname", "labels", "split") if is_dev else ("fname", "labels")
        header, rows = read_table(csv_path, required)
        batch = []
        for line, row in rows:
            if is_dev:
                split = FSD50K_SPLITS.get(row["split"].strip())
                if split is None:
                    raise LayoutError(f"{csv_path}:{line}: split must be train or val, got {row['split']!r}")
            else:
                split = "test"
            fname = row["fname"].strip()
            labels = _label_list(row["labels"])
            if not labels:
                raise LayoutError(f"{csv_path}:{line}: clip {fname} has no labels")
            custom = {"labels": labels, "fname": fname}
            if "mids" in header:
                custom["mids"] = _label_list(row["mids"])
            batch.append(Item(split, audio_dir / f"{fname}.wav", f"fsd50k-{'dev' if is_dev else 'eval'}-{fname}",
                              custom, origin=id_origin("freesound", fname)))
        check_listed_audio(batch, csv_path)
        items.extend(batch)
    return write_splits("fsd50k", "sound", items, output_dir, split_order=("train", "valid", "test"),
                        num_jobs=num_jobs, sampling_rate=sampling_rate)


VGGSOUND_EXTENSIONS = ("wav", "flac", "mp3", "m4a", "mp4", "ogg", "opus")


def prepare_vggsound(corpus_dir: PathLike, output_dir: PathLike, *, audio_dir: Optional[PathLike] = None,
                     num_jobs: int = 1, sampling_rate: Optional[int] = None) -> Dict[str, Path]:
    """VGGSound (www.robots.ox.ac.uk/~vgg/data/vggsound/).

    Layout: ``vggsound.csv`` without a header, rows ``youtube_id,start_seconds,label,split``
    (split ``train``/``test``; labels with commas are quoted) and the clips, which the
    authors distribute only as YouTube ids: the usual community layout names each file
    ``<youtube_id>_<start_seconds:06d>.<ext>``. Every file under ``audio_dir`` (default:
    ``corpus_dir``, searched recursively) with extension wav/flac/mp3/m4a/mp4/ogg/opus is
    indexed by name (wav preferred when a clip exists in several formats); mp4/m4a need an
    ffmpeg-capable lhotse backend, otherwise they are counted as unreadable. Clips whose
    file is absent (videos gone from YouTube) are skipped and counted as ``missing``.
    Splits train/test; label = ``label``. Extras: ``youtube_id``, ``start_seconds``.
    """
    root = Path(corpus_dir).absolute()  # recordings keep absolute paths
    csv_path = require_file(root / "vggsound.csv", "VGGSound metadata",
                            "pass the directory that holds vggsound.csv")
    search_dir = root if audio_dir is None else require_dir(Path(audio_dir).absolute(), "VGGSound audio directory")
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        rows = list(enumerate(csv.reader(f), start=1))
    index = index_audio(search_dir, VGGSOUND_EXTENSIONS)
    skipped = SkipLog()
    items = []
    listed: Dict[str, int] = {}
    for line, row in rows:
        if not row or not "".join(row).strip():
            continue
        if len(row) != 4:
            raise LayoutError(f"{csv_path}:{line}: expected 4 fields (youtube_id,start_seconds,label,split), "
                              f"got {len(row)}")
        ytid, start, label, split = (field.strip() for field in row)
        try:
            start_s = int(float(start))
        except ValueError:
            if line == 1:  # a redistributed copy with a header line
                log.info("%s: treating line 1 as a header: %s", csv_path, row)
                continue
            raise LayoutError(f"{csv_path}:{line}: start_seconds should be a number, got {start!r}") from None
        if split not in ("train", "test"):
            raise LayoutError(f"{csv_path}:{line}: split must be train or test, got {split!r}")
        stem = f"{ytid}_{start_s:06d}"
        if stem in listed:
            skipped.add("duplicate_row", f"{csv_path}:{line}", f"{stem} is also on line {listed[stem]}")
            continue
        listed[stem] = line
        path = index.get(stem)
        if path is None:
            skipped.add("missing", stem, f"no {stem}.<{'|'.join(VGGSOUND_EXTENSIONS)}> under {search_dir}")
            continue
        items.append(Item(split, path, f"vggsound-{stem}",
                          {"label": label, "youtube_id": ytid, "start_seconds": start_s},
                          origin=youtube_origin(ytid, start_s)))
    return write_splits("vggsound", "sound", items, output_dir, split_order=("train", "test"), skipped=skipped,
                        extra_summary={"listed": len(listed)},
                        num_jobs=num_jobs, sampling_rate=sampling_rate)
