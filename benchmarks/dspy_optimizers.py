"""FIPO against DSPy's own instruction optimizers (COPRO, MIPROv2, GEPA) on the same local task model.

Fully offline on CPU. For each program of ``benchmarks/dspy_programs.py`` (GSM8K, a BBH task, MMLU; zero-shot,
so the instruction is what changes) every contender compiles the same uncompiled program with the same task
model, the same train / validation examples and about the same budget of metric calls, and the compiled
program is scored on a held-back split no contender saw:

- ``fipo``: the FIPO teleprompter with the default FIPO model (scores ``1 + num_candidates`` instructions on the
  validation set, keeps a rewrite only where it scores strictly higher);
- ``copro``: ``dspy.COPRO(breadth=num_candidates, depth=1)``, candidates scored on the validation set;
- ``mipro``: ``dspy.MIPROv2`` instruction-only (no demos), ``num_candidates`` instructions, as many trials,
  full evaluation on the validation set;
- ``gepa``: ``dspy.GEPA`` with its default reflective proposer, ``max_metric_calls`` = the budget;
- ``gepa-fipo``: ``dspy.GEPA`` with :class:`~fipo_integrations.FIPOProposer` as ``instruction_proposer``;
- ``fipo-prompt-model``: the FIPO teleprompter with ``--prompt-model`` as its optimizer model (the FIPO
  template, no adapter): the FIPO method with the same proposer model as COPRO, MIPROv2 and GEPA.

COPRO, MIPROv2 and GEPA's proposer use ``--prompt-model`` (default: the embedded Qwen2.5-Coder-1.5B-Instruct,
eleven times the default FIPO model; the 0.5B fails COPRO's two-field proposal format). Printed per program: held-
back accuracy before and after (Wilson 95% CI), the paired difference (95% CI, exact McNemar p),
optimizer-model generations, task-model calls and metric calls while compiling, wall time, and the final
instruction. Results are appended to ``--output`` (JSONL) as each contender finishes; a rerun skips what is
there and answers repeated model calls from DSPy's disk cache (``--cache-dir``), so an interrupted run resumes.

    python benchmarks/dspy_optimizers.py --data-dir ../shared/data --output runs/dspy/results.jsonl
    python benchmarks/dspy_optimizers.py --programs mmlu --task-model embedded:qwen2.5-coder-1.5b-instruct \\
        --output runs/dspy/results-1.5b.jsonl
    python benchmarks/dspy_optimizers.py --table runs/dspy/results.jsonl   # print the table again

Requests from DSPy's evaluation threads (``--threads``) are batched by ``LocalLM``; on a 2-core CPU 8 threads
run a short-answer evaluation about 2.5 times faster than one.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dspy_programs import Program, feedback_metric, load_program

from fipo_integrations.backends.base import Backend, GenerationParams
from fipo_integrations.evaluation.stats import paired_difference, wilson_interval
from fipo_integrations.templates import ChatMessage

METHODS = ("fipo", "copro", "mipro", "gepa", "gepa-fipo", "fipo-prompt-model")


class CountingBackend(Backend):
    """Delegates to another backend and counts the replies it generates."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.generations = 0

    @property
    def context_window(self) -> int | None:
        return self.inner.context_window

    def count_tokens(self, conversation: Sequence[ChatMessage]) -> int | None:
        return self.inner.count_tokens(conversation)

    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        self.generations += len(conversations) * params.num_candidates
        return self.inner.generate(conversations, params)


