#!/usr/bin/env bash
# Set up, then run the main job: optimize an example prompt and answer naive vs optimized side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"${FIPO_VENV:-.venv}/bin/fipo" demo "$@"
