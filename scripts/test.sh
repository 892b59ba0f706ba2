#!/usr/bin/env bash
# Set up, then run the test suite with the network blocked (only loopback and unix sockets are allowed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Passive OpenMP waits: spinning threads make CPU generation crawl when the machine is busy.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_WAIT_POLICY=PASSIVE
"${FIPO_VENV:-.venv}/bin/python" -m pytest --allow-unix-socket --allow-hosts=127.0.0.1,::1 "$@"
