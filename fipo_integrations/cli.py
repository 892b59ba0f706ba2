"""The ``fipo`` command line: thin subcommands over the library.

``fipo optimize "PROMPT"`` rewrites one prompt (``-`` reads stdin, ``--file prompts.jsonl`` a batch);
``fipo demo`` optimizes an example prompt and answers both versions with the embedded model.
Other subcommands (``eval``, ``pop``, ``train``) register themselves: built-in ones from
``fipo_integrations``, the training ones through the ``fipo_integrations.commands`` entry point group.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TextIO

__all__ = ["build_parser", "main"]

#: Subcommands that live in the runtime package: "module:function(subparsers)".
_BUILTIN_COMMANDS = ("fipo_integrations.evaluation.cli:register",)
_ENTRY_POINT_GROUP = "fipo_integrations.commands"


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("optimizer model")
    group.add_argument("--model", default=None, help="'default', 'embedded:NAME', a local directory or hub id")
    group.add_argument("--adapter", default=None, help="PEFT LoRA adapter directory for a local model")
    group.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    group.add_argument(
        "--backend", default="auto", choices=["auto", "transformers", "openai", "vllm"], help="backend to use"
    )
    group.add_argument("--device", default=None, help="torch device for local models (default: cuda if available)")
    group.add_argument("--judge", action="store_true", help="also let the discriminator compare rewrite and original")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the rewrite cache")
    group.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    group.add_argument("--seed", type=int, default=0, help="sampling seed")


def _make_optimizer(args: argparse.Namespace) -> Any:
    from .engine import PromptOptimizer

    return PromptOptimizer(
        args.model,
        adapter=args.adapter,
        base_url=args.base_url,
        backend=args.backend,
        device=args.device,
        cache=not args.no_cache,
        judge=args.judge,
        temperature=args.temperature,
        seed=args.seed,
    )


def _read_requests(args: argparse.Namespace) -> list[Any]:
    from .engine import OptimizationRequest

    if args.file:
        requests = []
        path = Path(args.file)
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{line_number}: not valid JSON ({exc.msg})") from exc
            if isinstance(record, str):
                record = {"prompt": record}
            if not isinstance(record, dict) or "prompt" not in record:
                raise SystemExit(f"{path}:{line_number}: expected a string or an object with a 'prompt' field")
            try:
                requests.append(
                    OptimizationRequest(
                        record["prompt"],
                        record.get("silver_response"),
                        record.get("golden_response"),
                        record.get("max_words", args.max_words),
                    )
                )
            except (TypeError, ValueError) as exc:
                raise SystemExit(f"{path}:{line_number}: {exc}") from exc
        if not requests:
            raise SystemExit(f"{path}: no prompts found")
        return requests
    if args.prompt is None:
        raise SystemExit("give a PROMPT, '-' to read it from stdin, or --file prompts.jsonl")
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    try:
        return [OptimizationRequest(prompt, args.silver_response, args.golden_response, args.max_words)]
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from exc


def _print_result(result: Any, out: TextIO) -> None:
    verdict = "accepted" if result.accepted else f"kept the original ({result.reason})"
    out.write(f"Original:  {result.original}\n")
    out.write(f"Optimized: {result.optimized}\n")
    out.write(f"Guard:     {verdict}\n")
    if not result.accepted and result.candidate:
        out.write(f"Rejected rewrite: {result.candidate}\n")
    out.write(f"Time:      {result.timings.get('total', 0.0):.2f} s{' (cached)' if result.cached else ''}\n")


def _cmd_optimize(args: argparse.Namespace) -> int:
    requests = _read_requests(args)
    optimizer = _make_optimizer(args)
    if len(requests) == 1:
        results = optimizer.optimize_batch(requests)
    else:
        from tqdm.auto import tqdm

        results = []
        chunk = max(1, args.batch_size)
        with tqdm(total=len(requests), desc="optimizing", unit="prompt", disable=args.json) as bar:
            for start in range(0, len(requests), chunk):
                results.extend(optimizer.optimize_batch(requests[start : start + chunk]))
                bar.update(len(requests[start : start + chunk]))
    for result in results:
        if args.json:
            sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        else:
            _print_result(result, sys.stdout)
            if len(results) > 1:
                sys.stdout.write("\n")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(prompt=args.prompt, max_new_tokens=args.max_new_tokens)
    return 0


def _register_optimize(subparsers: Any) -> None:
    parser = subparsers.add_parser("optimize", help="rewrite a prompt with the FIPO optimizer")
    parser.add_argument("prompt", nargs="?", help="the naive prompt ('-' reads stdin)")
    parser.add_argument("--file", help="JSONL file: one string or {prompt, silver_response?, golden_response?} a line")
    parser.add_argument("--silver-response", default=None, help="a response a model gave to the prompt")
    parser.add_argument("--golden-response", default=None, help="the response you want (ground truth)")
    parser.add_argument("--max-words", type=int, default=None, help="length budget of the rewrite in words")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per generate call with --file")
    parser.add_argument("--json", action="store_true", help="print one JSON result per line")
    _add_model_arguments(parser)
    parser.set_defaults(handler=_cmd_optimize)


def _register_demo(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="optimize an example prompt and answer both versions side by side")
    parser.add_argument("prompt", nargs="?", default=None, help="the naive prompt (default: a GSM8K-style question)")
    parser.add_argument("--max-new-tokens", type=int, default=160, help="answer length")
    parser.set_defaults(handler=_cmd_demo)


def _load_registrar(spec: str) -> Callable[[Any], None] | None:
    module_name, _, function = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # that part of the package is not present
        raise
    registrar: Callable[[Any], None] = getattr(module, function)
    return registrar


def build_parser() -> argparse.ArgumentParser:
    """The full ``fipo`` parser, with built-in and entry-point subcommands."""
    parser = argparse.ArgumentParser(prog="fipo", description="Local FIPO prompt optimization.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_optimize(subparsers)
    _register_demo(subparsers)
    for spec in _BUILTIN_COMMANDS:
        registrar = _load_registrar(spec)
        if registrar is not None:
            registrar(subparsers)
    for entry_point in entry_points(group=_ENTRY_POINT_GROUP):
        try:
            entry_point.load()(subparsers)
        except ImportError as exc:  # e.g. the training package is not installed
            logging.getLogger(__name__).debug("skipping subcommand %s: %s", entry_point.name, exc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
