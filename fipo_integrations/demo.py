"""The main job of the README's first command: optimize an example prompt, then answer both versions.

Everything runs locally: the default optimizer (embedded Qwen2.5-Coder-0.5B-Instruct + the bundled adapter)
rewrites, the embedded SmolLM2-135M-Instruct answers; no byte leaves the machine.
"""

from __future__ import annotations

import shutil
import textwrap
import time

from .backends import GenerationParams, load_backend
from .engine import PromptOptimizer
from .models import DEFAULT_EMBEDDED

__all__ = ["DEMO_PROMPT", "run_demo"]

#: A review to classify: the default optimizer keeps it word for word and adds the reply's form (one word), the
#: kind of rewrite it makes (docs/default-model.md).
DEMO_PROMPT = (
    "Classify the sentiment of this review as positive or negative: "
    "The battery died after two days and support never answered."
)


def _side_by_side(left_title: str, left: str, right_title: str, right: str) -> str:
    width = max(30, min(60, (shutil.get_terminal_size((120, 20)).columns - 3) // 2))
    left_lines = [left_title, "-" * width, *(textwrap.wrap(left, width) or [""])]
    right_lines = [right_title, "-" * width, *(textwrap.wrap(right, width) or [""])]
    rows = max(len(left_lines), len(right_lines))
    left_lines += [""] * (rows - len(left_lines))
    right_lines += [""] * (rows - len(right_lines))
    return "\n".join(f"{a:<{width}} | {b}" for a, b in zip(left_lines, right_lines, strict=True))


def run_demo(prompt: str | None = None, *, max_new_tokens: int = 160) -> None:
    """Optimize ``prompt`` (default :data:`DEMO_PROMPT`) and print both answers side by side."""
    naive = prompt or DEMO_PROMPT
    started = time.perf_counter()
    optimizer = PromptOptimizer(cache=True)
    print(f"Optimizer: {optimizer.model_id} (loaded in {time.perf_counter() - started:.1f} s)")
    result = optimizer.optimize(naive)
    print(f"\nNaive prompt:     {result.original}")
    print(f"Optimized prompt: {result.optimized}")
    print("Guard:            " + ("accepted" if result.accepted else f"kept the original ({result.reason})"))
    if not result.accepted and result.candidate:
        print(f"Rejected rewrite: {result.candidate[:300]}")
    answerer = load_backend(f"embedded:{DEFAULT_EMBEDDED}")
    params = GenerationParams(max_new_tokens=max_new_tokens)
    conversations = [[{"role": "user", "content": result.original}], [{"role": "user", "content": result.optimized}]]
    answers = answerer.generate(conversations, params)
    print("\nAnswers of SmolLM2-135M-Instruct (greedy):\n")
    print(_side_by_side("to the naive prompt", answers[0][0], "to the optimized prompt", answers[1][0]))
    print(f"\nTotal time: {time.perf_counter() - started:.1f} s")
