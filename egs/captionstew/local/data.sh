#!/usr/bin/env bash
# Stage 1 of CaptionStew: per-corpus preparers (AudioCaps, Clotho, WavCaps, AudioSetCaps,
# MusicCaps, JamendoMaxCaps, ParaSpeechCaps) writing Lhotse manifests and the split lists
# ${data_dir}/splits/{train,valid,test}.list that stage 2 curates.
# These preparers are not written yet; this stage says so instead of pretending.
set -euo pipefail
echo "egs/captionstew/local/data.sh: the CaptionStew corpus preparers are not implemented yet." >&2
echo "Write per-corpus manifests and list them in <data_dir>/splits/{train,valid,test}.list," >&2
echo "then run ./run.sh --stage 2 (see docs/recipes.md)." >&2
exit 1
