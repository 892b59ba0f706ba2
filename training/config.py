"""Training configuration: one dataclass for SFT, DPO, IPO and IPL, loaded from YAML with CLI overrides.

Precedence: dataclass defaults < ``--config`` YAML < command-line flags. Every field has help text (shown by
``fipo train sft --help``) and is validated in ``__post_init__``; unknown YAML keys are errors that suggest
the closest field.

>>> config = TrainConfig(stage="sft", data=["pop.jsonl"], max_steps=2)
>>> config.loss_type is None, TrainConfig(stage="ipo", data=["pop.jsonl"]).loss_type
(True, 'ipo')
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["STAGES", "TrainConfig", "add_config_arguments", "config_from_args", "load_config"]

Stage = Literal["sft", "dpo", "ipo", "ipl"]
STAGES: tuple[str, ...] = ("sft", "dpo", "ipo", "ipl")
_LOSS = {"dpo": "sigmoid", "ipo": "ipo"}


def _help(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass
class TrainConfig:
    """Everything a training run needs (see ``training/recipes/*.yaml`` for complete examples)."""

    stage: Stage = _help(  # noqa: RUF009
        "sft, dpo (sigmoid loss), ipo (IPO loss) or ipl (iterative preference learning)", "sft"
    )
    model: str = _help(
        "base model: 'embedded:smollm2-135m-instruct', 'embedded:gemma-3-270m', a local directory or hub id",
        "embedded:smollm2-135m-instruct",
    )
    data: list[str] = _help(  # noqa: RUF009
        "training data: POP files/globs/dirs or a datasets name (diversified on the fly), or the sft.jsonl / "
        "dpo.jsonl / ipl.jsonl written by `fipo pop diversify`",
        factory=list,
    )
    data_format: Literal["auto", "pop", "sft", "preference", "ipl"] = _help(
        "how to read --data; auto looks at the fields of the first record", "auto"
    )
    output_dir: str = _help("run directory: checkpoints, logs, the final adapter", "")
    adapter_dir: str | None = _help("where the final LoRA adapter goes (default: OUTPUT_DIR/adapter)", None)
    export_dir: str | None = _help(
        "also merge the adapter into the base model and save a standalone model here (PromptOptimizer(model=DIR))",
        None,
    )
    init_adapter: str | None = _help("continue training this LoRA adapter (e.g. the SFT adapter for IPO)", None)
    lora: bool = _help("train a LoRA adapter (peft); --no-lora trains all weights", True)
    lora_r: int = _help("LoRA rank", 16)
    lora_alpha: int = _help("LoRA alpha (scaling = alpha / r)", 32)
    lora_dropout: float = _help("LoRA dropout", 0.05)
    lora_top_layers: int | None = _help(
        "adapt only the last N transformer layers; the backward pass then stops below them (faster on a CPU)", None
    )
    lora_target_modules: list[str] = _help(  # noqa: RUF009
        "modules LoRA adapts ('all-linear' or names)", factory=lambda: ["all-linear"]
    )
    learning_rate: float = _help("peak learning rate", 1e-4)
    num_train_epochs: float = _help("epochs over the data (ignored when max_steps > 0)", 1.0)
    max_steps: int = _help("stop after this many optimizer steps (-1: use num_train_epochs)", -1)
    per_device_train_batch_size: int = _help("examples per device per step", 4)
    gradient_accumulation_steps: int = _help("steps to accumulate before an optimizer update", 1)
    max_length: int = _help("longest tokenized example (prompt + completion); longer ones are truncated", 1024)
    warmup_steps: float = _help("warm-up steps (an int) or fraction of training (a float < 1)", 0.0)
    weight_decay: float = _help("AdamW weight decay", 0.0)
    lr_scheduler_type: str = _help("learning-rate schedule (linear, cosine, constant ...)", "linear")
    beta: float = _help("DPO/IPO beta (for IPO the regularisation strength tau)", 0.1)
    sft_weight: float = _help(
        "DPO/IPO: weight of an added SFT loss (negative log-likelihood of the chosen rewrite, trl's 'sft' loss "
        "type, as in RPO). Keeps the chosen rewrites likely, so the policy does not drift from them; 0 = off",
        0.0,
    )
    logging_steps: int = _help("log the loss every N steps", 1)
    save_steps: int = _help("write a checkpoint every N steps (0: only at the end)", 50)
    save_total_limit: int = _help("keep at most this many checkpoints", 2)
    resume: bool = _help("resume from the last checkpoint in OUTPUT_DIR (no-op when there is none)", False)
    resume_from: str | None = _help("resume from this checkpoint directory", None)
    seed: int = _help("seed for data diversification, shuffling and initialisation", 0)
    precision: Literal["auto", "bf16", "fp16", "fp32"] = _help(
        "mixed precision; auto = bf16 on GPUs that support it and on CPUs with native bf16 (AVX512-BF16/AMX), "
        "else fp32",
        "auto",
    )
    device: Literal["auto", "cpu", "cuda"] = _help("auto uses CUDA when available, else the CPU", "auto")
    gradient_checkpointing: bool = _help("trade compute for memory", False)
    group_by_length: bool = _help("batch rows of similar length together (less padding, faster steps)", False)
    drop_truncated: bool = _help("SFT: drop rows longer than max_length instead of cutting their completion", False)
    prefill: bool = _help(
        "SFT: the assistant turn starts as the raw prompt and only its continuation is trained, as the append scope "
        "generates (for append records: training/append.py); rows whose chosen prompt does not start with the "
        "raw prompt are left out",
        False,
    )
    max_samples: int | None = _help("use only the first N training rows (quick runs)", None)
    skip_invalid: bool = _help("skip malformed POP records (counted and reported) instead of failing", False)
    multiple_choice_fraction: float = _help("diversification: fraction of records turned into A/B choice", 0.5)
    label_noise: float = _help("diversification: chance the naive response shows the golden letter", 0.2)
    none_fraction: float | None = _help(
        "diversification: share of records shown as the naive prompt alone (the runtime's default form); "
        "unset draws the four template variants uniformly (the paper)",
        None,
    )
    budget: Literal["chosen", "runtime"] = _help(
        "diversification: word budget shown in the template: the chosen rewrite's length (the paper) or the "
        "runtime's default budget for the prompt when larger",
        "chosen",
    )
    report_to: str = _help("experiment tracker for transformers (none, tensorboard, wandb ...)", "none")
    dataloader_num_workers: int = _help("data loader worker processes", 0)
    # ------------------------------------------------------------------------------------------------ IPL
    rounds: int = _help("IPL: rounds of generate -> judge -> repack -> one preference epoch", 1)
    ipl_loss: Literal["ipo", "sigmoid"] = _help("IPL: preference loss of each round", "ipo")
    generation_backend: Literal["auto", "transformers", "vllm"] = _help(
        "IPL: engine for generation and judging (auto = vLLM when installed and on CUDA)", "auto"
    )
    generation_batch_size: int = _help("IPL: conversations per generate call (transformers)", 8)
    generation_max_new_tokens: int = _help("IPL: longest new prompt", 160)
    response_max_new_tokens: int = _help("IPL: longest regenerated response", 128)
    generation_temperature: float = _help("IPL: sampling temperature for new prompts and responses", 0.8)
    generation_top_p: float = _help("IPL: nucleus mass for sampling", 0.95)
    heldout_size: int = _help("IPL: records held out of training to measure the judge's accuracy", 8)
    discriminator_keep: float = _help("IPL: fraction of discriminator rows kept each round (paper: 0.5)", 0.5)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if isinstance(self.data, str):
            self.data = [self.data]
        if isinstance(self.lora_target_modules, str):
            self.lora_target_modules = [self.lora_target_modules]
        if not self.output_dir:
            self.output_dir = str(Path("runs") / f"fipo-{self.stage}")
        positive = (
            "lora_r",
            "lora_alpha",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "max_length",
            "logging_steps",
            "rounds",
            "generation_batch_size",
            "generation_max_new_tokens",
            "response_max_new_tokens",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("save_steps", "save_total_limit", "heldout_size", "dataloader_num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("lora_dropout", "multiple_choice_fraction", "label_noise", "discriminator_keep"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.lora_top_layers is not None and self.lora_top_layers < 1:
            raise ValueError(f"lora_top_layers must be a positive integer or unset, got {self.lora_top_layers!r}")
        if self.none_fraction is not None and not 0.0 <= self.none_fraction <= 1.0:
            raise ValueError(f"none_fraction must be in [0, 1] or unset, got {self.none_fraction!r}")
        if self.sft_weight < 0:
            raise ValueError(f"sft_weight must be >= 0 (0 turns the added SFT loss off), got {self.sft_weight}")
        if self.learning_rate <= 0 or self.beta <= 0:
            raise ValueError(f"learning_rate and beta must be > 0, got {self.learning_rate} and {self.beta}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (use epochs) or > 0, got {self.max_steps}")
        if self.max_steps == -1 and self.num_train_epochs <= 0:
            raise ValueError(f"num_train_epochs must be > 0, got {self.num_train_epochs}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.max_samples is not None and self.max_samples < 1:
            raise ValueError(f"max_samples must be >= 1 or None, got {self.max_samples}")
        if self.generation_temperature < 0 or not 0 < self.generation_top_p <= 1:
            raise ValueError("generation_temperature must be >= 0 and generation_top_p in (0, 1]")
        if self.init_adapter is not None and not self.lora:
            raise ValueError("init_adapter continues a LoRA adapter; it needs lora: true (or merge it first)")
        if self.prefill and self.stage != "sft":
            raise ValueError(
                f"prefill trains the continuation of a prefilled reply: stage 'sft' only, got {self.stage!r}"
            )

    @property
    def loss_type(self) -> str | None:
        """trl's DPO ``loss_type`` for preference stages (``None`` for SFT)."""
        if self.stage == "ipl":
            return self.ipl_loss
        return _LOSS.get(self.stage)

    @property
    def final_adapter_dir(self) -> Path:
        return Path(self.adapter_dir) if self.adapter_dir else Path(self.output_dir) / "adapter"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def load_config(path: str | Path | None, *, stage: str | None = None, **overrides: Any) -> TrainConfig:
    """Build a :class:`TrainConfig` from a YAML file (optional) plus keyword overrides.

    >>> load_config(None, stage="dpo", data=["x.jsonl"]).loss_type
    'sigmoid'
    """
    values: dict[str, Any] = {}
    if path is not None:
        import yaml

        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"config file {str(file)!r} does not exist (see training/recipes/*.yaml)")
        loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{file}: expected a YAML mapping of config fields, got {type(loaded).__name__}")
        names = _field_names()
        for key in loaded:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{file}: unknown config key {key!r}{hint} (allowed: {', '.join(names)})")
        values.update(loaded)
        if stage is not None and values.get("stage", stage) != stage:
            raise ValueError(
                f"{file} is a {values['stage']!r} recipe but the command is `fipo train {stage}`; "
                f"use `fipo train {values['stage']}` or another recipe"
            )
    if stage is not None:
        values["stage"] = stage
    values.update(overrides)
    return TrainConfig(**values)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner type, optional?) for ``X | None``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def add_config_arguments(parser: argparse.ArgumentParser, *, exclude: tuple[str, ...] = ("stage",)) -> None:
    """Add one ``--flag`` per :class:`TrainConfig` field; unset flags do not override the YAML."""
    hints = typing.get_type_hints(TrainConfig)
    group = parser.add_argument_group("training config (overrides --config)")
    for spec in dataclasses.fields(TrainConfig):
        if spec.name in exclude:
            continue
        flag = "--" + spec.name.replace("_", "-")
        inner, optional = _unwrap(hints[spec.name])
        help_text = spec.metadata.get("help", "")
        kwargs: dict[str, Any] = {"dest": spec.name, "default": argparse.SUPPRESS, "help": help_text}
        if inner is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if typing.get_origin(inner) is list:
            group.add_argument(flag, nargs="+", metavar="VALUE", **kwargs)
            continue
        if typing.get_origin(inner) is Literal:
            group.add_argument(flag, choices=list(typing.get_args(inner)), **kwargs)
            continue
        converter = inner if inner in (int, float, str) else str
        if optional:
            base = converter

            def converter(text: str, _base: Any = base) -> Any:
                return None if text.lower() in ("none", "null") else _base(text)

        group.add_argument(flag, type=converter, metavar=spec.name.upper(), **kwargs)


def config_from_args(args: argparse.Namespace, stage: str) -> TrainConfig:
    """The config for ``fipo train STAGE --config FILE --flag ...``."""
    names = set(_field_names()) - {"stage"}
    overrides = {name: getattr(args, name) for name in names if hasattr(args, name)}
    return load_config(getattr(args, "config", None), stage=stage, **overrides)
