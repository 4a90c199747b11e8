"""Model pieces: audio encoders, text encoders, pooling, attention dispatch."""
from audiotext.models.encoders import ENCODERS, AudioEncoder, register_encoder  # noqa: F401
from audiotext.models.pooling import POOLINGS, Pooling, register_pooling  # noqa: F401
from audiotext.models.text_encoders import TEXT_ENCODERS, TextEncoder, register_text_encoder  # noqa: F401
