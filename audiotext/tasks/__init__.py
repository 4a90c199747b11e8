"""Tasks own the model pieces and the objective and answer forward(batch) -> (loss, report)."""
from audiotext.tasks.base import TASKS, Task, register_task  # noqa: F401
from audiotext.tasks import pretrain, tagging  # noqa: F401  (register "pretrain", "tagging")
