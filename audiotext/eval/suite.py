"""The evaluation suite one YAML file describes: retrieval, captioning, zero-shot,
frozen-encoder probes (linear / MLP / attention pooling, k-fold, low-resource) and
label-free diagnostics, for a trained model and, in the same run, the same
architecture at random initialisation.

What runs depends on the objective: retrieval, similarity zero-shot and alignment
need a shared audio-text space (contrastive, joint); captioning metrics and
likelihood zero-shot need a decoder (captioning; joint answers zero-shot with its
contrastive head). Results use the key scheme documented in audiotext/eval/report.py.
"""
from __future__ import annotations

import logging
import time
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from audiotext.data.dataset import load_cuts
from audiotext.decoding import DecodeConfig
from audiotext.config import expand_path
from audiotext.eval import diagnostics, probe_models
from audiotext.eval.captioning import caption_results, most_frequent_caption
from audiotext.eval.embeddings import EmbeddedSet, embed_cuts, embed_texts
from audiotext.eval.probe_models import ProbeData
from audiotext.eval.probes import ProbeTask, select
from audiotext.eval.retrieval import retrieval_metrics
from audiotext.eval.zeroshot import accuracy as zeroshot_accuracy
from audiotext.eval.zeroshot import class_prompts, likelihood_scorer, predict_by_similarity

log = logging.getLogger(__name__)


@dataclass
class CaptionEvalConfig:
    enabled: bool = True  # when the objective has a decoder
    beam_size: int = 3
    max_length: int = 40
    length_penalty: float = 1.0
    meteor_jar: str = ""  # METEOR 1.5 jar; METEOR runs only with it and java present


@dataclass
class ProbeSettings:
    lr_grid: List[float] = field(default_factory=lambda: [1e-3, 3e-3, 1e-2])
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])  # subsamples of the low-resource runs
    # encoder frames averaged in groups of this many before the attention probe (memory, speed)
    frame_stride: int = 4
    max_epochs: int = 0  # 0: the probe's own default
    patience: int = 0


@dataclass
class ProbeSpec:
    """One downstream task. Data: ``cuts_dir`` (default: the --cuts-dir of the run) with
    ``train``/``valid``/``test`` CutSet files, or ``folds`` (k-fold: one file per fold)."""

    name: str
    label: str = "label"
    domain: str = ""  # only clips of this domain (custom['domain'])
    multilabel: bool = False  # scored by mAP instead of accuracy
    cuts_dir: str = ""
    train: str = ""  # default: EvalConfig.train_cuts
    valid: str = ""
    test: str = ""
    folds: List[str] = field(default_factory=list)
    # data sets without a validation split (VGGSound): hold out this share of train, stratified
    valid_from_train: float = 0.0
    kinds: List[str] = field(default_factory=lambda: ["linear"])  # linear | mlp | attention; [] = zero-shot only
    fractions: List[float] = field(default_factory=lambda: [1.0])  # shares of the training labels
    zeroshot_template: str = ""  # e.g. "This is a sound of {label}."; empty: no zero-shot


@dataclass
class EvalConfig:
    train_cuts: str = "cuts_train.jsonl.gz"  # relative to --cuts-dir
    valid_cuts: str = "cuts_valid.jsonl.gz"
    test_cuts: str = "cuts_test.jsonl.gz"
    retrieval: bool = True
    captioning: CaptionEvalConfig = field(default_factory=CaptionEvalConfig)
    diagnostics: bool = True
    random_init: bool = True  # probe the untrained architecture too
    random_init_seed: int = 1234
    probe_settings: ProbeSettings = field(default_factory=ProbeSettings)
    probes: List[ProbeSpec] = field(default_factory=list)


def _pct(fraction: float) -> str:
    return f"{100 * fraction:g}"


@dataclass
class _TaskData:
    spec: ProbeSpec
    task: ProbeTask
    files: Dict[str, Path]  # split name (train/valid/test or fold names) -> CutSet file

    @property
    def kfold(self) -> bool:
        return bool(self.spec.folds)


