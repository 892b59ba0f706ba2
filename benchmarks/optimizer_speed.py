"""Speed of the optimizer's inference paths on this machine, beside the memory-bandwidth bound.

For each embedded model and each path (transformers fp32 / bf16 / int8 weight-only via torchao, llama.cpp on
the embedded Q4 GGUF), it prints one markdown row: load time, prefill tokens/s on a 300-token prompt, decode
tokens/s at batch 1 and batch 8, one whole default rewrite (template, generation, cleaning, guard; no cache),
and batch-1 decode as a share of the bandwidth bound (bytes of weights read per token x tokens/s, divided by
the copy bandwidth measured here). It also checks that the paths write the same greedy rewrites as fp32 on
a fixed prompt set (identical rewrites and guard acceptance). The machine's CPU model and flags head the
output, so tables from different machines can sit side by side in docs/performance.md.

    python benchmarks/optimizer_speed.py                      # both small models, every available path
    python benchmarks/optimizer_speed.py --model qwen2.5-coder-0.5b-instruct --path transformers-fp32
    python benchmarks/optimizer_speed.py --engine             # + the rewrite cache (memory and SQLite)
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

PATHS = ("transformers-fp32", "transformers-bf16", "transformers-int8", "llamacpp-q4")
#: ``default`` is the default optimizer (embedded SmolLM2-135M-Instruct + the bundled FIPO adapter).
MODELS = ("default", "smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct")


def _spec(model: str) -> str:
    return model if model == "default" else f"embedded:{model}"


def _embedded_name(model: str) -> str:
    return "smollm2-135m-instruct" if model == "default" else model


#: The fixed prompt set for the same-rewrite check and the timed default rewrite (the first one).
CHECK_PROMPTS = [
    "Classify the sentiment of this review as positive or negative: {review}",
    "A train travels 120 km in 2 hours. What is its average speed?",
    "Summarize the following text: {text}",
    "Write a Python function that reverses a string.",
    "Extract all dates from the text: {document}",
    "Question: {question}\nOptions:\nA) {a}\nB) {b}\nAnswer:",
    "Fix the grammar: me and him goes to school yesterday.",
    "Turn this list into a markdown table: apples 3, pears 5, plums 2",
]
_FILLER = (
    "The committee met on Tuesday to review the quarterly budget, the hiring plan and the schedule for the new "
    "warehouse. Each department presented its figures and answered questions from the board. "
)


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


def cpu_description() -> tuple[str, str]:
    """(CPU model name, the SIMD/bf16 flags that decide the fast paths)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    wanted = ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni"]
    return name, " ".join(flag for flag in wanted if flag in flags) or "(none of avx2/avx512/amx)"


class _Timer:
    def __enter__(self) -> _Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


# ------------------------------------------------------------------------------------------------ transformers
def _transformers_row(model: str, path: str) -> dict[str, Any]:
    import torch

    from fipo_integrations.backends.hf import TransformersBackend

    dtype = {"transformers-fp32": "float32", "transformers-bf16": "bfloat16", "transformers-int8": "float32"}[path]
    quantization = "int8" if path.endswith("int8") else "none"
    with _Timer() as load:
        backend = TransformersBackend(_spec(model), dtype=dtype, quantization=quantization, device="cpu")
    lm, tokenizer = backend.model, backend.tokenizer
    ids = tokenizer((_FILLER * 20), return_tensors="pt")["input_ids"][:, :300]
    with torch.inference_mode():
        lm(ids[:, :32])  # warm-up
        with _Timer() as prefill:
            lm(ids, logits_to_keep=1)

        def decode(batch: int, new: int) -> float:
            prompt = ids[:, :16].repeat(batch, 1)
            kwargs = {"do_sample": False, "pad_token_id": tokenizer.pad_token_id, "min_new_tokens": new}
            with _Timer() as one:
                lm.generate(prompt, max_new_tokens=1, **{**kwargs, "min_new_tokens": 1})
            with _Timer() as many:
                lm.generate(prompt, max_new_tokens=new, **kwargs)
            return batch * (new - 1) / max(many.seconds - one.seconds, 1e-9)

        batch1, batch8 = decode(1, 48), decode(8, 32)
    weight_bytes = _linear_aware_bytes(lm, quantization)
    row: dict[str, Any] = {
        "load_s": load.seconds,
        "prefill_tps": 300 / prefill.seconds,
        "decode1": batch1,
        "decode8": batch8,
    }
    row.update(weight_bytes=weight_bytes, backend=backend)
    return row


def _linear_aware_bytes(lm: Any, quantization: str) -> int:
    """Bytes of weights read per decoding step (int8 linear weights count 1 byte per element + scales)."""
    import torch

    total = 0
    seen: set[int] = set()
    for module in lm.modules():
        for name, parameter in module.named_parameters(recurse=False):
            if id(parameter) in seen:
                continue
            seen.add(id(parameter))
            if quantization == "int8" and isinstance(module, torch.nn.Linear) and name == "weight":
                total += parameter.numel() + 4 * parameter.shape[0]
            else:
                total += parameter.numel() * parameter.element_size()
    return total


