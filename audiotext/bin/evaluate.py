"""Evaluate a trained checkpoint: retrieval, captioning and zero-shot on the test split,
and frozen-encoder linear probes.

``python -m audiotext.bin.evaluate --model-dir EXP/checkpoints/best --cuts-dir data/manifests
--eval-config conf/eval.yaml --out EXP/results.json``

Each probe runs on the trained encoder and, in the same run, on the same
architecture at random initialisation, so the two numbers compare directly.
What runs depends on the objective: retrieval and similarity zero-shot need a
shared audio-text space (contrastive, joint); captioning metrics and
likelihood zero-shot need a decoder (captioning, joint).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch

from audiotext.bin.common import add_plugin_args, load_plugins, setup_logging
from audiotext.config import ConfigError, dataclass_from_dict, load_yaml

log = logging.getLogger("audiotext.evaluate")


@dataclass
class ProbeSpec:
    name: str
    label: str
    domain: str = ""
    kinds: List[str] = field(default_factory=lambda: ["linear"])  # probes to train; [] = zero-shot only
    # zero-shot prompt, e.g. "This is a sound of {label}."; empty: no zero-shot for this task
    zeroshot_template: str = ""


@dataclass
class CaptionEvalConfig:
    enabled: bool = True  # when the objective has a decoder
    beam_size: int = 3
    max_length: int = 40
    length_penalty: float = 1.0
    meteor_jar: str = ""  # METEOR 1.5 jar; METEOR runs only with it and java present


@dataclass
class EvalConfig:
    train_cuts: str = "cuts_train.jsonl.gz"  # relative to --cuts-dir
    valid_cuts: str = "cuts_valid.jsonl.gz"
    test_cuts: str = "cuts_test.jsonl.gz"
    retrieval: bool = True
    captioning: CaptionEvalConfig = field(default_factory=CaptionEvalConfig)
    probes: List[ProbeSpec] = field(default_factory=list)
    random_init_seed: int = 1234


def zeroshot_tasks(probes: List[ProbeSpec], train_cuts) -> Dict[str, Tuple[List[str], str]]:
    """Probe tasks with a zero-shot template -> (class names from the training labels, template)."""
    from audiotext.eval.probes import ProbeTask, select

    wanted = [p for p in probes if p.zeroshot_template]
    if not wanted:
        return {}
    labels = [dict(c.supervisions[0].custom or {}) if c.supervisions else {} for c in train_cuts]
    out = {}
    for spec in wanted:
        _, values = select(labels, ProbeTask(spec.name, spec.label, spec.domain or None))
        if not values:
            raise ValueError(f"zero-shot task {spec.name}: no training clip has label {spec.label!r}")
        out[spec.name] = (sorted(set(values)), spec.zeroshot_template)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True, help="checkpoint directory (config.yaml + model.safetensors)")
    parser.add_argument("--cuts-dir", required=True, help="directory holding the train/valid/test CutSets")
    parser.add_argument("--eval-config", required=True, help="YAML with retrieval/probe settings")
    parser.add_argument("--out", required=True, help="results.json to write (flat metric -> number)")
    parser.add_argument("--threads", type=int, default=0)
    add_plugin_args(parser)
    args = parser.parse_args(argv)
    setup_logging()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    load_plugins(args)

    from audiotext.data.dataset import load_cuts
    from audiotext.decoding import DecodeConfig
    from audiotext.eval.captioning import caption_results, most_frequent_caption
    from audiotext.eval.zeroshot import accuracy as zeroshot_accuracy
    from audiotext.eval.zeroshot import class_prompts, likelihood_scorer, predict_by_similarity
    from audiotext.eval.embeddings import embed_cuts, embed_texts
    from audiotext.eval.probes import ProbeTask, run_probe, select
    from audiotext.eval.retrieval import retrieval_metrics
    from audiotext.experiment import build_task, load_task_from_dir

    try:
        conf = dataclass_from_dict(EvalConfig, load_yaml(args.eval_config), args.eval_config)
        cuts = {split: load_cuts(str(Path(args.cuts_dir) / getattr(conf, f"{split}_cuts")), f"{split}_cuts")
                for split in ("train", "valid", "test")}
        zeroshot = zeroshot_tasks(conf.probes, cuts["train"])
    except (ConfigError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    start = time.time()
    task, exp = load_task_from_dir(args.model_dir)
    results = {}
    details = {"model_dir": str(args.model_dir)}

    objective = task.objective
    can_caption = conf.captioning.enabled and hasattr(objective, "generate")
    prompts = [p for names, template in zeroshot.values() for p in class_prompts(names, template)]
    use_likelihood = bool(prompts) and hasattr(objective, "sequence_log_likelihood") \
        and not hasattr(objective, "embed_audio")  # joint: the contrastive head answers zero-shot
    decode_conf = DecodeConfig(beam_size=conf.captioning.beam_size, max_length=conf.captioning.max_length,
                               length_penalty=conf.captioning.length_penalty)
    scorer = likelihood_scorer(task, prompts) if use_likelihood else None

    def per_clip(frames, frame_lens):
        out = [{} for _ in range(frames.shape[0])]
        if can_caption:
            for item, ids in zip(out, objective.generate(frames, frame_lens, decode_conf)):
                item["caption"] = task.tokenizer.decode(ids)
        if scorer is not None:
            for item, scores in zip(out, scorer(frames, frame_lens)):
                item["prompt_scores"] = scores
        return out

    test = embed_cuts(task, cuts["test"], frame_hook=per_clip if (can_caption or scorer) else None)
    details["skipped_test_audio"] = test.skipped
    if conf.retrieval:
        if test.audio is None:
            log.warning("objective %s has no shared audio-text space: no retrieval", exp.objective)
        else:
            texts, caption_clip = [], []
            for clip, caps in enumerate(test.captions):
                texts.extend(caps)
                caption_clip.extend([clip] * len(caps))
            results.update(retrieval_metrics(test.audio, embed_texts(task, texts), caption_clip))
            log.info("retrieval: t2a R@1 %.3f (chance %.4f), a2t R@1 %.3f", results["retrieval.t2a.R@1"],
                     results["retrieval.chance.R@1"], results["retrieval.a2t.R@1"])
    if can_caption:
        generated = [item["caption"] for item in test.extra]
        results.update(caption_results(generated, test.captions, most_frequent_caption(cuts["train"]),
                                       conf.captioning.meteor_jar or None))
        details["captions"] = {cid: {"generated": g, "references": refs}
                               for cid, g, refs in zip(test.cut_ids, generated, test.captions)}
        log.info("captioning: CIDEr-D %.3f (most-frequent-caption baseline %.3f), BLEU-4 %.3f",
                 results["caption.cider_d"], results["caption.baseline.cider_d"], results["caption.bleu_4"])
    if zeroshot and (test.audio is not None or scorer is not None):
        if test.audio is not None:
            prompt_emb = embed_texts(task, prompts)
        offset = 0
        for spec in conf.probes:
            if spec.name not in zeroshot:
                continue
            names, template = zeroshot[spec.name]
            idx, values = select(test.labels, ProbeTask(spec.name, spec.label, spec.domain or None))
            cols = slice(offset, offset + len(names))
            offset += len(names)
            if test.audio is not None:
                pred = predict_by_similarity(test.audio[idx], prompt_emb[cols])
            else:
                pred = np.stack([test.extra[i]["prompt_scores"][cols] for i in idx]).argmax(-1)
            results[f"zeroshot.{spec.name}"] = zeroshot_accuracy(pred, values, names)
            log.info("zero-shot %s: %.3f (chance %.3f)", spec.name, results[f"zeroshot.{spec.name}"], 1 / len(names))

    probed = [spec for spec in conf.probes if spec.kinds]
    if probed:
        torch.manual_seed(conf.random_init_seed)
        random_task = build_task(exp)  # same architecture, untrained
        random_task.feature_mean.copy_(task.feature_mean)  # same input normalisation for a fair baseline
        random_task.feature_std.copy_(task.feature_std)
        sets = {"pretrained": {"test": test}, "random_init": {}}
        for split in ("train", "valid"):
            sets["pretrained"][split] = embed_cuts(task, cuts[split], with_captions=False)
        for split in ("train", "valid", "test"):
            sets["random_init"][split] = embed_cuts(random_task, cuts[split], with_captions=False)
        for spec in probed:
            probe = ProbeTask(spec.name, spec.label, spec.domain or None)
            for model_name, parts in sets.items():
                data = {}
                for split, emb in parts.items():
                    idx, values = select(emb.labels, probe)
                    if len(idx) == 0:
                        raise ValueError(f"probe {spec.name}: no {split} clip has label {spec.label!r}"
                                         + (f" in domain {spec.domain!r}" if spec.domain else ""))
                    data[split] = (emb.pooled[idx], values)
                scores = run_probe(data["train"], data["valid"], data["test"])
                results[f"probe.{spec.name}.{model_name}"] = scores["accuracy"]
                details[f"probe.{spec.name}.{model_name}"] = scores
            log.info("probe %s: pretrained %.3f, random init %.3f", spec.name,
                     results[f"probe.{spec.name}.pretrained"], results[f"probe.{spec.name}.random_init"])
    details["wall_seconds"] = round(time.time() - start, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    out.with_name(out.stem + "_details.json").write_text(json.dumps(details, indent=2, sort_keys=True) + "\n")
    log.info("wrote %s (%d metrics) in %.0f s", out, len(results), details["wall_seconds"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
