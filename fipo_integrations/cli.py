"""The ``fipo`` command line: thin subcommands over the library.

``fipo optimize "PROMPT"`` rewrites one prompt (``-`` reads stdin, ``--file prompts.jsonl`` a batch);
``fipo demo`` optimizes an example prompt and answers both versions with the embedded model.
Other subcommands (``eval``, ``pop``, ``train``) register themselves: built-in ones from
``fipo_integrations``, the training ones through the ``fipo_integrations.commands`` entry point group.

Errors are one line on stderr (``fipo: error: ...``: what was received, what is allowed, the fix), never a
traceback unless ``--debug`` is given. Exit codes: 0 success, 1 a runtime failure (the model cannot load, the
server cannot be reached, an item of ``--file`` failed), 2 a usage error (bad arguments or input), 130
interrupted.

>>> main(["optimize", "--temperature", "-1"])  # doctest: +SKIP
fipo optimize: error: argument --temperature: must be >= 0 (0 is greedy decoding), got -1.0
2
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

from .validation import check_max_words, check_text, decode_utf8, parse_json

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_N = TypeVar("_N", int, float)

#: Subcommands that live in the runtime package: "module:function(subparsers)".
_BUILTIN_COMMANDS = ("fipo_integrations.evaluation.cli:register",)
_ENTRY_POINT_GROUP = "fipo_integrations.commands"


class UsageError(Exception):
    """The command line or its input is wrong (exit code 2); the message says what is allowed."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage block stays in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# ------------------------------------------------------------------------------------------ argument types
def _number_type(convert: Callable[[str], _N], minimum: _N, expected: str, bound: str) -> Callable[[str], _N]:
    """An argparse ``type``: ``convert`` the text, then require at least ``minimum`` (which also rejects nan)."""

    def parse(text: str) -> _N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


_non_negative_float = _number_type(float, 0.0, "a number >= 0", ">= 0 (0 is greedy decoding)")
_positive_int = _number_type(int, 1, "a whole number >= 1", ">= 1")
_max_words = _number_type(int, 1, "a whole number of words >= 1", "a whole number of words >= 1")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    from .spec import add_model_arguments

    group = parser.add_argument_group("optimizer model")
    add_model_arguments(group)
    group.add_argument("--judge", action="store_true", help="also let the discriminator compare rewrite and original")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the rewrite cache")
    group.add_argument("--temperature", type=_non_negative_float, default=0.0, help="0 = greedy (default)")
    group.add_argument("--seed", type=int, default=0, help="sampling seed")
    group.add_argument(
        "--scope",
        choices=["free", "append"],
        default=None,
        help="what a rewrite may change: free, or append: only add a short statement of the output form to the "
        "prompt, word for word (default: append for the default optimizer, free for any other; docs/runtime.md)",
    )
    group.add_argument(
        "--prefill",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start the model's reply with the prompt so it writes only what to add (default: on in the append "
        "scope where the backend can continue a reply)",
    )
    group.add_argument(
        "--exemplars",
        metavar="bundled|FILE.jsonl",
        help="show worked examples (prompt/rewrite pairs) before each prompt: the package's pool or your JSONL",
    )


def _check_model_spec(args: argparse.Namespace) -> None:
    """A ``--model`` that is clearly a local path must exist (else it would be taken for a hub id)."""
    exemplars = getattr(args, "exemplars", None)
    if exemplars not in (None, "bundled") and not Path(exemplars).expanduser().is_file():
        raise UsageError(f"--exemplars {exemplars!r}: the file does not exist; pass 'bundled' or a JSONL of examples")
    if args.adapter is not None and not Path(args.adapter).expanduser().is_dir():
        raise UsageError(f"--adapter {args.adapter!r}: no such directory; pass the directory written by `fipo train`")
    model = args.model
    if model is None or args.base_url is not None or model == "default" or model.startswith("embedded:"):
        return
    if model.startswith(("/", ".", "~")) and not Path(model).expanduser().exists():
        raise UsageError(
            f"--model {model!r}: no such directory; pass a local model directory (config.json + *.safetensors), "
            "'default', 'embedded:NAME', or a model name together with --base-url"
        )


