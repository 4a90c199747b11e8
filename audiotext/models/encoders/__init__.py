"""Audio encoders: fbank (batch, frames, mels) -> hidden frames (batch, frames', dim)."""
from audiotext.models.encoders.base import ENCODERS, AudioEncoder, register_encoder  # noqa: F401
from audiotext.models.encoders import transformer  # noqa: F401  (registers "transformer")
from audiotext.models.encoders import zipformer  # noqa: F401  (registers "zipformer")
