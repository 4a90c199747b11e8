#!/usr/bin/env bash
# Wheels for bench/gpu_check.py on the GPU machine (Python 3.12, x86-64, torch installed, no network):
# the packages audiotext needs that its image lacks (lhotse and a few of its dependencies), at the
# versions tools/venv has, downloaded into .whl/ (ignored by git; carried with `carry: [".whl"]`).
# A flash-attn wheel built for that image's torch and CUDA, if you have one, goes beside them.
#   bench/gpu_wheels.sh && ls .whl
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-tools/venv/bin/python}"
mkdir -p .whl
for name in lhotse audioread cytoolz intervaltree lilcom orjson soundfile cffi pycparser; do
    version="$("${PY}" -m pip show "${name}" | sed -n 's/^Version: //p')"
    "${PY}" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 -d .whl "${name}==${version}"
done
echo "[gpu_wheels] $(ls .whl | wc -l) wheels in .whl/"
