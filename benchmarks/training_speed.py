"""Seconds per step and tokens per second of `fipo train` SFT and DPO (LoRA) at batch B x L tokens.

    /work/venv/bin/python benchmarks/training_speed.py                 # SmolLM2 + LoRA, batch 4 x 512, 4 steps
    /work/venv/bin/python benchmarks/training_speed.py --steps 6 --stages sft dpo ipo --precision fp32

Every example is longer than L tokens and truncated to exactly L, so a step processes B x L tokens for SFT
and 2 x B x L for DPO/IPO (chosen and rejected). The first step (warm-up) is not timed; the table shows the
median of the others. Runs through :func:`training.trainers.train`, i.e. the real pipeline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from training.config import TrainConfig
from training.trainers import resolve_model_path, train

_FILLER = (
    "The committee reviewed the quarterly figures, compared them with the previous year, and noted that "
    "shipping costs rose while returns fell in every region except the north. "
)


def _long_text(tokenizer: Any, tokens: int, tag: str) -> str:
    text = f"{tag}: "
    while len(tokenizer(text)["input_ids"]) < tokens:
        text += _FILLER
    return text


def _rows(model: str, length: int, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model))
    prompt = _long_text(tokenizer, length // 2, "Rewrite this report request")
    answer = _long_text(tokenizer, length, "Golden Prompt")
    worse = _long_text(tokenizer, length, "Rejected Prompt")
    sft = [
        {"messages": [{"role": "user", "content": f"{i} {prompt}"}, {"role": "assistant", "content": answer}]}
        for i in range(count)
    ]
    pref = [
        {
            "prompt": [{"role": "user", "content": f"{i} {prompt}"}],
            "chosen": [{"role": "assistant", "content": answer}],
            "rejected": [{"role": "assistant", "content": worse}],
        }
        for i in range(count)
    ]
    return sft, pref


def _timer() -> tuple[Any, list[float]]:
    from transformers import TrainerCallback

    durations: list[float] = []

    class StepTimer(TrainerCallback):  # type: ignore[misc]
        started = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            durations.append(time.perf_counter() - self.started)

    return StepTimer(), durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--stages", nargs="+", default=["sft", "dpo"], choices=["sft", "dpo", "ipo"])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=4, help="timed steps + 1 warm-up")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    parser.add_argument("--full", action="store_true", help="full weights instead of LoRA")
    args = parser.parse_args()
    sft_rows, pref_rows = _rows(args.model, args.length, args.batch * (args.steps + 1))
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for stage in args.stages:
            timer, durations = _timer()
            config = TrainConfig(
                stage=stage,  # type: ignore[arg-type]
                model=args.model,
                output_dir=str(Path(tmp) / stage),
                max_steps=args.steps + 1,
                per_device_train_batch_size=args.batch,
                max_length=args.length,
                save_steps=0,
                precision=args.precision,  # type: ignore[arg-type]
                lora=not args.full,
                data=["benchmark"],
            )
            train(config, rows=sft_rows if stage == "sft" else pref_rows, callbacks=[timer])
            timed = durations[1:] or durations
            seconds = statistics.median(timed)
            tokens = args.batch * args.length * (1 if stage == "sft" else 2)
            table.append((stage, seconds, tokens, tokens / seconds))
    weights = "full" if args.full else "LoRA"
    print(f"\n{args.model} + {weights}, batch {args.batch} x {args.length} tokens, precision {args.precision}")
    print(f"{'stage':<6} {'s/step':>8} {'tokens/step':>12} {'tokens/s':>9}")
    for stage, seconds, tokens, rate in table:
        print(f"{stage:<6} {seconds:>8.2f} {tokens:>12d} {rate:>9.0f}")


if __name__ == "__main__":
    main()
