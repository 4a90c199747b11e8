#!/usr/bin/env bash
# CaptionStew: the full multi-corpus recipe (~10.7M captions), and evaluation of any audio
# encoder on the real downstream data sets listed in conf/eval.yaml.
#   ./run.sh --stage 4 --objective joint --nproc_per_node 8     train (needs stages 1-3)
#   local/prepare_downstream.sh --downstream_root /corpora       downstream CutSets
#   ./run.sh --stage 5 --eval_model ../mini_stew/exp/mini_stew_contrastive/checkpoints/best \
#       --eval_dir exp/eval_mini_contrastive
# Stage 1 (corpus preparation, local/data.sh) is not implemented yet: see docs/recipes.md.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../TEMPLATE/path.sh
. ../TEMPLATE/path.sh

../TEMPLATE/pretrain.sh --vocab_size 5000 "$@"
