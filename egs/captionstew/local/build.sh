#!/usr/bin/env bash
# Stage 0 of CaptionStew: build CaptionStew-mini into ${data_dir}/captionstew_mini when it stands in
# for at least one source (db.sh: CAPTIONSTEW_MINI=true and a source root left empty).
set -euo pipefail

data_dir=data
jobs=2
seed=0
scale=1.0
db=db.sh

# shellcheck disable=SC2034  # read by parse_options.sh
help_message="Usage: $0 [--data_dir DIR] [--jobs N] [--seed S] [--scale X] [--db db.sh]"
# shellcheck source=../../TEMPLATE/utils/parse_options.sh
. "$(dirname "$0")/../../TEMPLATE/utils/parse_options.sh"
case "${db}" in */*) ;; *) db="./${db}" ;; esac  # source the recipe's file, never one on PATH
# shellcheck source=../db.sh
. "${db}"

needed=()
if [ "${CAPTIONSTEW_MINI}" = true ]; then
    for name in ${CAPTIONSTEW_MINI_SOURCES}; do
        var="${name^^}"
        if [ -z "${!var:-}" ]; then needed+=("${name}"); fi
    done
fi
if [ "${#needed[@]}" -eq 0 ]; then
    echo "[build.sh] every source comes from a real corpus (or CAPTIONSTEW_MINI=false): nothing to build"
    exit 0
fi
echo "[build.sh] CaptionStew-mini stands in for: ${needed[*]}"
python -m audiotext.bin.build_captionstew_mini --out "${data_dir}/captionstew_mini" \
    --jobs "${jobs}" --seed "${seed}" --scale "${scale}" > "${data_dir}/captionstew_mini.build.log"
python - "${data_dir}/captionstew_mini/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"[build.sh] CaptionStew-mini: {s['hours']:.2f} h in the corpora, built in {s['build_time_s']} s")
for corpus, groups in s["corpora"].items():
    print(f"[build.sh]   {corpus:15s}", ", ".join(f"{g}: {v['clips']} clips" for g, v in groups.items()))
print("[build.sh]   probes:", ", ".join(f"{t} ({sum(v['clips'].values())})" for t, v in s["probes"].items()))
PY
