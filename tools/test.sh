#!/usr/bin/env bash
# Runs the test suite (CPU only), installing what it needs on first use.
#   tools/test.sh               whole suite
#   tools/test.sh -k registry   pytest arguments pass through
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"${ROOT_DIR}/tools/install.sh"
cd "${ROOT_DIR}"
exec tools/venv/bin/python -m pytest -q "$@" tests
