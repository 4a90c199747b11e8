#!/usr/bin/env bash
# CaptionStew: the multi-corpus recipe (the published corpus: ~10.7M captions on ~9.3M clips), and
# evaluation of any audio encoder on the real downstream data sets listed in conf/eval.yaml.
#   set the corpus roots in db.sh (docs/corpora/ has a page per source), then
#   local/prepare_downstream.sh --downstream_root /corpora    downstream CutSets (before stage 2:
#                                                             curation keeps them out of training)
#   ./run.sh --stop_stage 3                                   prepare every source, curate the stew, tokenizer
#   ./run.sh --stage 4 --train_config ../mini_stew/conf/train_joint.yaml --nproc_per_node 8
#                                                             train (this recipe has no train configs of its own yet)
#   ./run.sh --stage 5 --eval_model ../mini_stew/exp/mini_stew_contrastive/checkpoints/best \
#       --eval_dir exp/eval_mini_contrastive
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../TEMPLATE/path.sh
. ../TEMPLATE/path.sh

../TEMPLATE/pretrain.sh --vocab_size 5000 "$@"
