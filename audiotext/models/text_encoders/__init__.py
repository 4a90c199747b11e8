"""Text encoders: token ids (batch, length) -> hidden states (batch, length, dim)."""
from audiotext.models.text_encoders.base import TEXT_ENCODERS, TextEncoder, register_text_encoder  # noqa: F401
from audiotext.models.text_encoders import transformer  # noqa: F401  (registers "transformer")
from audiotext.models.text_encoders import pretrained_bert  # noqa: F401  (registers "pretrained_bert")
