#!/usr/bin/env bash
# The supervised initialisation of CaptionStew: an AudioSet tagger (task: tagging, multi-label BCE,
# mAP on the AudioSet eval segments) with the pretraining encoder, whose encoder then starts a
# pretraining run: ./run.sh --init exp/captionstew_tagger/checkpoints/best.
# AudioSet is read from db.sh's AUDIOSET root (Google's segment CSVs, class_labels_indices.csv and
# the downloaded clips; docs/corpora/audioset.md) or, when that is empty, from CaptionStew-mini's
# AudioSet files (stage 0 writes them, labelled from what the builder knows of each clip).
# Run from the recipe folder after stages 0-3:   local/train_tagger.sh [--train_args "..."]
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir=data
exp_root=exp
exp_tag=captionstew_tagger
train_config=conf/train_tagging.yaml
train_args=""
force=false
db=db.sh

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--data_dir DIR] [--exp_root DIR] [--exp_tag NAME] [--train_config YAML] [--train_args OVERRIDES] [--force true]"
# shellcheck source=../../TEMPLATE/utils/parse_options.sh
. ../TEMPLATE/utils/parse_options.sh  # (the script has changed to the recipe folder)
case "${db}" in */*) ;; *) db="./${db}" ;; esac
# shellcheck source=../db.sh
. "${db}"
# shellcheck source=../../TEMPLATE/path.sh
. ../TEMPLATE/path.sh

root="${AUDIOSET:-}"
if [ -z "${root}" ]; then
    root="${data_dir}/captionstew_mini/corpora/audioset"
    [ -d "${root}" ] || { echo "$0: AUDIOSET is not set in ${db} and ${root} does not exist (build CaptionStew-mini: ./run.sh --stage 0 --stop_stage 0)" >&2; exit 1; }
    echo "[train_tagger.sh] AUDIOSET is not set in ${db}; reading CaptionStew-mini's AudioSet files (${root})"
    AUDIOSET_SUBSETS="${AUDIOSET_SUBSETS:-all}"  # the mini's few clips: its unbalanced list too
fi
out="${data_dir}/corpora/audioset"
# what the manifests were prepared from: another root, audio folder or subset list prepares again
prepared_from="${root}|${AUDIOSET_AUDIO:-}|${AUDIOSET_SUBSETS:-}"
if [ ! -f "${out}/.prepared" ] || [ "$(cat "${out}/.prepared")" != "${prepared_from}" ] || [ "${force}" = true ]; then
    args=(audioset "${root}" "${out}")
    IFS=: read -r -a audio_dirs <<< "${AUDIOSET_AUDIO:-}"
    for dir in "${audio_dirs[@]}"; do
        if [ -n "${dir}" ]; then args+=(--audio-dir "${dir}"); fi
    done
    if [ -n "${AUDIOSET_SUBSETS:-}" ]; then args+=(--subsets "${AUDIOSET_SUBSETS}"); fi
    python -m audiotext.bin.prepare_corpus "${args[@]}"
    echo "${prepared_from}" > "${out}/.prepared"
fi
force_args=()
[ "${force}" = true ] && force_args=(--force true)
./run.sh --stage 4 --stop_stage 4 --train_config "${train_config}" --data_dir "${data_dir}" \
    --exp_root "${exp_root}" --exp_tag "${exp_tag}" "${force_args[@]}" \
    --train_cuts "${out}/cuts_train.jsonl.gz" --valid_cuts "${out}/cuts_test.jsonl.gz" \
    --train_args "task_conf.label_file=${out}/labels.txt ${train_args}"
