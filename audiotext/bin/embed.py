"""Embed audio files with an exported model (or a checkpoint directory).

``python -m audiotext.bin.embed --model models/NAME --out embeddings.npz a.wav b.flac audio_dir/``

Directories are searched recursively for .wav/.flac files; files named directly
are read whatever their extension. Audio is mixed down to mono and resampled to
the model's rate. The numbers are those of the HEAR API (``audiotext.hear``):
the scene embedding is the mean of the timestamp embeddings.

``--out`` is an ``.npz`` file, or a directory that gets ``embeddings.npz``. The npz holds

* ``paths`` (N,): the embedded files, in input order,
* ``scene`` (N, D) float32: scene embeddings,
* with ``--frames``: ``frames`` (sum T, D) float32 and ``timestamps`` (sum T,) float32 (ms)
  of all files one after another; file i has rows ``frame_offsets[i]:frame_offsets[i+1]``.

Files that cannot be used (missing, unreadable, empty, NaN/inf samples) are skipped
and the run goes on; they are listed with their reason in ``<npz stem>_skipped.json``
beside the npz and counted at the end. Exit status: 0 when at least one file was
embedded, 1 when none was, 2 on a usage error or a model that cannot be loaded (one
``error:`` line; weights that do not fit the config name the weights file and the keys).
Only the audio side of the model is loaded (``audiotext.embedding.load_audio_model``).
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Tuple

import numpy as np

from audiotext.bin.common import add_plugin_args, load_plugins, setup_logging
from audiotext.data.audio_files import find_audio, read_audio

log = logging.getLogger("audiotext.embed")

def output_paths(out: str) -> Tuple[Path, Path]:
    path = Path(out)
    npz = path if path.suffix == ".npz" else path / "embeddings.npz"
    return npz, npz.with_name(npz.stem + "_skipped.json")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="exported model (or checkpoint) directory")
    parser.add_argument("--out", required=True, help="embeddings.npz to write, or a directory for embeddings.npz")
    parser.add_argument("--frames", action="store_true", help="also store timestamp embeddings and timestamps")
    parser.add_argument("--device", default="cpu", help="torch device for the encoder (default cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads on CPU (0: torch default)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_plugin_args(parser)
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files and/or directories")
    args = parser.parse_args(argv)
    setup_logging()
    load_plugins(args)

    import torch
    from tqdm import tqdm

    from audiotext import hear

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    files, skipped = find_audio(args.inputs)
    if not files and not skipped:
        print("error: no .wav/.flac files found in the inputs", file=sys.stderr)
        return 2
    try:
        model = hear.load_model(args.model, device=args.device)
    except (ValueError, FileNotFoundError) as err:  # ConfigError, WeightsError (naming the file)
        print(f"error: {err}", file=sys.stderr)
        return 2

    paths, scenes, frames, stamps, offsets = [], [], [], [], [0]
    seconds = 0.0
    for path in tqdm(files, desc="embed", unit="file", disable=args.no_progress, dynamic_ncols=True):
        audio, reason, detail = read_audio(path, model.sample_rate)
        if audio is None:
            skipped.append({"path": str(path), "reason": reason, "detail": detail})
            log.warning("skipping %s: %s (%s)", path, reason, detail)
            continue
        emb, ts = hear.get_timestamp_embeddings(torch.from_numpy(audio)[None].to(args.device), model)
        scenes.append(emb.mean(dim=1)[0].cpu().numpy())
        if args.frames:
            frames.append(emb[0].cpu().numpy())
            stamps.append(ts[0].cpu().numpy())
            offsets.append(offsets[-1] + emb.shape[1])
        paths.append(str(path))
        seconds += audio.size / model.sample_rate

    npz_path, skipped_path = output_paths(args.out)
    dim = model.scene_embedding_size
    arrays = {
        "paths": np.array(paths, dtype=str),
        "scene": np.stack(scenes).astype(np.float32) if scenes else np.zeros((0, dim), np.float32),
    }
    if args.frames:
        arrays["frames"] = np.concatenate(frames).astype(np.float32) if frames else np.zeros((0, dim), np.float32)
        arrays["timestamps"] = np.concatenate(stamps).astype(np.float32) if stamps else np.zeros(0, np.float32)
        arrays["frame_offsets"] = np.array(offsets, dtype=np.int64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _write_atomic(npz_path, buf.getvalue())
    by_reason = Counter(s["reason"] for s in skipped)
    report = {"model": str(args.model), "embedded": len(paths), "skipped": len(skipped),
              "skipped_by_reason": dict(sorted(by_reason.items())), "files": skipped}
    _write_atomic(skipped_path, (json.dumps(report, indent=2) + "\n").encode("utf-8"))

    print(f"embedded {len(paths)} files ({seconds / 60:.1f} min of audio) -> {npz_path}")
    if skipped:
        print(f"skipped {len(skipped)} files ({', '.join(f'{r}: {n}' for r, n in sorted(by_reason.items()))}); "
              f"listed in {skipped_path}")
    return 0 if paths else 1


if __name__ == "__main__":
    sys.exit(main())
