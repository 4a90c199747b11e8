#!/usr/bin/env bash
# Downstream data sets for conf/eval_downstream.yaml: each found under ${downstream_root}/<name> in its
# official layout is read into ${out_dir}/<name>/cuts_*.jsonl.gz (resampled lazily to 16 kHz).
#   local/prepare_downstream.sh --downstream_root /corpora [--names "esc50 gtzan"]
set -euo pipefail

downstream_root=""
out_dir=data/downstream
names="esc50 urbansound8k fsd50k vggsound voxceleb1 crema_d speech_commands nsynth gtzan mtat"
jobs=4
sampling_rate=16000

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 --downstream_root DIR [--out_dir DIR] [--names \"esc50 ...\"] [--jobs N]"
# shellcheck source=../../TEMPLATE/utils/parse_options.sh
. "$(dirname "$0")/../../TEMPLATE/utils/parse_options.sh"
# shellcheck source=../../TEMPLATE/path.sh
. "$(dirname "$0")/../../TEMPLATE/path.sh"

[ -n "${downstream_root}" ] || { echo "${help_message}" >&2; exit 2; }
for name in ${names}; do
    if [ ! -d "${downstream_root}/${name}" ]; then
        echo "skipping ${name}: no ${downstream_root}/${name}" >&2
        continue
    fi
    python -m audiotext.bin.prepare_downstream "${name}" "${downstream_root}/${name}" "${out_dir}/${name}" \
        --jobs "${jobs}" --sampling-rate "${sampling_rate}"
done
