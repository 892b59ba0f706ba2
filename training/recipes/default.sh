#!/usr/bin/env bash
# Reproduce the bundled default FIPO adapter: LoRA SFT then IPO of the embedded SmolLM2-135M-Instruct on the
# training split of the POP seed set (training/data/pop-seed/train.jsonl), on CPU or GPU.
#
#   bash training/recipes/default.sh OUT_DIR [extra flags for both stages, e.g. --max-steps 2]
#
# Writes the final adapter to OUT_DIR (load it with PromptOptimizer(adapter=OUT_DIR)); runs, checkpoints and
# logs go to OUT_DIR.runs/. Rerunning resumes from the last checkpoint of each stage. To make it the bundled
# default, package it (bf16 weights, no training state) into the package:
#   fipo train package --adapter OUT_DIR --output fipo_integrations/adapters/fipo-smollm2-135m \
#       --base-model-name HuggingFaceTB/SmolLM2-135M-Instruct
set -euo pipefail
OUT="${1:?usage: bash training/recipes/default.sh OUT_DIR [extra fipo train flags]}"
shift
RUNS="${OUT%/}.runs"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIPO="${FIPO:-fipo}"

"$FIPO" train sft --config "$HERE/default-smollm2-sft.yaml" \
  --output-dir "$RUNS/sft" --adapter-dir "$RUNS/sft-adapter" --resume "$@"
"$FIPO" train ipo --config "$HERE/default-smollm2-ipo.yaml" \
  --output-dir "$RUNS/ipo" --init-adapter "$RUNS/sft-adapter" --adapter-dir "$OUT" --resume "$@"
echo "default adapter written to $OUT"
echo "ship it: $FIPO train package --adapter $OUT --output fipo_integrations/adapters/fipo-smollm2-135m" \
  "--base-model-name HuggingFaceTB/SmolLM2-135M-Instruct"
