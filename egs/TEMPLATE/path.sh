#!/usr/bin/env bash
# Puts the project's virtual environment on PATH, installing it on first use.
# Sourced by every recipe's run.sh.

AUDIOTEXT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export AUDIOTEXT_ROOT
if [ ! -f "${AUDIOTEXT_ROOT}/tools/venv/.audiotext-installed" ]; then
    echo "[path.sh] first use: running tools/install.sh" >&2
    "${AUDIOTEXT_ROOT}/tools/install.sh"
fi
# shellcheck disable=SC1091
. "${AUDIOTEXT_ROOT}/tools/venv/bin/activate"
export PYTHONUNBUFFERED=1
export LC_ALL=C.UTF-8