class CountingMetric:
    """A metric that counts its calls (every program run scored while compiling)."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.metric(*args, **kwargs)


def _lm_counter(dspy: Any) -> Any:
    """A DSPy callback counting LM replies per engine (``n`` per call), cache hits included (copies of an LM share
    the engine)."""
    from dspy.utils.callback import BaseCallback

    class LMCalls(BaseCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.counts: dict[int, int] = {}

        def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            key = id(getattr(instance, "_engine_spec", instance))
            options = {**inputs, **(inputs.get("kwargs") or {})}  # getcallargs puts **kwargs under "kwargs"
            replies = options.get("n") or options.get("num_generations") or 1  # COPRO asks for n at once
            self.counts[key] = self.counts.get(key, 0) + int(replies)

        def of(self, lm: Any) -> int:
            return self.counts.get(id(getattr(lm, "_engine_spec", lm)), 0)

    return LMCalls()


def evaluate(dspy: Any, program: Any, examples: list[Any], metric: Any, threads: int) -> list[bool]:
    result = dspy.Evaluate(
        devset=examples, metric=metric, num_threads=threads, display_progress=True, max_errors=len(examples) + 1
    )(program)  # a reply the adapter cannot parse scores 0 and never cancels the evaluation
    return [bool(score) for _, _, score in result.results]


def compile_with(
    method: str, dspy: Any, student: Any, program: Program, *, prompt_lm: Any, args: argparse.Namespace
) -> tuple[Any, CountingMetric, int]:
    """The compiled program, the counting metric used, and the optimizer-model generations (FIPO model)."""
    from fipo_integrations import FIPO, FIPOProposer, PromptOptimizer
    from fipo_integrations.backends import make_backend

    metric = CountingMetric(program.metric)
    budget = args.budget or (1 + args.num_candidates) * len(program.val)
    fipo_backend = None
    if method in ("fipo", "gepa-fipo"):
        fipo_backend = CountingBackend(make_backend(args.fipo_model))
        fipo_optimizer = PromptOptimizer(fipo_backend, cache=False)
    elif method == "fipo-prompt-model":
        fipo_backend = CountingBackend(prompt_lm.backend)  # the loaded prompt-model weights
        fipo_optimizer = PromptOptimizer(fipo_backend, cache=False)
    if method in ("fipo", "fipo-prompt-model"):
        teleprompter = FIPO(
            metric=metric,
            optimizer=fipo_optimizer,
            num_candidates=args.num_candidates,
            num_threads=args.threads,
            seed=args.seed,
        )
        compiled = teleprompter.compile(student, trainset=program.train, valset=program.val)
        print(compiled.fipo_report.summary(), flush=True)
    elif method == "copro":
        copro = dspy.COPRO(
            prompt_model=prompt_lm, metric=metric, breadth=args.num_candidates, depth=1, init_temperature=1.0
        )
        compiled = copro.compile(
            student, trainset=program.val, eval_kwargs={"num_threads": args.threads, "display_progress": True}
        )
    elif method == "mipro":
        mipro = dspy.MIPROv2(
            metric=metric,
            prompt_model=prompt_lm,
            max_bootstrapped_demos=0,
            max_labeled_demos=0,
            auto=None,
            num_candidates=args.num_candidates,
            num_threads=args.threads,
            seed=args.seed,
            verbose=False,
        )
        compiled = mipro.compile(
            student,
            trainset=program.train,
            valset=program.val,
            num_trials=args.num_candidates,
            minibatch=False,
        )
    elif method in ("gepa", "gepa-fipo"):
        gepa_metric = CountingMetric(feedback_metric(dspy, program.metric))
        metric = gepa_metric
        gepa = dspy.GEPA(
            metric=gepa_metric,
            max_metric_calls=budget,
            reflection_lm=prompt_lm if method == "gepa" else None,
            instruction_proposer=FIPOProposer(fipo_optimizer) if method == "gepa-fipo" else None,
            num_threads=args.threads,
            seed=args.seed,
            use_merge=False,
        )
        compiled = gepa.compile(student, trainset=program.train, valset=program.val)
    else:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return compiled, metric, fipo_backend.generations if fipo_backend is not None else 0


def _instruction(program: Any) -> str:
    return str(program.predictors()[0].signature.instructions)


def run_program(
    dspy: Any, name: str, args: argparse.Namespace, task_lm: Any, prompt_lm: Any, done: set[tuple[str, str]]
) -> None:
    program = load_program(
        dspy,
        name,
        args.data_dir,
        seed=args.seed,
        sizes=(args.train_size, args.val_size, args.test_size),
        bbh_task=args.bbh_task,
    )
    student = program.build(dspy)
    print(f"\n== {program.name}: {program.source}; naive instruction {program.instruction!r}", flush=True)
    before = evaluate(dspy, student, program.test, program.metric, args.threads)
    for method in args.methods:
        if (program.name, method) in done:
            continue
        counter = _lm_counter(dspy)
        dspy.settings.callbacks.append(counter)
        started = time.perf_counter()
        error = None
        try:
            compiled, metric, fipo_generations = compile_with(
                method, dspy, student, program, prompt_lm=prompt_lm, args=args
            )
        except Exception as exc:  # a contender that fails to compile is a result too
            logging.exception("%s failed on %s", method, program.name)
            compiled, metric, fipo_generations, error = None, CountingMetric(None), 0, f"{type(exc).__name__}: {exc}"
        finally:
            dspy.settings.callbacks.remove(counter)
        seconds = time.perf_counter() - started
        prompt_generations = counter.of(prompt_lm) if method in ("copro", "mipro", "gepa") else 0
        after = evaluate(dspy, compiled, program.test, program.metric, args.threads) if compiled is not None else []
        row = {
            "program": program.name,
            "method": method,
            "task_model": args.task_model,
            "prompt_model": args.prompt_model if method in ("copro", "mipro", "gepa") else None,
            "optimizer_model": (args.prompt_model if method == "fipo-prompt-model" else args.fipo_model or "default")
            if method in ("fipo", "gepa-fipo", "fipo-prompt-model")
            else None,
            "adapter": args.adapter,
            "seed": args.seed,
            "train": len(program.train),
            "val": len(program.val),
            "before": before,
            "after": after,
            "optimizer_generations": fipo_generations + prompt_generations,
            "task_calls": counter.of(task_lm),
            "metric_calls": metric.calls,
            "compile_seconds": round(seconds, 1),
            "naive": program.instruction,
            "instruction": _instruction(compiled) if compiled is not None else None,
            "error": error[:500] if error else None,
        }
        with args.output.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        print(
            f"-- {program.name} {method}: {sum(before)}/{len(before)} -> {sum(after)}/{len(after)} {error or ''}",
            flush=True,
        )


def _proposer(row: dict[str, Any]) -> str:
    model = str(row.get("optimizer_model") or row.get("prompt_model") or "")
    return model.removeprefix("embedded:").replace("default", "FIPO default (SmolLM2-135M + adapter)")


def print_table(rows: list[dict[str, Any]]) -> None:
    """Markdown table per (program, task model) of the result rows."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["program"], row["task_model"]), []).append(row)
    for (program, task_model), group in groups.items():
        first = group[0]
        n = len(first["before"])
        low, high = wilson_interval(sum(first["before"]), n)
        print(
            f"\n#### {program}: task model {task_model}, {first['adapter']} adapter; train {first['train']}, "
            f"val {first['val']}, held back {n}; uncompiled {100 * sum(first['before']) / n:.1f}% "
            f"[{100 * low:.1f}, {100 * high:.1f}]\n"
        )
        print(
            "| method | proposer model | held-back after [95% CI] | Δ vs uncompiled [95% CI] (p) "
            "| optimizer-model generations | task-model calls (compile) | metric calls | compile wall time (s) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for row in group:
            if row.get("error"):
                print(
                    f"| {row['method']} | {_proposer(row)} | failed to compile | | | {row['task_calls']} | "
                    f"| {row['compile_seconds']:.0f} |"
                )
                continue
            after = row["after"]
            low, high = wilson_interval(sum(after), len(after))
            diff = paired_difference(row["before"], after)
            print(
                f"| {row['method']} | {_proposer(row)} | "
                f"{100 * sum(after) / len(after):.1f}% [{100 * low:.1f}, {100 * high:.1f}] | "
                f"{100 * diff.difference:+.1f} [{100 * diff.ci_low:+.1f}, {100 * diff.ci_high:+.1f}] "
                f"(p {diff.p_value:.2f}) | {row['optimizer_generations']} | {row['task_calls']} | "
                f"{row['metric_calls']} | {row['compile_seconds']:.0f} |"
            )
        print()
        for row in group:
            print(f"- {row['method']}: {row['error'] if row.get('error') else repr(row['instruction'])}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--programs", default="gsm8k,bbh,mmlu", help="comma-separated: gsm8k, bbh, mmlu")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated from {', '.join(METHODS)}")
    parser.add_argument("--bbh-task", default="boolean_expressions", help="the BBH task of the bbh program")
    parser.add_argument("--task-model", default="embedded:qwen2.5-coder-0.5b-instruct")
    parser.add_argument(
        "--prompt-model",
        default="embedded:qwen2.5-coder-1.5b-instruct",
        help="COPRO / MIPROv2 / GEPA proposer model (default: the 1.5B, larger than every FIPO model)",
    )
    parser.add_argument("--fipo-model", help="FIPO optimizer model spec (default: the default FIPO model)")
    parser.add_argument("--adapter", choices=("chat", "json", "plain"), default="chat", help="DSPy adapter")
    parser.add_argument("--train-size", type=int, default=8, help="examples FIPO shows, MIPROv2/GEPA train on")
    parser.add_argument("--val-size", type=int, default=16, help="selection examples every contender scores on")
    parser.add_argument("--test-size", type=int, default=60, help="held-back examples")
    parser.add_argument("--num-candidates", type=int, default=4, help="instructions each contender proposes")
    parser.add_argument("--budget", type=int, help="GEPA's max_metric_calls (default (1 + candidates) × val)")
    parser.add_argument("--max-tokens", type=int, default=384, help="task-model reply budget")
    parser.add_argument("--threads", type=int, default=8, help="DSPy evaluation threads (batched by LocalLM)")
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path("runs/dspy/cache"), help="DSPy's disk cache")
    parser.add_argument("--output", type=Path, default=Path("runs/dspy/results.jsonl"))
    parser.add_argument("--table", type=Path, help="only print the table of this results file")
    args = parser.parse_args(argv)
    if args.table:
        print_table([json.loads(line) for line in args.table.read_text(encoding="utf-8").splitlines() if line])
        return
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")

    import dspy
    import torch

    from fipo_integrations import LocalLM
    from fipo_integrations.dspy.adapter import PlainTextAdapter

    torch.set_num_threads(args.torch_threads)
    logging.basicConfig(level=logging.WARNING)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    dspy.configure_cache(enable_disk_cache=True, disk_cache_dir=str(args.cache_dir))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    done: set[tuple[str, str]] = set()
    if args.output.exists():
        for line in args.output.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row["task_model"] == args.task_model:
                    done.add((row["program"], row["method"]))
    task_lm = LocalLM(args.task_model, max_tokens=args.max_tokens)
    prompt_lm = LocalLM(args.prompt_model, max_tokens=512)
    adapter = {"chat": dspy.ChatAdapter, "json": dspy.JSONAdapter, "plain": PlainTextAdapter}[args.adapter]()
    dspy.configure(lm=task_lm, adapter=adapter, max_errors=10**6)  # the contenders' own evaluations too
    for name in [p.strip() for p in args.programs.split(",") if p.strip()]:
        run_program(dspy, name, args, task_lm, prompt_lm, done)
    print_table([json.loads(line) for line in args.output.read_text(encoding="utf-8").splitlines() if line])


if __name__ == "__main__":
    main()
