#!/usr/bin/env bash
# Shared stage template for audio-text pretraining recipes (ESPnet's asr.sh habit, kept short).
# A recipe's run.sh sets its options and calls this script; its local/data.sh prepares the corpus.
#
# Stages:
#   0 build      local/build.sh, when the recipe has one: build an embedded corpus offline
#   1 data       local/data.sh: per-corpus manifests
#   2 manifests  curate them into ${manifest_dir}/cuts_{train,valid,test}.jsonl.gz (make_stew), and
#                the fbank mean/std of a random sample of the training clips (feature_stats.json)
#   3 tokenizer  sentencepiece on the training captions (skipped when the train config's tokenizer
#                is not sentencepiece: byte needs no model)
#   4 train      torchrun (launcher settings from the recipe's cmd.sh: processes per node, nodes,
#                rendezvous) on the curated training split, or on the nested subset --scale of it
#                (made on first use from conf/scales.yaml into ${data_dir}/scales/<scale>), from
#                scratch or --init <checkpoint> (its encoder: init_from in docs/training.md)
#   5 evaluate   the suite in ${eval_config} (retrieval, captioning, zero-shot, probes, diagnostics)
#                on ${eval_model} (any checkpoint or exported model) -> ${eval_dir}/results.json
#   6 report     print results.json as a table; ${eval_dir}/report/report.md with plots
#   7 sweep      with --sweep_plan: every (objective × scale × init) of the plan through stages 4-5,
#                then the scaling table and plots (python -m audiotext.bin.sweep); stages 4-6 of the
#                single experiment are skipped then
set -euo pipefail

stage=0
stop_stage=100
objective=contrastive       # picks conf/train_${objective}.yaml unless --train_config is given
train_config=""
scale=""                    # a scale of ${scales_config} (e.g. 400k, mini_s); empty: the whole training split
scales_config=conf/scales.yaml
scale_dir=""                # where the subsets go; default ${data_dir}/scales
init=scratch                # scratch, or a checkpoint (or exported model) whose ${init_modules} start training
init_modules=encoder        # comma-separated submodules loaded from --init (strict: all keys must match)
init_tag=""                 # names the init in the experiment name; default: the init's experiment folder
train_cuts=""               # training manifest or Lhotse Shar directory; default: the scale's subset or ${manifest_dir}/cuts_train.jsonl.gz
valid_cuts=""               # default ${manifest_dir}/cuts_valid.jsonl.gz
eval_config=conf/eval.yaml
eval_model=""               # model to evaluate; default ${exp_dir}/checkpoints/best
eval_dir=""                 # where results.json and the report go; default ${exp_dir}
data_dir=data               # per-corpus manifests from local/data.sh
manifest_dir=""             # curated train/valid/test CutSets; default ${data_dir}/manifests
tokenizer_dir=""            # default ${data_dir}/tokenizer
vocab_size=1000
exp_tag=""                  # experiment name; default <recipe>_<objective>[_<scale>][_init-<init_tag>]
exp_root=exp
local_build_opts=""         # passed to local/build.sh, e.g. "--scale 0.5"
local_data_opts=""          # passed to local/data.sh
stew_opts=""                # passed to make_stew (curation), e.g. "--jobs 4 --source-cap audiosetcaps_youtube8m=1000000"
train_args=""               # extra dotted overrides for training, e.g. "trainer.max_steps=100"
# launcher settings (--nproc_per_node, --nnodes, --rdzv_endpoint, --max_restarts, --threads): the
# recipe's cmd.sh sets them; the command line overrides it
nproc_per_node=1
nnodes=1
rdzv_endpoint=""
max_restarts=0
threads=0
if [ -f cmd.sh ]; then
    # shellcheck disable=SC1091
    . ./cmd.sh
fi
force=false                 # rerun stages even when their .done marker exists
sweep_plan=""               # a sweep plan (conf/sweep_*.yaml): stage 7 runs it instead of stages 4-6

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [options]; see the header of $0 for stages and options."
# shellcheck source=utils/parse_options.sh
. "$(dirname "$0")/../TEMPLATE/utils/parse_options.sh"

for value in "${stage}" "${stop_stage}" "${nproc_per_node}" "${nnodes}" "${max_restarts}"; do
    [[ "${value}" =~ ^[0-9]+$ ]] || { echo "$0: --stage, --stop_stage, --nproc_per_node, --nnodes and --max_restarts take integers, got '${value}'" >&2; exit 2; }
done
[ "$#" -eq 0 ] || { echo "$0: unexpected arguments: $*" >&2; exit 2; }
if [ -n "${sweep_plan}" ] && [ ! -f "${sweep_plan}" ]; then  # before stages 0-3 spend minutes
    echo "$0: --sweep_plan ${sweep_plan}: not found" >&2; exit 2
fi