# ------------------------------------------------------------------------------------------------ llama.cpp
def _llamacpp_row(model: str) -> dict[str, Any]:
    from fipo_integrations.backends.llamacpp import LlamaCppBackend
    from fipo_integrations.models import embedded_gguf

    with _Timer() as load:
        backend = LlamaCppBackend(_spec(model))
    llama = backend.llama
    tokens = llama.tokenize((_FILLER * 20).encode(), add_bos=False)[:300]
    llama.reset()
    llama.eval(tokens[:32])
    llama.reset()
    with _Timer() as prefill:
        llama.eval(tokens)
    llama.reset()

    def timed(new: int) -> float:
        llama.reset()
        with _Timer() as timer:
            llama.create_completion(tokens[:16], max_tokens=new, temperature=0.0, top_k=1)
        return timer.seconds

    one, many = timed(1), timed(48)
    row: dict[str, Any] = {
        "load_s": load.seconds,
        "prefill_tps": 300 / prefill.seconds,
        "decode1": 47 / max(many - one, 1e-9),
    }
    row.update(decode8=None, weight_bytes=embedded_gguf(_embedded_name(model)).stat().st_size, backend=backend)
    return row


# ------------------------------------------------------------------------------------------------ rewrites
def _rewrites(backend: Any) -> tuple[float, list[tuple[str, bool]]]:
    """Seconds for one default rewrite (the first prompt), and every prompt's (final text, accepted)."""
    from fipo_integrations import PromptOptimizer

    optimizer = PromptOptimizer(backend, cache=False)
    with _Timer() as one:
        optimizer.optimize(CHECK_PROMPTS[0])
    results = [optimizer.optimize(prompt) for prompt in CHECK_PROMPTS]
    return one.seconds, [(result.optimized, result.accepted) for result in results]


def available_paths() -> list[str]:
    paths = ["transformers-fp32", "transformers-bf16"]
    if importlib.util.find_spec("torchao") is not None:
        paths.append("transformers-int8")
    if importlib.util.find_spec("llama_cpp") is not None:
        paths.append("llamacpp-q4")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", action="append", choices=MODELS, help="default or an embedded model (repeatable; default: all)"
    )
    parser.add_argument("--path", action="append", choices=PATHS, help="inference path (repeatable; default all)")
    parser.add_argument("--engine", action="store_true", help="also time the rewrite cache (memory and SQLite)")
    args = parser.parse_args()
    import torch

    from fipo_integrations.precision import cpu_has_native_bf16, resolve_dtype

    models = args.model or list(MODELS)
    paths = args.path or available_paths()
    bandwidth = memory_bandwidth_gbs()
    name, flags = cpu_description()
    print(
        f"\nCPU: {name}; flags: {flags}; {os.cpu_count()} cores; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    if cap:  # e.g. ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2: an AVX2-only CPU emulated on a newer one
        print(f"oneDNN capped at {cap}, ATen kernels at {os.environ.get('ATEN_CPU_CAPABILITY', 'default')}")
    print(f"native bf16: {cpu_has_native_bf16()}; the default path here: transformers-{resolve_dtype('auto', 'cpu')}")
    print(f"copy bandwidth (read + write): {bandwidth:.1f} GB/s\n")
    header = (
        "| model | path | load s | prefill tok/s (300) | decode tok/s b1 | decode tok/s b8 | one rewrite s "
        "| b1 share of bound | same rewrites as fp32 | guard accepts |"
    )
    print(header + "\n|---|---|---|---|---|---|---|---|---|---|")
    for model in models:
        reference: list[tuple[str, bool]] | None = None
        for path in paths:
            row = _llamacpp_row(model) if path == "llamacpp-q4" else _transformers_row(model, path)
            rewrite_s, rewrites = _rewrites(row["backend"])
            if path == "transformers-fp32":
                reference = rewrites
            same = (
                "—"
                if reference is None
                else f"{sum(a[0] == b[0] for a, b in zip(rewrites, reference, strict=True))}/{len(rewrites)}"
            )
            bound = bandwidth * 1e9 / row["weight_bytes"]
            decode8 = "n/a" if row["decode8"] is None else f"{row['decode8']:.1f}"
            print(
                f"| {model} | {path} | {row['load_s']:.1f} | {row['prefill_tps']:.0f} | {row['decode1']:.1f} | "
                f"{decode8} | {rewrite_s:.2f} | {row['decode1'] / bound:.0%} of {bound:.0f} | {same} | "
                f"{sum(accepted for _, accepted in rewrites)}/{len(rewrites)} |",
                flush=True,
            )
            if args.engine and path == paths[0]:
                _engine_rows(row["backend"])
            del row
            gc.collect()


def _engine_rows(backend: Any) -> None:
    from fipo_integrations import PromptOptimizer, RewriteCache

    with tempfile.TemporaryDirectory() as tmp:
        optimizer = PromptOptimizer(backend, cache=RewriteCache(Path(tmp) / "c.sqlite"))
        optimizer.optimize_batch(CHECK_PROMPTS)
        with _Timer() as warm:
            optimizer.optimize_batch(CHECK_PROMPTS)
        fresh = PromptOptimizer(backend, cache=RewriteCache(Path(tmp) / "c.sqlite"))
        with _Timer() as disk:
            fresh.optimize_batch(CHECK_PROMPTS)
    per = len(CHECK_PROMPTS)
    print(
        f"\n(engine, warm cache: memory {warm.seconds / per * 1e6:.0f} µs/prompt, "
        f"SQLite {disk.seconds / per * 1e6:.0f} µs/prompt)\n"
    )


if __name__ == "__main__":
    main()
