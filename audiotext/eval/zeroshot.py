"""Zero-shot classification from class names, for both kinds of objective.

- Contrastive: embed one prompt per class ("This is a sound of {class}.") and pick
  the class whose prompt is nearest the clip's audio embedding (CLAP).
- Captioning: score each class prompt by the decoder's log-likelihood given the
  clip's audio and pick the most likely (CapPa, Pengi).
"""
from __future__ import annotations

from typing import Callable, List, Sequence

import numpy as np
import torch

from audiotext.data.dataset import tokenize

DEFAULT_TEMPLATE = "This is a sound of {label}."


def class_prompts(class_names: Sequence[str], template: str = DEFAULT_TEMPLATE) -> List[str]:
    if "{label}" not in template:
        raise ValueError(f"zero-shot template {template!r} has no {{label}} placeholder")
    return [template.format(label=name.replace("_", " ")) for name in class_names]


def predict_by_similarity(audio: np.ndarray, prompt_embeddings: np.ndarray) -> np.ndarray:
    """(N, E) audio and (C, E) prompt embeddings, both L2-normalised -> class index per clip."""
    return (audio @ prompt_embeddings.T).argmax(-1)


def likelihood_scorer(task, prompts: Sequence[str]) -> Callable[[torch.Tensor, torch.Tensor], List[np.ndarray]]:
    """A frame hook for ``embed_cuts``: per clip, the log-likelihood of every prompt (C,)."""
    task.objective.require("generation", "likelihood zero-shot")
    max_tokens = task.objective.max_length + 1
    tokens_once, lens_once = tokenize(task.tokenizer, [task.normalize_caption(p) for p in prompts], max_tokens)

    def score(frames: torch.Tensor, frame_lens: torch.Tensor) -> List[np.ndarray]:
        num_clips, num_classes = frames.shape[0], len(prompts)
        tokens = tokens_once.to(frames.device).repeat(num_clips, 1)
        token_lens = lens_once.to(frames.device).repeat(num_clips)
        rows = torch.arange(num_clips, device=frames.device).repeat_interleave(num_classes)
        ll = task.objective.sequence_log_likelihood(frames[rows], frame_lens[rows], tokens, token_lens)
        return list(ll.view(num_clips, num_classes).float().cpu().numpy())

    return score


def accuracy(predicted: np.ndarray, labels: Sequence[str], class_names: Sequence[str]) -> float:
    names = np.asarray(class_names)
    return float((names[np.asarray(predicted)] == np.asarray(labels)).mean()) if len(labels) else float("nan")
