"""Caption audio files with a trained captioning (or joint) model.

``python -m audiotext.caption --model EXP/checkpoints/best a.wav b.flac dir/ [--beam 3]``

Prints one ``path<TAB>caption`` line per file, in input order (and writes them as
JSON lines with ``--out``). Unusable files are skipped with their reason on stderr
and the run goes on; exit status 0 when at least one file was captioned, 1 when
none was, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import List

import torch

from audiotext.bin.common import add_plugin_args, load_plugins, setup_logging
from audiotext.data.audio_checks import sample_problem, unusable_inputs_error
from audiotext.data.audio_files import find_audio, read_audio
from audiotext.decoding import DecodeConfig

log = logging.getLogger("audiotext.caption")


@torch.no_grad()
def caption_waveforms(task, waveforms: List, decode_conf: DecodeConfig) -> List[str]:
    """Mono float32 arrays at the model's rate, values in [-1, 1] -> one caption each (batched together).

    A waveform shorter than the encoder's minimum input is padded with silence up to it
    (``task.encode_waveforms``). Raises ValueError naming the waveforms that hold NaN/inf samples
    or samples far beyond full scale (``audio_checks.MAX_ABS_SAMPLE``), and when the objective
    lacks the ``generation`` capability.
    """
    task.objective.require("generation", "captioning")
    problems = {i: p for i, p in enumerate(sample_problem(w) for w in waveforms) if p}
    if problems:
        raise unusable_inputs_error(problems, "waveforms")
    frames, frame_lens = task.encode_waveforms(waveforms)
    return [task.tokenizer.decode(ids) for ids in task.objective.generate(frames, frame_lens, decode_conf)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="checkpoint or exported model directory")
    parser.add_argument("inputs", nargs="+", help="audio files or directories (searched for .wav/.flac)")
    parser.add_argument("--beam", type=int, default=3, help="beam size (1: greedy)")
    parser.add_argument("--max-length", type=int, default=40, help="most tokens to generate")
    parser.add_argument("--length-penalty", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", help="also write JSON lines {path, caption} here")
    add_plugin_args(parser)
    args = parser.parse_args(argv)
    setup_logging()
    load_plugins(args)
    from audiotext.experiment import load_task_from_dir

    try:
        task, _ = load_task_from_dir(args.model)
        conf = DecodeConfig(beam_size=args.beam, max_length=args.max_length, length_penalty=args.length_penalty)
        if conf.beam_size < 1:
            raise ValueError(f"--beam must be >= 1, got {conf.beam_size}")
        if not hasattr(task, "objective"):
            raise ValueError(f"{args.model}: its task has no objective, so no text decoder to caption with")
        task.objective.require("generation", f"captioning with {args.model}")
    except (FileNotFoundError, ValueError) as err:  # ConfigError and WeightsError are ValueErrors
        print(f"error: {err}", file=sys.stderr)
        return 2
    task.eval()
    files, missing = find_audio(args.inputs)
    for item in missing:
        log.warning("skipping %s: %s", item["path"], item["reason"])
    rate = task.sample_rate
    done: List[dict] = []
    batch = []

    def flush():
        if batch:
            for (path, _), text in zip(batch, caption_waveforms(task, [w for _, w in batch], conf)):
                done.append({"path": str(path), "caption": text})
                print(f"{path}\t{text}", flush=True)
            batch.clear()

    for path in files:
        audio, reason, detail = read_audio(path, rate)
        if audio is None:
            log.warning("skipping %s: %s (%s)", path, reason, detail)
            continue
        batch.append((path, audio))
        if len(batch) >= args.batch_size:
            flush()
    flush()
    if args.out:
        Path(args.out).write_text("".join(json.dumps(d) + "\n" for d in done))
    skipped = len(files) - len(done) + len(missing)
    if skipped:
        log.warning("%d of %d inputs skipped", skipped, len(files) + len(missing))
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
