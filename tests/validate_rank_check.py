"""One rank of tests/test_validation_metrics.py's two-rank validation: the tagging task with the
test's fixed scores (by clip length), trained one step and validated through the real trainer.
Usage (under torchrun): validate_rank_check.py CONFIG EXP_DIR"""
import sys

import torch

from audiotext.bin import train as train_cli
from audiotext.data.features import fbank_frames
from audiotext.tasks.tagging import AudioTaggingTask

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from test_validation_metrics import DURATIONS, SCORES  # noqa: E402


def fixed_logits(self, features, feature_lens):
    table = torch.logit(torch.tensor(SCORES, dtype=torch.float32))
    frames = {fbank_frames(int(d * 16000), self.fbank.conf): i for i, d in enumerate(DURATIONS)}
    rows = torch.stack([table[frames[int(n)]] for n in feature_lens])
    return rows + 0.0 * self.head.bias.sum()  # a path to a parameter, so the training step runs


if __name__ == "__main__":
    AudioTaggingTask.logits = fixed_logits
    sys.exit(train_cli.main(["--config", sys.argv[1], "--exp-dir", sys.argv[2]]))
