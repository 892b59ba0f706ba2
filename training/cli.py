"""``fipo pop ...`` and ``fipo train ...``: thin subcommands over :mod:`training`.

Registered through the ``fipo_integrations.commands`` entry point group (see pyproject.toml)::

    fipo pop build --input prompts.txt --output pop.jsonl --weak-model embedded:smollm2-135m-instruct \\
        --strong-model gpt-4o --strong-base-url https://api.example/v1
    fipo pop diversify --input pop.jsonl --output-dir data/diversified --seed 0
    fipo train sft --config training/recipes/default-smollm2-sft.yaml --adapter-dir runs/sft-adapter
    fipo train ipo --config training/recipes/default-smollm2-ipo.yaml --init-adapter runs/sft-adapter
    fipo train export --model embedded:smollm2-135m-instruct --adapter runs/sft-adapter --output runs/merged
    fipo train package --adapter runs/default --output fipo_integrations/adapters/fipo-smollm2-135m

Under ``accelerate launch`` use the module form: ``accelerate launch -m training train sft ...``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["register_pop", "register_train"]

logger = logging.getLogger(__name__)


def _errors_to_exit(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn data/config errors into a one-line ``error: ...`` and exit status 1 (no traceback)."""

    def run(args: argparse.Namespace) -> int:
        from fipo_integrations._deps import MissingDependencyError

        try:
            return handler(args)
        except (ValueError, FileNotFoundError, MissingDependencyError) as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1

    return run


# ------------------------------------------------------------------------------------------------ fipo pop
def _add_teacher_arguments(parser: argparse.ArgumentParser, role: str, default_model: str | None) -> None:
    from fipo_integrations.spec import add_model_arguments

    group = parser.add_argument_group(f"{role} teacher")
    add_model_arguments(group, prefix=f"{role}-", default_model=default_model)
    group.add_argument(f"--{role}-max-new-tokens", type=int, default=512, help="longest reply")
    group.add_argument(f"--{role}-temperature", type=float, default=0.0, help="0 = greedy")


def _teacher(args: argparse.Namespace, role: str) -> Any:
    from fipo_integrations.spec import ModelSpec, model_fields_from_args

    from .build import TeacherSpec

    fields = model_fields_from_args(args, prefix=f"{role}-")
    given = fields["model"] is not None or fields["base_url"] is not None
    return TeacherSpec(
        ModelSpec.from_options(**fields) if given else None,
        max_new_tokens=getattr(args, f"{role}_max_new_tokens"),
        temperature=getattr(args, f"{role}_temperature"),
    )


@_errors_to_exit
def _cmd_pop_build(args: argparse.Namespace) -> int:
    from .build import build_pop

    report = build_pop(
        args.input,
        args.output,
        weak=_teacher(args, "weak"),
        strong=_teacher(args, "strong"),
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        limit=args.limit,
        progress=not args.quiet,
    )
    print(report.summary())
    for error in report.errors[:10]:
        print(f"  {error}")
    return 0 if report.failed == 0 else 3


@_errors_to_exit
def _cmd_pop_diversify(args: argparse.Namespace) -> int:
    from .diversify import diversify_with, write_datasets
    from .pop import load_pop

    report = load_pop(args.input, skip_invalid=args.skip_invalid)
    print(report.summary())
    for error in report.errors[:10]:
        print(f"  skipped {error}")
    result = diversify_with(report.records, args)
    paths = write_datasets(result, args.output_dir)
    print(json.dumps(result.stats))
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


@_errors_to_exit
def _cmd_pop_validate(args: argparse.Namespace) -> int:
    from .pop import load_pop

    report = load_pop(args.input, skip_invalid=args.skip_invalid)
    print(report.summary())
    for error in report.errors:
        print(f"  {error}")
    return 0


