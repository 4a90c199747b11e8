"""CaptionStew-mini: a small multi-domain caption corpus in the official layouts of six sources, built offline.

Deterministic from a seed and written as Lhotse manifests plus 16 kHz mono WAV files.
Needs the Debian packages espeak-ng, fluidsynth, timgm6mb-soundfont and sonic-pi-samples
(tools/install.sh installs them).
"""
from .build import build
from .common import MissingToolError, check_tools

__all__ = ["build", "check_tools", "MissingToolError"]
