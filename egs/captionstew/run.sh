#!/usr/bin/env bash
# CaptionStew: audio-language pretraining on the aggregated caption corpora (the published corpus:
# ~10.7M captions on ~9.3M clips, ~37,300 h).
#
# With no configuration, ./run.sh runs on CaptionStew-mini, the embedded default built offline
# (stage 0) from real recordings in Debian packages and synthesis, written in the official layouts
# of AudioCaps, Clotho, MusicCaps, WavCaps, AudioSetCaps and ParaSpeechCaps, so the same preparers
# and curation as for the real corpora run: build -> prepare -> curate -> tokenizer -> train ->
# evaluate -> report (~15 minutes on 2 CPU cores).
#   ./run.sh                                  everything, contrastive objective
#   ./run.sh --objective captioning           captioning (or joint) on the same data, from stage 0
#   ./run.sh --stage 4 --objective joint      train and evaluate another objective on built data
# Real corpora: set their roots in db.sh (docs/corpora/ has a page per source); each root set
# replaces that source's CaptionStew-mini copy (CAPTIONSTEW_MINI=false: real corpora only). For the
# real downstream data sets: local/prepare_downstream.sh --downstream_root /corpora, then
#   ./run.sh --eval_config conf/eval_downstream.yaml --vocab_size 5000 --nproc_per_node 8
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../TEMPLATE/path.sh
. ../TEMPLATE/path.sh

defaults=(--vocab_size 1000)
# shellcheck source=db.sh
. ./db.sh
if [ "${CAPTIONSTEW_MINI}" = true ] && [ -z "${AUDIOSETCAPS}" ]; then
    # CaptionStew-mini's AudioSetCaps stands in: cap its YouTube-8M clips (LLM captions of a third of
    # its clips), so the curation shows a per-source cap at work; --stew_opts replaces this
    defaults+=(--stew_opts "--source-cap audiosetcaps_youtube8m=60")
fi
../TEMPLATE/pretrain.sh "${defaults[@]}" "$@"
