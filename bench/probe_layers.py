"""Which layer of the audio encoder carries what: the mean-pooled output of the front end and of
every Transformer block, linear-probed on probe tasks, for a trained model and the same
architecture at random initialisation (the evaluation suite's twin: seed 1234, same feature
normalisation).

    python bench/probe_layers.py --model-dir egs/captionstew/exp/X/checkpoints/best \
        --eval-config egs/captionstew/conf/eval.yaml --tasks spoken_language speaker instrument

Run from the directory the eval config's ``cuts_dir`` paths are relative to. Split tasks only
(train/valid/test); prints one row per layer: pretrained and random-init test accuracy.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


def layer_features(task, cuts, labels_key: str):
    """Per clip: mean over its frames of every block's output (front end first), and its label."""
    from audiotext.eval.embeddings import embed_cuts

    encoder = task.encoder
    captured = []
    hooks = [encoder.subsampling.register_forward_hook(lambda m, i, o: captured.append(o[0]))]
    hooks += [block.register_forward_hook(lambda m, i, o: captured.append(o)) for block in encoder.blocks]

    def per_clip(frames, frame_lens):
        layers = captured[-(len(encoder.blocks) + 1):]
        captured.clear()
        out = []
        for b, n in enumerate(frame_lens.tolist()):
            out.append(np.stack([layer[b, :n].float().mean(0).cpu().numpy() for layer in layers]))
        return out

    try:
        with torch.no_grad():
            emb = embed_cuts(task, cuts, with_captions=False, frame_hook=per_clip)
    finally:
        for hook in hooks:
            hook.remove()
    return np.stack(emb.extra), [lab.get(labels_key) for lab in emb.labels]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--eval-config", required=True)
    parser.add_argument("--tasks", nargs="+", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="", help="also write the table as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from lhotse import CutSet

    from audiotext.config import dataclass_from_dict, load_yaml
    from audiotext.eval.probe_models import ProbeData, run_probe
    from audiotext.eval.suite import EvalConfig
    from audiotext.experiment import build_task, load_task_from_dir

    conf = dataclass_from_dict(EvalConfig, load_yaml(args.eval_config), args.eval_config)
    specs = {spec.name: spec for spec in conf.probes}
    task, exp = load_task_from_dir(args.model_dir)
    torch.manual_seed(conf.random_init_seed)
    twin = build_task(exp)
    twin.feature_mean.copy_(task.feature_mean)
    twin.feature_std.copy_(task.feature_std)
    settings = conf.probe_settings
    table = {}
    for name in args.tasks:
        spec = specs[name]
        if spec.folds:
            print(f"{name}: k-fold tasks are not supported here", file=sys.stderr)
            continue
        root = Path(spec.cuts_dir)
        for model_name, model in (("pretrained", task), ("random_init", twin)):
            splits = {}
            for split in ("train", "valid", "test"):
                feats, labels = layer_features(model, CutSet.from_file(root / f"cuts_{split}.jsonl.gz"), spec.label)
                splits[split] = (feats, labels)
            for layer in range(splits["train"][0].shape[1]):
                data = {s: ProbeData(None, f[:, layer], labs) for s, (f, labs) in splits.items()}
                res = run_probe("linear", data["train"], data["valid"], data["test"], seed=0,
                                lr_grid=tuple(settings.lr_grid), max_epochs=settings.max_epochs or None,
                                patience=settings.patience or None)
                table.setdefault(name, {}).setdefault(layer, {})[model_name] = res["score"]
        print(f"\n{name}: layer (0 = front end), pretrained, random init")
        for layer, row in table[name].items():
            print(f"  {layer}  {row['pretrained']:.3f}  {row['random_init']:.3f}  {row['pretrained'] - row['random_init']:+.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
