#!/usr/bin/env bash
# Reproduce the bundled default FIPO adapter: LoRA SFT of the embedded SmolLM2-135M-Instruct on the training
# split of the POP seed set (training/data/pop-seed/train.jsonl), on CPU or GPU.
#
#   bash training/recipes/default.sh OUT_DIR [extra flags for fipo train, e.g. --max-steps 2]
#
# Writes the adapter to OUT_DIR (load it with PromptOptimizer(adapter=OUT_DIR)); the run, checkpoints and logs
# go to OUT_DIR.runs/. Rerunning resumes from the last checkpoint. WITH_IPO=1 also trains the IPO stage on top
# (OUT_DIR-ipo); it was measured and not shipped, see docs/default-model.md. To make OUT_DIR the bundled default,
# package it (bf16 weights, no training state) into the package:
#   fipo train package --adapter OUT_DIR --output fipo_integrations/adapters/fipo-smollm2-135m \
#       --base-model-name HuggingFaceTB/SmolLM2-135M-Instruct
set -euo pipefail
OUT="${1:?usage: bash training/recipes/default.sh OUT_DIR [extra fipo train flags]}"
shift
RUNS="${OUT%/}.runs"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIPO="${FIPO:-fipo}"
# glibc: keep freed memory instead of mmap-ing every large tensor afresh; halves CPU step time
# (docs/training.md, "Speed"), same results. Ignored elsewhere.
export MALLOC_MMAP_MAX_="${MALLOC_MMAP_MAX_:-0}" MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-100000000000}"
export MALLOC_TOP_PAD_="${MALLOC_TOP_PAD_:-1000000000}"

"$FIPO" train sft --config "$HERE/default-smollm2-sft.yaml" \
  --output-dir "$RUNS/sft" --adapter-dir "$OUT" --resume "$@"
echo "default adapter written to $OUT"
if [[ "${WITH_IPO:-0}" == "1" ]]; then
  "$FIPO" train ipo --config "$HERE/default-smollm2-ipo.yaml" \
    --output-dir "$RUNS/ipo" --init-adapter "$OUT" --adapter-dir "${OUT%/}-ipo" --resume "$@"
  echo "IPO adapter written to ${OUT%/}-ipo"
fi
echo "ship it: $FIPO train package --adapter $OUT --output fipo_integrations/adapters/fipo-smollm2-135m" \
  "--base-model-name HuggingFaceTB/SmolLM2-135M-Instruct"