def resolve_tasks(conf: EvalConfig, cuts_dir: str) -> List[_TaskData]:
    """Check every task's settings and that its files exist, before any compute."""
    out = []
    names = set()
    for spec in conf.probes:
        if spec.name in names:
            raise ValueError(f"probe task {spec.name!r} is listed twice")
        names.add(spec.name)
        bad = [k for k in spec.kinds if k not in probe_models.KINDS]
        if bad:
            raise ValueError(f"probe task {spec.name}: unknown probe kind(s) {bad}; valid: {list(probe_models.KINDS)}")
        if any(not 0.0 < f <= 1.0 for f in spec.fractions):
            raise ValueError(f"probe task {spec.name}: fractions must be in (0, 1], got {spec.fractions}")
        root = expand_path(spec.cuts_dir, f"probe task {spec.name}: cuts_dir") if spec.cuts_dir else Path(cuts_dir)
        if spec.folds:
            if len(spec.folds) < 3:
                raise ValueError(f"probe task {spec.name}: k-fold needs at least 3 folds, got {len(spec.folds)}")
            files = {Path(f).name.split(".")[0]: root / f for f in spec.folds}
        else:
            files = {"train": root / (spec.train or conf.train_cuts), "test": root / (spec.test or conf.test_cuts)}
            if not 0.0 <= spec.valid_from_train < 1.0:
                raise ValueError(f"probe task {spec.name}: valid_from_train must be in [0, 1)")
            if spec.valid_from_train == 0.0:
                files["valid"] = root / (spec.valid or conf.valid_cuts)
        for path in files.values():
            if not path.is_file():
                raise FileNotFoundError(f"probe task {spec.name}: no CutSet file {path}")
        out.append(_TaskData(spec, ProbeTask(spec.name, spec.label, spec.domain or None, spec.multilabel), files))
    return out


def _at_rate(cut, rate: int):
    return cut if cut.sampling_rate == rate else cut.resample(rate)


class EmbeddingCache:
    """Each (model, CutSet file) is encoded once, whatever number of tasks use it."""

    def __init__(self, tasks: Dict[str, Any], frame_stride: int):
        self.tasks = tasks
        self.frame_stride = frame_stride
        self.sets: Dict[Tuple[str, Path], EmbeddedSet] = {}
        self.seconds = 0.0

    def get(self, model: str, path: Path, frame_hook=None, with_captions: bool = False) -> EmbeddedSet:
        key = (model, path)
        if key not in self.sets:
            start = time.time()
            rate = self.tasks[model].sample_rate
            # downstream corpora keep their own rates: resample lazily to the model's
            cuts = load_cuts(str(path), str(path)).map(partial(_at_rate, rate=rate))
            self.sets[key] = embed_cuts(self.tasks[model], cuts, with_captions=with_captions,
                                        frame_hook=frame_hook, frame_stride=self.frame_stride)
            self.seconds += time.time() - start
            log.info("embedded %s with the %s model: %d clips in %.0f s", path, model,
                     len(self.sets[key].cut_ids), time.time() - start)
        return self.sets[key]


def _probe_data(emb: EmbeddedSet, task: ProbeTask, split: str, with_frames: bool) -> Tuple[ProbeData, List[str]]:
    """The task's clips of one split, and their cut ids."""
    idx, values = select(emb.labels, task)
    if len(idx) == 0:
        raise ValueError(f"probe task {task.name}: no {split} clip has label {task.label!r}"
                         + (f" in domain {task.domain!r}" if task.domain else ""))
    frames = [emb.frames[i].astype(np.float32) for i in idx] if with_frames else None
    return ProbeData(frames, emb.pooled[idx], values), [emb.cut_ids[i] for i in idx]


def _paired_gains(name: str, correct: Dict[Tuple[str, str], Dict[str, int]], results, details) -> None:
    """pretrained minus random init on the same test clips, with a bootstrap 95% interval:
    small test sets make single accuracy differences noisy."""
    for kind in sorted({k for k, _ in correct}):
        pre, rnd = correct.get((kind, "pretrained")), correct.get((kind, "random_init"))
        if not pre or not rnd:
            continue
        ids = sorted(set(pre) & set(rnd))
        if len(ids) != len(pre) or len(ids) != len(rnd):
            raise RuntimeError(f"probe {name}.{kind}: the two models were scored on different test clips")
        boot = probe_models.paired_bootstrap([pre[i] for i in ids], [rnd[i] for i in ids])
        for stat in ("gain", "ci95_low", "ci95_high"):
            results[f"probe.{name}.{kind}.{stat}"] = boot[stat]
        details[f"probe.{name}.{kind}.gain"] = boot