def _make_optimizer(args: argparse.Namespace) -> Any:
    from .engine import PromptOptimizer
    from .guard import GuardConfig
    from .spec import ModelSpec, model_fields_from_args

    _check_model_spec(args)
    try:
        exemplars = getattr(args, "exemplars", None)
        if exemplars is not None and exemplars != "bundled":
            from .exemplars import ExemplarPool

            exemplars = ExemplarPool.from_jsonl(exemplars)
        return PromptOptimizer(
            ModelSpec.from_options(**model_fields_from_args(args)),
            cache=not args.no_cache,
            judge=args.judge,
            temperature=args.temperature,
            seed=args.seed,
            exemplars=exemplars,
            guard=GuardConfig(scope=args.scope) if getattr(args, "scope", None) else None,
            prefill=getattr(args, "prefill", None),
        )
    except (ValueError, TypeError, FileNotFoundError) as exc:  # a bad option value, combination or file
        raise UsageError(str(exc)) from exc


# ------------------------------------------------------------------------------------------------- input
@dataclass
class _Item:
    """One prompt to optimize, or why its input line could not be read."""

    line: int
    request: Any = None
    error: str | None = None


def _parse_line(raw: bytes, line_number: int, default_max_words: int | None) -> _Item:
    from .engine import OptimizationRequest

    try:
        text = decode_utf8(raw, "this line")
    except ValueError as exc:
        return _Item(line_number, error=str(exc))
    try:
        record = parse_json(text)
    except ValueError as exc:
        return _Item(line_number, error=f'{exc}; write one JSON string or {{"prompt": ...}} object per line')
    if isinstance(record, str):
        record = {"prompt": record}
    if not isinstance(record, dict) or "prompt" not in record:
        return _Item(
            line_number,
            error=f"got a JSON {type(record).__name__}; expected a string or an object with a 'prompt' field",
        )
    unknown = sorted(set(record) - {"prompt", "silver_response", "golden_response", "max_words"})
    if unknown:
        return _Item(
            line_number,
            error=f"unknown field(s) {unknown}; allowed: prompt, silver_response, golden_response, max_words",
        )
    try:
        max_words = check_max_words(record.get("max_words", default_max_words))
        request = OptimizationRequest(
            record["prompt"], record.get("silver_response"), record.get("golden_response"), max_words
        )
    except (TypeError, ValueError) as exc:
        return _Item(line_number, error=str(exc))
    return _Item(line_number, request=request)


def _read_file(path_text: str, default_max_words: int | None) -> list[_Item]:
    path = Path(path_text).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"--file {path_text!r}: no such file; pass a JSONL file with one prompt per line") from None
    except IsADirectoryError:
        raise UsageError(f"--file {path_text!r} is a directory; pass a JSONL file with one prompt per line") from None
    except OSError as exc:
        raise UsageError(f"--file {path_text!r} cannot be read ({exc.strerror}); check its permissions") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    items = [
        _parse_line(raw.rstrip(b"\r"), number, default_max_words)
        for number, raw in enumerate(data.split(b"\n"), 1)
        if raw.strip()
    ]
    if not items:
        raise UsageError(f"--file {path_text!r} has no prompts; write one JSON string or object per line")
    return items


def _read_single(args: argparse.Namespace) -> _Item:
    from .engine import OptimizationRequest

    if args.prompt == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        source = "stdin"
        try:
            prompt = decode_utf8(buffer.read(), "stdin") if buffer is not None else sys.stdin.read()
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    else:
        source = "the PROMPT argument"
        prompt = args.prompt
    try:
        check_text(prompt, source)
        return _Item(0, OptimizationRequest(prompt, args.silver_response, args.golden_response, args.max_words))
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


# ----------------------------------------------------------------------------------------------- output
def _print_result(result: Any, out: TextIO) -> None:
    verdict = "accepted" if result.accepted else f"kept the original ({result.reason})"
    out.write(f"Original:  {result.original}\n")
    out.write(f"Optimized: {result.optimized}\n")
    out.write(f"Guard:     {verdict}\n")
    if not result.accepted and result.candidate:
        out.write(f"Rejected rewrite: {result.candidate}\n")
    out.write(f"Time:      {result.timings.get('total', 0.0):.2f} s{' (cached)' if result.cached else ''}\n")


def _emit(item: _Item, result: Any, args: argparse.Namespace, numbered: bool) -> bool:
    """Write one item's result or error; ``False`` when the item failed."""
    error = item.error if item.error is not None else getattr(result, "error", None)
    if error is not None:
        sys.stderr.write(f"fipo: line {item.line}: {error}\n")
        if args.json:
            sys.stdout.write(json.dumps({"line": item.line, "error": error}, ensure_ascii=False) + "\n")
        return False
    if args.json:
        record = result.to_dict()
        if numbered:
            record = {"line": item.line, **record}
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        _print_result(result, sys.stdout)
        if numbered:
            sys.stdout.write("\n")
    sys.stdout.flush()
    return True


