#!/usr/bin/env bash
# The mini recipe: a small multi-domain corpus built offline (speech, music, sound),
# a contrastive (CLAP-style) audio encoder trained on it, retrieval + probes.
#   ./run.sh                      all stages
#   ./run.sh --stage 3            from the tokenizer on
#   ./run.sh --objective contrastive --train_args "trainer.max_steps=200"
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../TEMPLATE/path.sh
. ../TEMPLATE/path.sh

../TEMPLATE/pretrain.sh --vocab_size 600 "$@"
