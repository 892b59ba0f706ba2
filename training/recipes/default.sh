#!/usr/bin/env bash
# Reproduce the bundled default FIPO adapter: LoRA SFT of the embedded Qwen2.5-Coder-0.5B-Instruct, on CPU or GPU.
# Stage 1: one epoch of POP seed v1 (train split) + v2, whole rewrites (training/recipes/default-qwen-sft.yaml).
# Stage 2: one epoch of the append records (training/data/pop-append/), prefilled as the runtime generates
# (training/recipes/default-qwen-append.yaml), continuing the stage-1 LoRA.
#
#   bash training/recipes/default.sh OUT_DIR [extra flags for fipo train, e.g. --max-steps 2]
#
# Writes the adapter to OUT_DIR (load it with PromptOptimizer(adapter=OUT_DIR)); the stage-1 adapter, the runs,
# checkpoints and logs go to OUT_DIR.runs/. Rerunning resumes from the last checkpoint: on a 2-core CPU with
# AVX512-BF16/AMX stage 1 (300 steps) took 81 minutes, on an AVX2-only CPU stage 2 (120 steps) took about an
# hour, so it may span sessions (a finished stage is skipped). WITH_IPO=1 also trains the IPO
# stage on top (OUT_DIR-ipo); it was measured and not shipped (docs/default-model.md).
# BASE=smollm2 reproduces the previous default instead (SmolLM2-135M-Instruct, default-smollm2-*.yaml).
# To make OUT_DIR the bundled default, package it (bf16 weights, no training state) into the package:
#   fipo train package --adapter OUT_DIR --output fipo_integrations/adapters/fipo-qwen2.5-coder-0.5b \
#       --base-model-name Qwen/Qwen2.5-Coder-0.5B-Instruct --gguf --gguf-base-model embedded:qwen2.5-coder-0.5b-instruct
set -euo pipefail
OUT="${1:?usage: bash training/recipes/default.sh OUT_DIR [extra fipo train flags]}"
shift
RUNS="${OUT%/}.runs"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIPO="${FIPO:-fipo}"
BASE="${BASE:-qwen}"
case "$BASE" in
  qwen)
    SFT="$HERE/default-qwen-sft.yaml" IPO="$HERE/default-qwen-ipo.yaml" APPEND="$HERE/default-qwen-append.yaml"
    SHIP="fipo_integrations/adapters/fipo-qwen2.5-coder-0.5b --base-model-name Qwen/Qwen2.5-Coder-0.5B-Instruct"
    SHIP="$SHIP --gguf --gguf-base-model embedded:qwen2.5-coder-0.5b-instruct" ;;
  smollm2)
    SFT="$HERE/default-smollm2-sft.yaml" IPO="$HERE/default-smollm2-ipo.yaml" APPEND=""
    SHIP="fipo_integrations/adapters/fipo-smollm2-135m --base-model-name HuggingFaceTB/SmolLM2-135M-Instruct"
    SHIP="$SHIP --gguf --gguf-base-model embedded:smollm2-135m-instruct" ;;
  *) echo "BASE must be qwen or smollm2, got '$BASE'" >&2; exit 2 ;;
esac
# glibc: keep freed memory instead of mmap-ing every large tensor afresh; halves CPU step time
# (docs/training.md, "Speed"), same results. Ignored elsewhere.
export MALLOC_MMAP_MAX_="${MALLOC_MMAP_MAX_:-0}" MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-100000000000}"
export MALLOC_TOP_PAD_="${MALLOC_TOP_PAD_:-1000000000}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

STAGE1="$RUNS/sft-adapter"
if [[ ! -f "$STAGE1/adapter_model.safetensors" ]]; then
  "$FIPO" train sft --config "$SFT" --output-dir "$RUNS/sft" --adapter-dir "$STAGE1" --resume "$@"
fi
if [[ -n "$APPEND" ]]; then
  "$FIPO" train sft --config "$APPEND" --init-adapter "$STAGE1" --output-dir "$RUNS/append" --adapter-dir "$OUT" \
    --resume "$@"
else
  rm -rf "$OUT" && cp -r "$STAGE1" "$OUT"
fi
echo "default adapter written to $OUT"
if [[ "${WITH_IPO:-0}" == "1" ]]; then
  "$FIPO" train ipo --config "$IPO" --output-dir "$RUNS/ipo" --init-adapter "$OUT" --adapter-dir "${OUT%/}-ipo" \
    --resume "$@"
  echo "IPO adapter written to ${OUT%/}-ipo"
fi
echo "ship it: $FIPO train package --adapter $OUT --output $SHIP"