def _cmd_optimize(args: argparse.Namespace) -> int:
    if args.file and args.prompt is not None:
        raise UsageError("give either a PROMPT (or '-') or --file, not both")
    if not args.file and args.prompt is None:
        raise UsageError("no prompt given; give a PROMPT, '-' to read it from stdin, or --file prompts.jsonl")
    items = _read_file(args.file, args.max_words) if args.file else [_read_single(args)]
    valid = [item for item in items if item.request is not None]
    optimizer = _make_optimizer(args) if valid else None
    from tqdm.auto import tqdm

    failed: list[int] = []
    chunk = args.batch_size
    with tqdm(total=len(items), desc="optimizing", unit="prompt", disable=args.json or len(items) == 1) as bar:
        for start in range(0, len(items), chunk):
            part = items[start : start + chunk]
            requests = [item.request for item in part if item.request is not None]
            results = iter(optimizer.optimize_batch(requests) if requests and optimizer is not None else [])
            for item in part:
                result = next(results) if item.request is not None else None
                if not _emit(item, result, args, numbered=bool(args.file)):
                    failed.append(item.line)
            bar.update(len(part))
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (", ..." if len(failed) > 10 else "")
        rest = "the other results were written" if len(failed) < len(items) else "nothing was optimized"
        sys.stderr.write(f"fipo: {len(failed)} of {len(items)} items failed (line {shown}); {rest}\n")
        return EXIT_FAILURE
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(prompt=args.prompt, max_new_tokens=args.max_new_tokens)
    return EXIT_OK


def _register_optimize(subparsers: Any) -> None:
    parser = subparsers.add_parser("optimize", help="rewrite a prompt with the FIPO optimizer")
    parser.add_argument("prompt", nargs="?", help="the naive prompt ('-' reads stdin)")
    parser.add_argument(
        "--file",
        help="JSONL file (UTF-8): one string or {prompt, silver_response?, golden_response?, max_words?} a line; "
        "a bad line is reported as 'line N: ...' and the others are still optimized",
    )
    parser.add_argument("--silver-response", default=None, help="a response a model gave to the prompt")
    parser.add_argument("--golden-response", default=None, help="the response you want (ground truth)")
    parser.add_argument("--max-words", type=_max_words, default=None, help="length budget of the rewrite in words")
    parser.add_argument("--batch-size", type=_positive_int, default=8, help="prompts per generate call with --file")
    parser.add_argument("--json", action="store_true", help="print one JSON result per line")
    _add_model_arguments(parser)
    parser.set_defaults(handler=_cmd_optimize)


def _register_demo(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="optimize an example prompt and answer both versions side by side")
    parser.add_argument("prompt", nargs="?", default=None, help="the naive prompt (default: a review to classify)")
    parser.add_argument("--max-new-tokens", type=_positive_int, default=160, help="answer length")
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
    parser = _Parser(
        prog="fipo",
        description="Local FIPO prompt optimization.",
        epilog="Exit codes: 0 ok, 1 runtime failure (or a failed --file item), 2 usage error.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
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
    for subparser in subparsers.choices.values():  # `fipo optimize --debug ...` works too
        with contextlib.suppress(argparse.ArgumentError):  # unless the subcommand has its own --debug
            subparser.add_argument(
                "--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback of an error"
            )
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _runtime_message(exc: Exception) -> str:
    from ._deps import MissingDependencyError
    from .models import ModelNotAvailableError

    message = _one_line(exc)
    if type(exc).__name__ == "EndpointError":
        return f"{message}; check that the server is running and that --base-url is right"
    if isinstance(exc, (ModelNotAvailableError, MissingDependencyError, OSError, ValueError)):
        return message
    return f"{type(exc).__name__}: {message} (run with --debug for the traceback)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fipo`` with ``argv``; returns the exit code (argparse itself exits 2 on a malformed command line)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except UsageError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"fipo: error: {_one_line(exc)}\n")
        return EXIT_USAGE
    except SystemExit as exc:  # subcommands that exit with a message are usage errors
        if isinstance(exc.code, str):
            if debug:
                traceback.print_exc()
            sys.stderr.write(f"fipo: error: {' '.join(exc.code.split())}\n")
            return EXIT_USAGE
        raise
    except KeyboardInterrupt:
        sys.stderr.write("fipo: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"fipo: error: {_runtime_message(exc)}\n")
        return EXIT_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