def _run_probes(tasks, models, cache, pretrained_set, probe_kwargs, settings, results, details) -> None:
    """Every probe of every task on every model; fills ``results`` and ``details``."""
    for t in tasks:
        if not t.spec.kinds:
            continue
        correct: Dict[Tuple[str, str], Dict[str, int]] = {}  # (kind, model) -> test cut id -> 0/1
        for model in models:
            with_frames = "attention" in t.spec.kinds
            get = pretrained_set if model == "pretrained" else (lambda p, m=model: cache.get(m, p))
            loaded = {name: _probe_data(get(path), t.task, name, with_frames) for name, path in t.files.items()}
            splits = {name: data for name, (data, _) in loaded.items()}
            if "valid" not in splits and not t.kfold:
                held = probe_models.subsample_indices(splits["train"].labels, t.spec.valid_from_train, seed=0,
                                                      multilabel=t.spec.multilabel)
                rest = np.setdiff1d(np.arange(len(splits["train"])), held)
                splits["valid"], splits["train"] = splits["train"].take(held), splits["train"].take(rest)
            for kind in t.spec.kinds:
                kwargs = dict(probe_kwargs, frame_stride=1)  # frames were already averaged when cached
                key = f"probe.{t.spec.name}.{kind}.{model}"
                if t.kfold:
                    res = probe_models.run_kfold(kind, list(splits.values()), multilabel=t.spec.multilabel, **kwargs)
                    results[key] = res["mean"]
                    details[key] = {"mean": res["mean"], "std": res["std"], "scores": res["scores"],
                                    "metric": res["metric"]}
                    # each clip is tested in exactly one fold: the folds' test outcomes pool into one
                    # paired comparison over every clip of the task
                    pooled = {}
                    for fold_result, (_, fold_ids) in zip(res["folds"], loaded.values()):
                        if fold_result["test_correct"] is None:
                            pooled = None
                            break
                        pooled.update(zip(fold_ids, fold_result["test_correct"]))
                    if pooled:
                        correct[(kind, model)] = pooled
                else:
                    res = probe_models.run_probe(kind, splits["train"], splits["valid"], splits["test"],
                                                 multilabel=t.spec.multilabel, seed=0, **kwargs)
                    results[key] = res["score"]
                    details[key] = {k: res[k] for k in ("score", "metric", "valid_score", "lr", "epochs",
                                                        "num_train", "num_test", "num_classes")}
                    if res["test_correct"] is not None:
                        correct[(kind, model)] = dict(zip(loaded["test"][1], res["test_correct"]))
                    low = [f for f in t.spec.fractions if f < 1.0]
                    if low:
                        curve = probe_models.run_low_resource(
                            kind, splits["train"], splits["valid"], splits["test"], fractions=low,
                            seeds=tuple(settings.seeds), multilabel=t.spec.multilabel, **kwargs)
                        for fraction, point in curve.items():
                            results[f"lowres.{t.spec.name}.{kind}.{_pct(fraction)}.{model}"] = point["mean"]
                            details[f"lowres.{t.spec.name}.{kind}.{_pct(fraction)}.{model}"] = point
                        results[f"lowres.{t.spec.name}.{kind}.100.{model}"] = res["score"]
                if kind == "linear":
                    results[f"probe.{t.spec.name}.{model}"] = results[key]
            log.info("probes %s (%s): %s", t.spec.name, model, ", ".join(
                f"{k} {results[f'probe.{t.spec.name}.{k}.{model}']:.3f}" for k in t.spec.kinds))
        _paired_gains(t.spec.name, correct, results, details)
        gains = [k for k in t.spec.kinds if f"probe.{t.spec.name}.{k}.gain" in results]
        if gains:
            log.info("probes %s, pretrained minus random init [95%% CI]: %s", t.spec.name, ", ".join(
                "{} {:+.3f} [{:+.3f}, {:+.3f}]".format(k, *(results[f"probe.{t.spec.name}.{k}.{s}"]
                                                        for s in ("gain", "ci95_low", "ci95_high")))
                for k in gains))