recipe="$(basename "$(pwd)")"
# evaluation configs name their probe sets as ${DATA_DIR}/... (audiotext.config.expand_path)
export DATA_DIR="${data_dir}"
manifest_dir="${manifest_dir:-${data_dir}/manifests}"
tokenizer_dir="${tokenizer_dir:-${data_dir}/tokenizer}"
train_config="${train_config:-conf/train_${objective}.yaml}"
scale_dir="${scale_dir:-${data_dir}/scales}"
if [ "${init}" != scratch ] && [ -z "${init_tag}" ]; then
    # exp/<name>/checkpoints/best -> <name>; another checkpoint of it -> <name>-<checkpoint>
    case "${init}" in
        */checkpoints/best) init_tag="$(basename "$(dirname "$(dirname "${init}")")")" ;;
        */checkpoints/*) init_tag="$(basename "$(dirname "$(dirname "${init}")")")-$(basename "${init}")" ;;
        *) init_tag="$(basename "${init}")" ;;
    esac
fi
exp_tag="${exp_tag:-${recipe}_${objective}${scale:+_${scale}}${init_tag:+_init-${init_tag}}}"
exp_dir="${exp_root}/${exp_tag}"
eval_model="${eval_model:-${exp_dir}/checkpoints/best}"
eval_dir="${eval_dir:-${exp_dir}}"
mkdir -p "${exp_dir}/logs" "${data_dir}" "${eval_dir}"

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') [${recipe}] $*"; }

# run_stage N NAME MARKER_DIR: true when stage N is selected and not already done
run_stage() {
    local n=$1 name=$2 marker="$3/.stage${1}_${2}.done"
    if [ "${n}" -lt "${stage}" ] || [ "${n}" -gt "${stop_stage}" ]; then
        return 1
    fi
    if [ -f "${marker}" ] && [ "${force}" != true ]; then
        log "stage ${n} (${name}): already done (${marker}); --force true to redo"
        return 1
    fi
    rm -f "${marker}"  # a stage that fails on a rerun must not pass for done on the next one
    log "stage ${n}: ${name}"
    return 0
}

mark_done() { touch "$2/.stage${1}_${3}.done"; }

if run_stage 0 build "${data_dir}"; then
    if [ -x local/build.sh ]; then
        # shellcheck disable=SC2086
        local/build.sh --data_dir "${data_dir}" ${local_build_opts}
    else
        log "stage 0: ${recipe} has no local/build.sh; nothing to build"
    fi
    mark_done 0 "${data_dir}" build
fi

if run_stage 1 data "${data_dir}"; then
    # shellcheck disable=SC2086
    local/data.sh --data_dir "${data_dir}" ${local_data_opts}
    mark_done 1 "${data_dir}" data
fi

if run_stage 2 manifests "${data_dir}"; then
    # local/data.sh lists the per-corpus manifests of each split in ${data_dir}/splits/<split>.list;
    # training clips are kept away from the valid/test splits and the downstream sets of ${eval_config}
    [ -s "${data_dir}/splits/train.list" ] || { echo "no training manifests listed in ${data_dir}/splits/train.list (written by local/data.sh; rerun stage 1 with --force true)" >&2; exit 1; }
    split_args=()
    for split in train valid test; do
        list="${data_dir}/splits/${split}.list"
        if [ -s "${list}" ]; then
            split_args+=(--split "${split}=$(paste -sd, "${list}")")
        else
            echo "no ${split} manifests in ${list}: no ${split} split" >&2
        fi
    done
    # shellcheck disable=SC2086
    python -m audiotext.bin.make_stew --out-dir "${manifest_dir}" "${split_args[@]}" \
        --eval-config "${eval_config}" ${stew_opts}
    python -m audiotext.bin.feature_stats --cuts "${manifest_dir}/cuts_train.jsonl.gz" \
        --config "${train_config}" --out "${manifest_dir}/feature_stats.json"
    mark_done 2 "${data_dir}" manifests
fi

tokenizer_model="${tokenizer_dir}/sp${vocab_size}.model"
# the experiment's tokenizer (train config + --train_args): only sentencepiece is trained in stage 3
# and passed to stage 4 as a model file; byte (or a plugin's) needs neither
tokenizer_model_arg=()
if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 3 ]; then
    # shellcheck disable=SC2086
    tokenizer_name="$(python - "${train_config}" ${train_args} <<'PY'
import sys
from audiotext.config import ConfigError
from audiotext.experiment import load_experiment
try:
    print(load_experiment(sys.argv[1], sys.argv[2:]).tokenizer)
except (ConfigError, FileNotFoundError) as err:
    sys.exit(f"error: {err}")
PY
)"
    if [ "${tokenizer_name}" = sentencepiece ]; then
        tokenizer_model_arg=("tokenizer_conf.model=${tokenizer_model}")
    elif [ "${stage}" -le 3 ]; then
        log "stage 3: ${train_config} uses the ${tokenizer_name} tokenizer: no sentencepiece model to train"
    fi
fi
if [ "${#tokenizer_model_arg[@]}" -gt 0 ] && run_stage 3 tokenizer "${data_dir}"; then
    python -m audiotext.bin.train_tokenizer --cuts "${manifest_dir}/cuts_train.jsonl.gz" \
        --out "${tokenizer_dir}/sp${vocab_size}" --vocab-size "${vocab_size}"
    mark_done 3 "${data_dir}" tokenizer
fi

single=true
if [ -n "${sweep_plan}" ]; then
    single=false
    if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 4 ]; then
        log "stages 4-6: the sweep (stage 7) trains and evaluates each run of ${sweep_plan}"
    fi
fi

if "${single}" && run_stage 4 train "${exp_dir}"; then
    if [ -z "${train_cuts}" ] && [ -n "${scale}" ]; then
        # a scale's subset does not depend on which other scales exist: made when first used, and
        # remade when the curated split, the scale's size, the seed or the weights changed
        train_cuts="${scale_dir}/${scale}/cuts_train.jsonl.gz"
        log "stage 4: the ${scale} subset of ${manifest_dir}/cuts_train.jsonl.gz (${scales_config})"
        python -m audiotext.bin.make_subsets --cuts "${manifest_dir}/cuts_train.jsonl.gz" \
            --scales "${scales_config}" --only "${scale}" --out-dir "${scale_dir}" --reuse
    fi
    train_cuts="${train_cuts:-${manifest_dir}/cuts_train.jsonl.gz}"
    valid_cuts="${valid_cuts:-${manifest_dir}/cuts_valid.jsonl.gz}"
    train_data_arg=("data.train_cuts=${train_cuts}")
    if [ -d "${train_cuts}" ]; then
        # a Lhotse Shar directory (python -m audiotext.bin.export_shar): each rank reads its own shards
        train_data_arg=("data.sources=[{name: train, shar: '${train_cuts}'}]")
    fi
    init_args=()
    if [ "${init}" != scratch ]; then
        [ -e "${init}" ] || { echo "$0: --init ${init}: no such checkpoint (give scratch or a checkpoint folder)" >&2; exit 2; }
        init_args=("init_from.checkpoint=${init}" "init_from.modules=[${init_modules}]")
    fi
    launcher=(torchrun --nproc_per_node "${nproc_per_node}" --nnodes "${nnodes}" --max-restarts "${max_restarts}")
    if [ "${nnodes}" -gt 1 ]; then
        launcher+=(--rdzv_backend c10d --rdzv_endpoint "${rdzv_endpoint}")
    else
        launcher+=(--standalone)
    fi
    resume=()
    [ -f "${exp_dir}/checkpoints/LATEST" ] && resume=(--resume)
    # stage 2 writes the feature statistics; without the file, training computes the same at its start
    stats_arg=()
    [ -f "${manifest_dir}/feature_stats.json" ] && stats_arg=("data.feature_stats=${manifest_dir}/feature_stats.json")
    # shellcheck disable=SC2086
    "${launcher[@]}" -m audiotext.bin.train --config "${train_config}" --exp-dir "${exp_dir}" \
        --threads "${threads}" "${resume[@]}" "${tokenizer_model_arg[@]}" "${stats_arg[@]}" "${init_args[@]}" \
        "${train_data_arg[@]}" "data.valid_cuts=${valid_cuts}" \
        ${train_args} 2>&1 | tee "${exp_dir}/logs/train.log"
    mark_done 4 "${exp_dir}" train
fi

if "${single}" && run_stage 5 evaluate "${eval_dir}"; then
    python -m audiotext.bin.evaluate --model-dir "${eval_model}" --cuts-dir "${manifest_dir}" \
        --eval-config "${eval_config}" --out "${eval_dir}/results.json" --threads "${threads}" \
        2>&1 | tee "${eval_dir}/evaluate.log"
    mark_done 5 "${eval_dir}" evaluate
fi

if "${single}" && run_stage 6 report "${eval_dir}"; then
    python -m audiotext.bin.report "${eval_dir}/results.json" --markdown "${eval_dir}/report" \
        | tee "${eval_dir}/report.txt"
fi

# no done-marker: the sweep skips its finished runs itself, and a rerun rebuilds the table
if [ -n "${sweep_plan}" ] && [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
    log "stage 7: sweep ${sweep_plan}"
    # every run reads this call's data and launches as it does; training and evaluation settings
    # come from the plan
    shared=(--data_dir "${data_dir}" --manifest_dir "${manifest_dir}" --tokenizer_dir "${tokenizer_dir}"
            --vocab_size "${vocab_size}" --nproc_per_node "${nproc_per_node}" --nnodes "${nnodes}"
            --rdzv_endpoint "${rdzv_endpoint}" --max_restarts "${max_restarts}" --threads "${threads}")
    recipe_args=()
    for arg in "${shared[@]}"; do recipe_args+=(--recipe-arg="${arg}"); done
    python -m audiotext.bin.sweep --plan "${sweep_plan}" "${recipe_args[@]}"
fi
if "${single}"; then
    log "finished stages ${stage}..$(( stop_stage < 6 ? stop_stage : 6 )) of ${exp_dir}"
else
    log "finished stages ${stage}..${stop_stage} with sweep ${sweep_plan}"
fi
