"""Speed of the default optimizer on this machine, beside the memory-bandwidth bound for decoding.

Prints a markdown table: model load (first build and cached reload), latency for one prompt, throughput for
32 prompts at batch 1 and batch 8 with a cold and a warm rewrite cache, and the bound
``measured memory bandwidth / bytes of weights read per decoding step``.

    python benchmarks/optimizer_speed.py [--prompts 32] [--max-new-tokens 256]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

PROMPTS = [
    "Answer the question: {question}",
    "Summarize the following text: {text}",
    "Translate this sentence into French: {sentence}",
    "Classify the sentiment of this review as positive or negative: {review}",
    "Write a short poem about autumn.",
    "Explain how a refrigerator works.",
    "What is the capital of Australia?",
    "Fix the grammar: me and him goes to school yesterday.",
    "List three benefits of regular exercise.",
    "Convert this CSV to JSON: name,age\nAnn,31\nBo,25",
    "Write a Python function that reverses a string.",
    "A train travels 120 km in 2 hours. What is its average speed?",
    "Extract all dates from the text: {document}",
    "Give me a slogan for a coffee shop.",
    "Which is heavier, a kilogram of feathers or a kilogram of iron?",
    "Rewrite the paragraph to sound more formal: {paragraph}",
    "Tom has 5 apples and buys 7 more. He eats 3. How many are left?",
    "Describe the water cycle for a ten-year-old.",
    "Write an email asking my manager for a day off on Friday.",
    "What are the main differences between Python and JavaScript?",
    "Name the planets of the solar system in order.",
    "Question: {question}\nOptions:\nA) {a}\nB) {b}\nAnswer:",
    "Summarise the plot of Romeo and Juliet in two sentences.",
    "Is this email spam? {email}",
    "Write a SQL query that counts users per country.",
    "Give a recipe for pancakes.",
    "Explain recursion with an example.",
    "What causes the seasons on Earth?",
    "Turn this list into a markdown table: apples 3, pears 5, plums 2",
    "Suggest a name for a pet turtle.",
    "How do vaccines work?",
    "Proofread: Their going to the park tomorow.",
]


def memory_bandwidth_gbs(size_mb: int = 512, repeats: int = 5) -> float:
    """Best-of-N copy bandwidth (bytes read + written per second) of a large torch tensor, in GB/s."""
    import torch

    source = torch.empty(size_mb * 1024 * 1024 // 4, dtype=torch.float32).fill_(1.0)
    target = torch.empty_like(source)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        target.copy_(source)
        best = min(best, time.perf_counter() - started)
    return 2 * source.numel() * 4 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--load-only", action="store_true", help="only measure loading the default model")
    args = parser.parse_args()

    import torch  # noqa: F401  (imported before the load is timed)

    from fipo_integrations import PromptOptimizer, RewriteCache
    from fipo_integrations.backends import GenerationParams
    from fipo_integrations.backends.hf import TransformersBackend
    from fipo_integrations.templates import render_optimizer_messages

    prompts = (PROMPTS * (args.prompts // len(PROMPTS) + 1))[: args.prompts]
    rows: list[tuple[str, str, str]] = []

    started = time.perf_counter()
    backend = TransformersBackend()  # default: embedded SmolLM2 (+ bundled adapter when shipped)
    first_load = time.perf_counter() - started
    started = time.perf_counter()
    backend = TransformersBackend()
    reload_seconds = time.perf_counter() - started
    rows.append(("load default model (this process' first load)", f"{first_load:.2f} s", backend.model_id))
    rows.append(("load default model again (cached safetensors)", f"{reload_seconds:.2f} s", "target <= 3 s"))
    if args.load_only:
        _print_table(rows)
        return

    tokenizer = backend.tokenizer
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    conversations = [render_optimizer_messages(p) for p in prompts]

    def run(batch_size: int, items: list) -> tuple[float, int]:  # type: ignore[type-arg]
        backend.batch_size = batch_size
        started = time.perf_counter()
        replies = backend.generate(items, params)
        seconds = time.perf_counter() - started
        tokens = sum(len(tokenizer(r[0], add_special_tokens=False)["input_ids"]) + 1 for r in replies)
        return seconds, tokens

    seconds, tokens = run(1, conversations[:1])
    rows.append(("latency, 1 prompt (no cache)", f"{seconds:.2f} s", f"{tokens} tokens, {tokens / seconds:.1f} tok/s"))
    measured: dict[int, float] = {}
    for batch_size in (1, 8):
        seconds, tokens = run(batch_size, conversations)
        measured[batch_size] = tokens / seconds
        rows.append(
            (
                f"{len(prompts)} prompts, batch {batch_size}, cold cache",
                f"{seconds:.1f} s ({len(prompts) / seconds:.2f} prompts/s)",
                f"{tokens} tokens, {tokens / seconds:.1f} tok/s",
            )
        )

    with tempfile.TemporaryDirectory() as tmp:
        optimizer = PromptOptimizer(backend, cache=RewriteCache(Path(tmp) / "c.sqlite"))
        backend.batch_size = 8
        started = time.perf_counter()
        results = optimizer.optimize_batch(prompts)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        optimizer.optimize_batch(prompts)
        warm = time.perf_counter() - started
        fresh = PromptOptimizer(backend, cache=RewriteCache(Path(tmp) / "c.sqlite"))
        started = time.perf_counter()
        fresh.optimize_batch(prompts)
        warm_disk = time.perf_counter() - started
    accepted = sum(r.accepted for r in results)
    rows.append(
        (
            f"engine, {len(prompts)} prompts, batch 8, cold cache",
            f"{cold:.1f} s",
            f"guard accepted {accepted}/{len(prompts)}",
        )
    )
    rows.append(
        (
            f"engine, {len(prompts)} prompts, warm cache (memory)",
            f"{warm * 1000:.1f} ms",
            f"{warm / len(prompts) * 1e6:.0f} µs/prompt",
        )
    )
    rows.append(
        (
            f"engine, {len(prompts)} prompts, warm cache (SQLite)",
            f"{warm_disk * 1000:.1f} ms",
            "new process-like reader",
        )
    )

    weight_bytes = sum(p.numel() * p.element_size() for p in backend.model.parameters())
    bandwidth = memory_bandwidth_gbs()
    bound = bandwidth * 1e9 / weight_bytes
    rows.append(("weights read per decoding step", f"{weight_bytes / 1e6:.0f} MB", f"{backend.model.dtype}"))
    rows.append(("measured memory bandwidth (copy)", f"{bandwidth:.1f} GB/s", "best of 5, 512 MB tensor"))
    rows.append(
        (
            "bandwidth bound, batch 1",
            f"{bound:.0f} tok/s",
            f"measured {measured[1]:.1f} tok/s = {measured[1] / bound:.0%} of bound",
        )
    )
    rows.append(
        (
            "bandwidth bound, batch 8",
            f"{8 * bound:.0f} tok/s",
            f"measured {measured[8]:.1f} tok/s = {measured[8] / (8 * bound):.0%} of bound",
        )
    )

    _print_table(rows, max_new_tokens=args.max_new_tokens)


def _print_table(rows: list[tuple[str, str, str]], max_new_tokens: int | None = None) -> None:
    import torch

    print(
        f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; max_new_tokens={max_new_tokens}\n"
    )
    print("| measurement | value | notes |\n|---|---|---|")
    for name, value, note in rows:
        print(f"| {name} | {value} | {note} |")


if __name__ == "__main__":
    main()
