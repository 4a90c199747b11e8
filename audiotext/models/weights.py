"""Whether a component being built should read pretrained weights of its own.

A component that starts from weights outside the model (the ``pretrained_bert`` text
encoder reads a BERT checkpoint directory) needs them when a new run builds it. When
a trained model is loaded, the model's own weight file holds those tensors too and
is loaded right after building, so reading them twice is wasted work, and a
dependency on where they first came from (an installed package) that an exported
model must not have. Loaders build inside :func:`state_dict_follows`; components ask
:func:`state_dict_will_follow`.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Iterator

_FOLLOWS = contextvars.ContextVar("audiotext_state_dict_follows", default=False)


@contextmanager
def state_dict_follows() -> Iterator[None]:
    """Within this block, components skip reading pretrained weights: the caller loads a full
    state dict (strictly) into what it builds."""
    token = _FOLLOWS.set(True)
    try:
        yield
    finally:
        _FOLLOWS.reset(token)


def state_dict_will_follow() -> bool:
    """True inside :func:`state_dict_follows`."""
    return _FOLLOWS.get()
