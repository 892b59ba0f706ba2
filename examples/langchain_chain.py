"""A real LangChain chain, fully offline: ``prompt | FIPOOptimizer() | chat`` versus ``prompt | chat``.

The optimizer is the embedded default (SmolLM2-135M-Instruct, with the bundled FIPO adapter when the package
ships one); the downstream chat model is the embedded SmolLM2-135M-Instruct wrapped as a LangChain chat model
(:class:`fipo_integrations.langchain.LocalChatModel`). A handful of GSM8K train questions (from
``--data-dir``, default ``../shared/data`` next to the repository, else built-in ones) are answered with and
without the optimizer, and both are printed side by side.

Run::

    python examples/langchain_chain.py            # 5 questions, about a minute on a laptop CPU
    python examples/langchain_chain.py --n 3 --max-new-tokens 64

Each chain's ``batch`` is one batched generate call on the local model (rewrites too), so five questions
cost little more than one. Torch uses half the CPU cores by default here (``--threads``): on a busy machine,
more threads than free cores make generation many times slower.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import textwrap
import time
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tracers.context import collect_runs

from fipo_integrations import PromptOptimizer
from fipo_integrations.backends.hf import TransformersBackend
from fipo_integrations.langchain import FIPOOptimizer, LocalChatModel
from fipo_integrations.models import bundled_adapter_dir

BUILT_IN = [
    ("A baker makes 24 muffins in the morning and 18 in the afternoon. She sells 30. How many are left?", "12"),
    ("Tom reads 15 pages a day. How many pages does he read in 6 days?", "90"),
    ("A shirt costs $20 and is on sale for 25% off. What is the sale price in dollars?", "15"),
    ("Sara has 7 red and 5 blue marbles. She gives away 4 marbles. How many marbles does she have now?", "8"),
    ("A train travels 60 miles per hour for 3 hours. How many miles does it travel?", "180"),
]
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_questions(data_dir: Path, n: int) -> list[tuple[str, str]]:
    """The first ``n`` GSM8K train questions with their final answers, or built-in ones."""
    path = data_dir / "gsm8k" / "train.jsonl"
    if not path.is_file():
        print(f"({path} not found: using built-in questions)")
        return BUILT_IN[:n]
    questions = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            questions.append((item["question"], item["answer"].split("####")[-1].strip().replace(",", "")))
            if len(questions) == n:
                break
    return questions


def final_number(text: str) -> str:
    """The last number of an answer ("?" when there is none)."""
    numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)
    return numbers[-1].replace(",", "").rstrip(".") if numbers else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder holding gsm8k/train.jsonl")
    parser.add_argument("--n", type=int, default=5, help="how many questions (default 5)")
    parser.add_argument("--max-new-tokens", type=int, default=96, help="answer length limit (default 96)")
    parser.add_argument(
        "--threads",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="torch CPU threads (default: half the cores; oversubscribed cores make CPU generation crawl)",
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    questions = load_questions(args.data_dir, args.n)
    optimizer = PromptOptimizer(max_new_tokens=96)
    # Without a bundled adapter the optimizer *is* SmolLM2-135M-Instruct: share the loaded weights.
    shared = optimizer.backend if bundled_adapter_dir() is None else None
    if shared is not None and not isinstance(shared, TransformersBackend):
        shared = None
    chat = LocalChatModel(backend=shared, max_new_tokens=args.max_new_tokens)
    print(
        f"Optimizer: {optimizer.model_id}\nDownstream: {chat.model} (loaded in {time.perf_counter() - started:.1f} s)"
    )

    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a helpful math tutor."), ("human", "Solve this problem: {question}")]
    )
    inputs = [{"question": question} for question, _ in questions]
    phase = time.perf_counter()
    plain = (prompt | chat).batch(inputs)
    plain_seconds = time.perf_counter() - phase
    phase = time.perf_counter()
    with collect_runs() as collector:
        optimized = (prompt | FIPOOptimizer(optimizer=optimizer) | chat).batch(inputs)
    optimized_seconds = time.perf_counter() - phase
    rewrites = [
        child.outputs["fipo"]["rewrites"][0]
        for run in collector.traced_runs
        for child in run.child_runs
        if child.name == "FIPOOptimizer" and child.outputs
    ]

    print("\nRewritten instructions (guard verdict):")
    for number, rewrite in enumerate(rewrites, start=1):
        verdict = "accepted" if rewrite["accepted"] else f"kept original: {rewrite['reason']}"
        print(f"{number}. [{verdict}]\n   {textwrap.shorten(rewrite['optimized'], 220)}")
        if not rewrite["accepted"] and rewrite["candidate"]:
            print(f"   (rejected rewrite: {textwrap.shorten(rewrite['candidate'], 160)})")

    print(f"\n{'#':<2} {'gold':>6} {'plain':>7} {'fipo':>7}  question")
    for number, ((question, gold), before, after) in enumerate(zip(questions, plain, optimized, strict=True), 1):
        before_answer, after_answer = final_number(str(before.content)), final_number(str(after.content))
        print(f"{number:<2} {gold:>6} {before_answer:>7} {after_answer:>7}  {textwrap.shorten(question, 70)}")
    plain_correct = sum(final_number(str(a.content)) == gold for (_, gold), a in zip(questions, plain, strict=True))
    fipo_correct = sum(final_number(str(a.content)) == gold for (_, gold), a in zip(questions, optimized, strict=True))
    print(f"   correct: plain {plain_correct}/{len(questions)}, with FIPOOptimizer {fipo_correct}/{len(questions)}")

    print("\nFull answers:")
    for number, (before, after) in enumerate(zip(plain, optimized, strict=True), start=1):
        print(f"{number}. plain: {textwrap.shorten(str(before.content), 300)}")
        print(f"   fipo:  {textwrap.shorten(str(after.content), 300)}")
    print(
        f"\nTime: plain chain {plain_seconds:.1f} s, optimized chain {optimized_seconds:.1f} s, "
        f"total {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