@_errors_to_exit
def _cmd_pop_append(args: argparse.Namespace) -> int:
    from .append import build_append_records
    from .pop import load_pop, write_pop_jsonl

    sources = load_pop(args.source).records
    from pathlib import Path

    from fipo_integrations.validation import iter_jsonl

    authored = [
        value for path in args.additions for _, value in iter_jsonl(Path(path).read_text(encoding="utf-8"), path)
    ]
    report = build_append_records(sources, authored, max_added_words=args.max_added_words)
    write_pop_jsonl(report.records, args.output)
    print(report.summary())
    for reason in report.dropped[:20]:
        print(f"  dropped {reason}")
    return 0


def register_pop(subparsers: Any) -> None:
    """Add ``fipo pop build|append|diversify|validate``."""
    pop = subparsers.add_parser("pop", help="make, check and diversify POP prompt-optimization data")
    commands = pop.add_subparsers(dest="pop_command", metavar="COMMAND", required=True)

    build = commands.add_parser("build", help="make POP records from raw prompts with a weak and a strong teacher")
    build.add_argument("--input", nargs="+", required=True, help=".txt (a prompt a line) or JSON/JSONL/parquet files")
    build.add_argument("--output", required=True, help="POP JSONL to append to (resumable: finished ids are skipped)")
    build.add_argument("--batch-size", type=int, default=8, help="records per teacher call")
    build.add_argument("--concurrency", type=int, default=2, help="batches in flight at once")
    build.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_teacher_arguments(build, "weak", "embedded:smollm2-135m-instruct")
    _add_teacher_arguments(build, "strong", None)
    build.set_defaults(handler=_cmd_pop_build)

    append = commands.add_parser(
        "append", help="make append-scope POP records: a source record's raw prompt plus an authored addition"
    )
    append.add_argument("--source", nargs="+", required=True, help="the POP files the additions' ids name")
    append.add_argument(
        "--additions", nargs="+", required=True, help='JSONL of {"id", "addition", "bad_addition", "bad_kind"}'
    )
    append.add_argument("--output", required=True, help="POP JSONL to write (overwritten)")
    append.add_argument("--max-added-words", type=int, default=12, help="the guard's cap on an addition's words")
    append.set_defaults(handler=_cmd_pop_append)

    div = commands.add_parser("diversify", help="write SFT, DPO/IPO and IPL datasets as in the FIPO paper")
    div.add_argument("--input", nargs="+", required=True, help="POP files, globs, directories or a datasets name")
    div.add_argument("--output-dir", required=True, help="directory for sft.jsonl, dpo.jsonl, ipl.jsonl, stats.json")
    div.add_argument("--seed", type=int, default=0, help="seed: same input + seed = same output")
    div.add_argument("--multiple-choice-fraction", type=float, default=0.5, help="share turned into A/B choice")
    div.add_argument("--label-noise", type=float, default=0.2, help="chance the naive answer shows the golden letter")
    from .config import TrainConfig

    helps = {spec.name: spec.metadata.get("help", "") for spec in dataclasses.fields(TrainConfig)}
    div.add_argument("--none-fraction", type=float, default=None, help=helps["none_fraction"])
    div.add_argument("--budget", choices=["chosen", "runtime"], default="chosen", help=helps["budget"])
    div.add_argument("--skip-invalid", action="store_true", help="skip malformed records (counted) instead of failing")
    div.set_defaults(handler=_cmd_pop_diversify)

    val = commands.add_parser("validate", help="load POP files and report invalid and duplicate records")
    val.add_argument("--input", nargs="+", required=True, help="POP files, globs or directories")
    val.add_argument("--skip-invalid", action="store_true", help="report every invalid record instead of stopping")
    val.set_defaults(handler=_cmd_pop_validate)


