#!/usr/bin/env bash
# Stage 1 of CaptionStew: run the preparer of every source db.sh names, or that CaptionStew-mini
# stands in for (stage 0 built it; see db.sh), the others are skipped with a message, into ${data_dir}/corpora/<name>/cuts_<split>.jsonl.gz, and list each split's
# manifests, in db.sh's priority order, in ${data_dir}/splits/<split>.list for stage 2.
set -euo pipefail

data_dir=data
jobs=2
db=db.sh

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--data_dir DIR] [--jobs N] [--db db.sh]"
# shellcheck source=../../TEMPLATE/utils/parse_options.sh
. "$(dirname "$0")/../../TEMPLATE/utils/parse_options.sh"
case "${db}" in */*) ;; *) db="./${db}" ;; esac  # source the recipe's file, never one on PATH
# shellcheck source=../db.sh
. "${db}"

mini="${data_dir}/captionstew_mini"
prepared=()
for name in ${CAPTIONSTEW_SOURCES}; do
    var="${name^^}"
    root="${!var:-}"
    if [ -z "${root}" ] && [ "${CAPTIONSTEW_MINI}" = true ] && [[ " ${CAPTIONSTEW_MINI_SOURCES} " == *" ${name} "* ]]; then
        root="${mini}/corpora/${name}"
        [ -d "${root}" ] || { echo "[data.sh] ${name}: ${root} not found: build CaptionStew-mini first (./run.sh --stage 0)" >&2; exit 1; }
        echo "[data.sh] ${name}: ${var} is not set in ${db}; reading CaptionStew-mini's copy (${root})"
    fi
    if [ -z "${root}" ]; then
        echo "[data.sh] ${name}: ${var} is not set in ${db}; skipped"
        continue
    fi
    args=("${name}" "${root}" "${data_dir}/corpora/${name}" --jobs "${jobs}")
    audio_var="${var}_AUDIO" subsets_var="${var}_SUBSETS" conf_var="${var}_CONF"
    IFS=: read -r -a audio_dirs <<< "${!audio_var:-}"
    for dir in "${audio_dirs[@]}"; do
        if [ -n "${dir}" ]; then args+=(--audio-dir "${dir}"); fi
    done
    if [ -n "${!subsets_var:-}" ]; then args+=(--subsets "${!subsets_var}"); fi
    IFS=, read -r -a confs <<< "${!conf_var:-}"
    for item in "${confs[@]}"; do
        if [ -n "${item}" ]; then args+=(--conf "${item}"); fi
    done
    python -m audiotext.bin.prepare_corpus "${args[@]}"
    prepared+=("${name}")
done
if [ "${#prepared[@]}" -eq 0 ]; then
    echo "[data.sh] no source corpus is set in ${db}: set at least one root (docs/corpora/)." >&2
    exit 1
fi

mkdir -p "${data_dir}/splits"
for split in train valid test; do
    : > "${data_dir}/splits/${split}.list"
    for name in "${prepared[@]}"; do
        manifest="${data_dir}/corpora/${name}/cuts_${split}.jsonl.gz"
        if [ -f "${manifest}" ]; then echo "${manifest}" >> "${data_dir}/splits/${split}.list"; fi
    done
done
if [ ! -s "${data_dir}/splits/train.list" ]; then
    echo "[data.sh] no source wrote a training clip (${prepared[*]}): see ${data_dir}/corpora/*/prepare_summary.json" >&2
    exit 1
fi
echo "[data.sh] prepared: ${prepared[*]}"
