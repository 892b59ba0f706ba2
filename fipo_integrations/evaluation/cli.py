"""``fipo eval``: naive against optimized task instructions on GSM8K, BBH, PiQA, CosmosQA and MMLU.

    fipo eval --data-dir data --limit 50 --optimizer none --optimizer default \\
        --model embedded:smollm2-135m-instruct --model embedded:gemma-3-270m --out eval-run

Only the standard library is imported here; the evaluation modules load when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]

_BENCHMARKS = ("gsm8k", "bbh", "piqa", "cosmosqa", "mmlu")
#: What ``--model`` and ``--optimizer`` default to when not given.
_DEFAULT_MODELS = ("embedded:smollm2-135m-instruct",)
_DEFAULT_OPTIMIZERS = ("none", "default")


def _pairs(values: list[str] | None, flag: str) -> dict[str, int]:
    result: dict[str, int] = {}
    for value in values or []:
        name, separator, number = value.partition("=")
        if not separator or name not in _BENCHMARKS:
            raise SystemExit(f"{flag} expects BENCHMARK=N with BENCHMARK in {', '.join(_BENCHMARKS)}; got {value!r}")
        try:
            result[name] = int(number)
        except ValueError:
            raise SystemExit(f"{flag} {value!r}: {number!r} is not an integer") from None
    return result


def _orders(values: list[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values or []:
        name, separator, order = value.partition("=")
        if not separator or name not in _BENCHMARKS:
            raise SystemExit(f"--option-order expects BENCHMARK=ORDER (e.g. piqa=cyclic); got {value!r}")
        result[name] = order.strip()
    return result


def _benchmarks(values: list[str] | None) -> list[str]:
    names = [name.strip().lower() for value in values or [] for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in _BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {', '.join(_BENCHMARKS)}")
    return names or list(_BENCHMARKS)


def _cmd_eval(args: argparse.Namespace) -> int:
    from .runner import EvalConfig, run_evaluation

    try:
        config = EvalConfig(
            out_dir=args.out,
            data_dir=args.data_dir,
            benchmarks=_benchmarks(args.benchmark),
            models=args.model or list(_DEFAULT_MODELS),
            optimizers=args.optimizer or list(_DEFAULT_OPTIMIZERS),
            optimizer_base_url=args.optimizer_base_url,
            optimizer_cache=not args.no_optimizer_cache,
            limit=args.limit,
            seed=args.seed,
            shots=_pairs(args.shots, "--shots"),
            max_new_tokens=_pairs(args.max_new_tokens, "--max-new-tokens"),
            mc_scoring=args.mc_scoring,
            option_orders=_orders(args.option_order),
            prompt_format=args.prompt_format,
            mmlu_instruction=args.mmlu_instruction,
            weights=args.weights,
            batch_size=args.batch_size,
            device=args.device,
            dtype=args.dtype,
            threads=args.threads,
            optimizer_max_new_tokens=args.optimizer_max_new_tokens,
            progress=not args.no_progress,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    from ..models import ModelNotAvailableError
    from .loaders import DataFormatError

    try:
        report = run_evaluation(config)
    except (DataFormatError, ModelNotAvailableError, FileNotFoundError, ValueError) as exc:
        # User errors (a missing benchmark folder, a malformed row, an unknown or uninstalled model, a checksum
        # mismatch) get one line; anything else is a bug and keeps its traceback.
        raise SystemExit(str(exc)) from exc
    sys.stdout.write(report["markdown"])
    paths = report["paths"]
    sys.stdout.write(
        f"\nReport: {paths['markdown']} and {paths['json']}"
        f"\nChart: {paths['chart'] or '(none: pip install matplotlib)'}"
        f"\nInstructions: {paths['instructions']}\nPer-item results: {paths['results']}"
        f"\nTime: {report['timing']['total_seconds']:.0f} s\n"
    )
    return 0


def _spec_group(parser: Any, title: str, option: str, kinds: str, default: tuple[str, ...]) -> Any:
    """An argument group led by ``option``, a repeatable ``[LABEL=]SPEC`` (``default`` when not given)."""
    group = parser.add_argument_group(title)
    group.add_argument(
        option, action="append", metavar="[LABEL=]SPEC", help=f"repeatable: {kinds} (default: {' and '.join(default)})"
    )
    return group


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand to the ``fipo`` parser."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate naive vs optimized task instructions on five benchmarks",
        description=(
            "Score testing models on GSM8K, BBH, PiQA, CosmosQA and MMLU with the naive task instructions "
            "and with each optimizer's rewrites; write report.md/json/png, instructions.json and a resumable "
            "per-item cache (results.jsonl) to --out."
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data-dir", default=None, help="folder with gsm8k/ bbh/ piqa/ cosmosqa/ mmlu/ (else the hub)")
    data.add_argument(
        "--benchmark",
        action="append",
        help=f"benchmark(s) to run, repeatable or comma-separated (default: all of {', '.join(_BENCHMARKS)})",
    )
    data.add_argument(
        "--limit", type=int, default=None, help="items per benchmark, drawn with --seed (BBH: spread over tasks)"
    )
    data.add_argument("--seed", type=int, default=0, help="seed of the --limit draw")
    data.add_argument(
        "--shots",
        action="append",
        metavar="BENCH=K",
        help="few-shot examples (default 3 gsm8k/bbh/piqa, 5 cosmosqa/mmlu)",
    )
    data.add_argument(
        "--mmlu-instruction",
        choices=["per-subject", "shared"],
        default="per-subject",
        help="one MMLU instruction per subject or one for all",
    )
    models = _spec_group(
        parser,
        "testing models",
        "--model",
        "embedded:NAME, a model directory, http://host/v1#MODEL, vllm:PATH",
        _DEFAULT_MODELS,
    )
    models.add_argument(
        "--mc-scoring", choices=["auto", "logprob", "generate"], default="auto", help="multiple-choice scoring"
    )
    models.add_argument(
        "--option-order",
        action="append",
        metavar="BENCH=ORDER",
        help="given (as in the data) or cyclic (score every rotation of the options and average each option "
        "over its positions; cancels a preference for one letter, n times the cost). Default piqa=cyclic",
    )
    models.add_argument(
        "--prompt-format",
        choices=["auto", "chat", "plain"],
        default="auto",
        help="auto: multiple choice on plain text, generation through the chat template with the few-shot "
        "examples as turns (as lm-evaluation-harness does it); chat/plain force one format",
    )
    models.add_argument(
        "--max-new-tokens", action="append", metavar="BENCH=N", help="generation length (default gsm8k=256, bbh=128)"
    )
    models.add_argument("--batch-size", type=int, default=8, help="prompts per forward pass")
    models.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    models.add_argument(
        "--dtype",
        default="auto",
        help="torch dtype of local models: auto (bfloat16 on GPUs and on CPUs with native bf16, else float32), "
        "bfloat16, float16 or float32; $FIPO_DTYPE sets the default",
    )
    models.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a busy CPU)")
    optimizers = _spec_group(
        parser,
        "prompt sources",
        "--optimizer",
        "none (naive), default, a model or adapter directory, embedded:NAME, a model name at "
        "--optimizer-base-url, file:PATH (fixed rewrites, JSONL of naive/rewrite)",
        _DEFAULT_OPTIMIZERS,
    )
    optimizers.add_argument(
        "--optimizer-base-url", default=None, help="OpenAI-compatible endpoint serving optimizer models"
    )
    optimizers.add_argument(
        "--optimizer-max-new-tokens", type=int, default=192, help="longest rewrite in tokens (default 192)"
    )
    optimizers.add_argument("--no-optimizer-cache", action="store_true", help="do not use the rewrite cache")
    output = parser.add_argument_group("report")
    output.add_argument("--out", default="fipo-eval", help="output directory (reruns resume from it)")
    output.add_argument(
        "--weights", choices=["size", "equal"], default="size", help="weights of the average over benchmarks"
    )
    output.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(handler=_cmd_eval)