def run_suite(task, conf: EvalConfig, cuts_dir: str, random_task_factory: Optional[Callable[[], Any]] = None
              ) -> Tuple[Dict[str, float], Dict[str, Any]]:
    """Evaluate ``task`` (a task, or an :class:`~audiotext.embedding.AudioModel` for probes and
    diagnostics only); ``random_task_factory()`` gives the random-init baseline (any
    :class:`~audiotext.embedding.AudioEmbedding`). Returns (results: flat metric -> number, details)."""
    start = time.time()
    tasks = resolve_tasks(conf, cuts_dir)
    main_files = {s: Path(cuts_dir) / getattr(conf, f"{s}_cuts") for s in ("train", "valid", "test")}
    objective = getattr(task, "objective", None)  # None: the audio side alone (load_audio_model)
    has_space = objective is not None and objective.has("retrieval")
    can_caption = conf.captioning.enabled and objective is not None and objective.has("generation")
    # the pretraining corpus' own test split: retrieval, captioning, diagnostics
    use_main_test = (conf.retrieval and has_space) or can_caption or conf.diagnostics
    needed = ["test"] * use_main_test + ["train"] * can_caption
    for split in needed:
        if not main_files[split].is_file():
            raise FileNotFoundError(f"no {split} CutSet {main_files[split]} (needed for retrieval, captioning "
                                    "or diagnostics; switch those off to run only downstream tasks)")
    use_likelihood = objective is not None and objective.has("generation") and not has_space
    needs_frames = any("attention" in t.spec.kinds for t in tasks)
    models = {"pretrained": task}
    if conf.random_init and random_task_factory is not None and any(t.spec.kinds for t in tasks):
        models["random_init"] = random_task_factory()
    cache = EmbeddingCache(models, conf.probe_settings.frame_stride if needs_frames else 0)
    results: Dict[str, float] = {}
    details: Dict[str, Any] = {}

    # zero-shot classes come from the training labels (all folds for k-fold tasks)
    zeroshot: Dict[str, Tuple[List[str], List[str]]] = {}
    for t in tasks:
        if not t.spec.zeroshot_template or not (has_space or use_likelihood):
            continue
        train_files = list(t.files.values()) if t.kfold else [t.files["train"]]
        names = set()
        for path in train_files:
            labels = [dict(c.supervisions[0].custom or {}) if c.supervisions else {}
                      for c in load_cuts(str(path), str(path))]
            for value in select(labels, t.task)[1]:
                names.update(value if isinstance(value, list) else [value])
        if not names:
            raise ValueError(f"zero-shot task {t.spec.name}: no training clip has label {t.spec.label!r}")
        zeroshot[t.spec.name] = (sorted(names), class_prompts(sorted(names), t.spec.zeroshot_template))

    def eval_files(t: _TaskData) -> List[Path]:
        return list(t.files.values()) if t.kfold else [t.files["test"]]

    # the pretrained model's pass over each evaluation file also captions and scores prompts
    decode_conf = DecodeConfig(conf.captioning.beam_size, conf.captioning.max_length, conf.captioning.length_penalty)

    def hook_for(path: Path):
        prompts: List[str] = []
        for t in tasks:
            if t.spec.name in zeroshot and path in eval_files(t):
                hook_offsets[(path, t.spec.name)] = len(prompts)
                prompts.extend(zeroshot[t.spec.name][1])
        scorer = likelihood_scorer(task, prompts) if (use_likelihood and prompts) else None
        caption = can_caption and path == main_files["test"]
        if scorer is None and not caption:
            return None, []

        def per_clip(frames, frame_lens):
            out = [{} for _ in range(frames.shape[0])]
            if caption:
                for item, ids in zip(out, objective.generate(frames, frame_lens, decode_conf)):
                    item["caption"] = task.tokenizer.decode(ids)
            if scorer is not None:
                for item, scores in zip(out, scorer(frames, frame_lens)):
                    item["prompt_scores"] = scores
            return out

        return per_clip, prompts

    hook_offsets: Dict[Tuple[Path, str], int] = {}  # where a task's prompts start in a file's scores

    def pretrained_set(path: Path) -> EmbeddedSet:
        if ("pretrained", path) not in cache.sets:
            hook, _ = hook_for(path)
            cache.get("pretrained", path, hook, with_captions=(path == main_files["test"]))
        return cache.sets[("pretrained", path)]

    test = pretrained_set(main_files["test"]) if use_main_test else None
    if test is not None:
        details["skipped_test_audio"] = test.skipped
    if conf.retrieval and has_space:
        texts, caption_clip = [], []
        for clip, caps in enumerate(test.captions):
            texts.extend(caps)
            caption_clip.extend([clip] * len(caps))
        results.update(retrieval_metrics(test.audio, embed_texts(task, texts), caption_clip))
        log.info("retrieval: t2a R@1 %.3f (chance %.4f), a2t R@1 %.3f", results["retrieval.t2a.R@1"],
                 results["retrieval.chance.R@1"], results["retrieval.a2t.R@1"])
    if can_caption:
        generated = [item["caption"] for item in test.extra]
        train_cuts = load_cuts(str(main_files["train"]), "train_cuts")
        results.update(caption_results(generated, test.captions, most_frequent_caption(train_cuts),
                                       conf.captioning.meteor_jar or None))
        details["captions"] = {cid: {"generated": g, "references": refs}
                               for cid, g, refs in zip(test.cut_ids, generated, test.captions)}
        log.info("captioning: CIDEr-D %.3f (most-frequent-caption baseline %.3f), BLEU-4 %.3f",
                 results["caption.cider_d"], results["caption.baseline.cider_d"], results["caption.bleu_4"])

    for t in tasks:  # zero-shot
        if t.spec.name not in zeroshot:
            continue
        names, prompts = zeroshot[t.spec.name]
        preds, truth = [], []
        for path in eval_files(t):
            emb = pretrained_set(path)
            idx, values = select(emb.labels, t.task)
            if has_space:
                pred = predict_by_similarity(emb.audio[idx], embed_texts(task, prompts))
            else:
                offset = hook_offsets[(path, t.spec.name)]
                pred = np.stack([emb.extra[i]["prompt_scores"][offset:offset + len(prompts)] for i in idx]).argmax(-1)
            preds.extend(pred.tolist())
            truth.extend(values)
        if t.spec.multilabel:  # a hit when the top class is one of the clip's labels
            score = float(np.mean([names[p] in v for p, v in zip(preds, truth)]))
        else:
            score = zeroshot_accuracy(np.asarray(preds), truth, names)
        results[f"zeroshot.{t.spec.name}"] = score
        log.info("zero-shot %s: %.3f (chance %.3f)", t.spec.name, score, 1 / len(names))

    settings = conf.probe_settings
    probe_kwargs: Dict[str, Any] = {"lr_grid": tuple(settings.lr_grid)}
    if settings.max_epochs:
        probe_kwargs["max_epochs"] = settings.max_epochs
    if settings.patience:
        probe_kwargs["patience"] = settings.patience
    probe_start = time.time()
    # probes are many small ops: one thread beats several (measured 5-40x on 2 busy cores)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _run_probes(tasks, models, cache, pretrained_set, probe_kwargs, settings, results, details)
    finally:
        torch.set_num_threads(threads)
    details["probe_seconds"] = round(time.time() - probe_start, 1)

    if conf.diagnostics and test is not None:
        for model in models:
            emb = pretrained_set(main_files["test"]) if model == "pretrained" else cache.get(model, main_files["test"])
            pooled = emb.pooled / np.linalg.norm(emb.pooled, axis=1, keepdims=True).clip(min=1e-12)
            results[f"diag.{model}.rankme"] = diagnostics.rankme(emb.pooled)
            results[f"diag.{model}.uniformity"] = diagnostics.uniformity(pooled)
        if has_space:  # audio vs its first caption in the shared space
            first = embed_texts(task, [caps[0] for caps in test.captions])
            results["diag.alignment"] = diagnostics.alignment(test.audio, first)
            results["diag.uniformity_shared_space"] = diagnostics.uniformity(test.audio)
    details["embedding_seconds"] = round(cache.seconds, 1)
    details["wall_seconds"] = round(time.time() - start, 1)
    return results, details
