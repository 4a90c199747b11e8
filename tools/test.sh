#!/usr/bin/env bash
# Runs the test suite (CPU only), installing what it needs on first use.
#   tools/test.sh               whole suite
#   tools/test.sh -k registry   pytest arguments pass through
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"${ROOT_DIR}/tools/install.sh"
cd "${ROOT_DIR}"
# one worker per core (pytest-xdist), each test file on one worker: a module's fixtures (a tiny
# recipe build, a trained checkpoint) are made once (715 tests: 10 min 50 s on 2 cores; the last serial
# run, of 633, took 15 min)
exec tools/venv/bin/python -m pytest -q -n auto --dist loadfile "$@" tests
