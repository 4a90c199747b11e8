"""Training objectives on top of the audio encoder, registered by name."""
from audiotext.objectives.base import OBJECTIVES, Objective, ObjectiveContext, register_objective  # noqa: F401
from audiotext.objectives import contrastive, captioning, joint  # noqa: F401  (register their names)
