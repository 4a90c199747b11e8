#!/usr/bin/env bash
# Stage 1 of the mini recipe: synthesize the mini_stew corpus (offline, deterministic)
# and list its per-split manifests for the curation stage.
set -euo pipefail

data_dir=data
num_clips=3000
seed=0
jobs=2

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--data_dir DIR] [--num_clips N] [--seed S] [--jobs J]"
# shellcheck source=../../TEMPLATE/utils/parse_options.sh
. "$(dirname "$0")/../../TEMPLATE/utils/parse_options.sh"

corpus="${data_dir}/mini_stew"
python -m audiotext.bin.prepare_mini_stew --out "${corpus}" --num-clips "${num_clips}" --seed "${seed}" --jobs "${jobs}"
mkdir -p "${data_dir}/splits"
for split in train valid test; do
    echo "${corpus}/manifests/mini_stew_cuts_${split}.jsonl.gz" > "${data_dir}/splits/${split}.list"
done