# ---------------------------------------------------------------------------------------------- fipo train
def _make_train_handler(stage: str) -> Callable[[argparse.Namespace], int]:
    @_errors_to_exit
    def handler(args: argparse.Namespace) -> int:
        from .config import config_from_args

        config = config_from_args(args, stage)
        if stage == "ipl":
            from .ipl import run_ipl
            from .trainers import is_main_process

            ipl = run_ipl(config)
            if not is_main_process():
                return 0
            for metrics in ipl.rounds:
                print(
                    f"round {metrics.round}: selection rate {metrics.selection_rate:.2f}, judge accuracy "
                    f"{metrics.judge_accuracy} ({metrics.judge_heldout} held out), final loss {metrics.final_loss}"
                )
            print(f"adapter: {ipl.adapter_dir}" if ipl.adapter_dir else f"model: {ipl.model_dir}")
            if ipl.model_dir and ipl.adapter_dir:
                print(f"merged model: {ipl.model_dir}")
            return 0
        from .trainers import is_main_process, train

        result = train(config)
        if not is_main_process():
            return 0
        losses = result.losses
        if losses:
            print(f"{len(losses)} logged losses: first {losses[0]:.4f}, last {losses[-1]:.4f}")
        if result.adapter_dir:
            print(f"adapter: {result.adapter_dir}")
        if result.model_dir:
            print(f"model: {result.model_dir}")
        return 0

    return handler


@_errors_to_exit
def _cmd_export(args: argparse.Namespace) -> int:
    from .trainers import export_merged

    print(f"model: {export_merged(args.model, args.adapter, args.output)}")
    return 0


@_errors_to_exit
def _cmd_package(args: argparse.Namespace) -> int:
    from .trainers import package_adapter

    target = package_adapter(args.adapter, args.output, dtype=args.dtype, base_model_name=args.base_model_name)
    print(f"adapter: {target}")
    if args.gguf:
        from .gguf_lora import write_gguf_lora

        print(f"GGUF LoRA for llama.cpp: {write_gguf_lora(target, args.gguf_base_model)}")
    return 0


_STAGE_HELP = {
    "sft": "supervised fine-tuning on the chosen rewrites (trl SFTTrainer)",
    "dpo": "DPO on chosen vs rejected rewrites (trl DPOTrainer, sigmoid loss)",
    "ipo": "IPO on chosen vs rejected rewrites (trl DPOTrainer, loss_type='ipo')",
    "ipl": "iterative preference learning: generate, judge, repack, one preference epoch per round",
}


def register_train(subparsers: Any) -> None:
    """Add ``fipo train sft|dpo|ipo|ipl|export|package``."""
    from .config import add_config_arguments

    parser = subparsers.add_parser("train", help="fine-tune a FIPO optimizer (SFT, DPO, IPO, IPL)")
    commands = parser.add_subparsers(dest="train_command", metavar="STAGE", required=True)
    for stage, help_text in _STAGE_HELP.items():
        sub = commands.add_parser(stage, help=help_text, description=help_text)
        sub.add_argument("--config", default=None, help="YAML recipe (training/recipes/*.yaml); flags override it")
        add_config_arguments(sub)
        sub.set_defaults(handler=_make_train_handler(stage))
    export = commands.add_parser("export", help="merge a LoRA adapter into its base model (safetensors + tokenizer)")
    export.add_argument("--model", default="embedded:smollm2-135m-instruct", help="the adapter's base model")
    export.add_argument("--adapter", required=True, help="LoRA adapter directory")
    export.add_argument("--output", required=True, help="directory for the merged model")
    export.set_defaults(handler=_cmd_export)
    package = commands.add_parser(
        "package", help="copy a LoRA adapter into a compact directory to ship (weights cast, no optimizer state)"
    )
    package.add_argument("--adapter", required=True, help="LoRA adapter directory written by `fipo train`")
    package.add_argument("--output", required=True, help="target directory, e.g. the bundled adapter directory")
    package.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    package.add_argument(
        "--base-model-name",
        default=None,
        help="base model name written into adapter_config.json instead of the local path used for training",
    )
    package.add_argument(
        "--gguf",
        action="store_true",
        help="also write adapter.gguf, a GGUF LoRA that the llama.cpp backend applies to the embedded GGUF base",
    )
    package.add_argument(
        "--gguf-base-model",
        default="embedded:smollm2-135m-instruct",
        help="the model spec the adapter was trained on (its config.json names the architecture)",
    )
    package.set_defaults(handler=_cmd_package)
    logging.getLogger("training").setLevel(logging.INFO)
