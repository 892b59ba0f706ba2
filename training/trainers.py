"""SFT, DPO and IPO fine-tuning with trl, LoRA (peft) or full weights, on CPU, one GPU or many.

The same function runs alone or under ``accelerate launch`` (DDP, FSDP, DeepSpeed ZeRO-3; see
``training/recipes/accelerate``): trl's trainers handle the distribution, and files outside the trainer are
written by the main process only.

>>> from training.config import TrainConfig
>>> config = TrainConfig(stage="sft", data=["training/data/pop-seed/parts/*.jsonl"], max_steps=2)
>>> result = train(config)  # doctest: +SKIP
>>> result.adapter_dir  # doctest: +SKIP
PosixPath('runs/fipo-sft/adapter')
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fipo_integrations import models
from fipo_integrations._deps import require
from fipo_integrations.precision import cpu_has_native_bf16
from fipo_integrations.templates import TEMPLATE_VERSION

from .config import TrainConfig
from .data import load_training_rows, to_trl_rows

__all__ = ["TrainResult", "export_merged", "is_main_process", "resolve_model_path", "train"]

logger = logging.getLogger(__name__)
#: Written next to every adapter / exported model: how it was made.
METADATA_FILE = "fipo_training.json"


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    output_dir: Path
    #: The final LoRA adapter (``PromptOptimizer(model=BASE, adapter=DIR)``); ``None`` for full weights.
    adapter_dir: Path | None
    #: A standalone model (``PromptOptimizer(model=DIR)``), when exported or trained with full weights.
    model_dir: Path | None
    train_rows: int
    #: The trainer's log entries (``loss``, ``learning_rate``, ``epoch``, ``step`` ...).
    log_history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def losses(self) -> list[float]:
        return [entry["loss"] for entry in self.log_history if "loss" in entry]


def resolve_model_path(model: str) -> str:
    """A loadable path for a model spec: ``embedded:NAME`` and ``default`` resolve to the local copy."""
    return models.resolve_model_path(model)[0]


def _distributed() -> Any:
    torch = require("torch")
    dist = torch.distributed
    return dist if dist.is_available() and dist.is_initialized() else None


def is_main_process() -> bool:
    """True outside distributed runs and on rank 0 inside them.

    Reads the process group (or the launcher's environment) instead of creating accelerate's ``PartialState``,
    which must first be created by the trainer (with ``cpu=True`` on CPU) for multi-process CPU runs to work.
    """
    dist = _distributed()
    if dist is not None:
        return bool(dist.get_rank() == 0)
    for name in ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name]) == 0
    return True


def _wait_for_everyone() -> None:
    dist = _distributed()
    if dist is not None:
        dist.barrier()


def _world_size() -> int:
    dist = _distributed()
    return int(dist.get_world_size()) if dist is not None else 1


def _use_cuda(config: TrainConfig) -> bool:
    torch = require("torch")
    if config.device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device='cuda' was asked for but no CUDA device is visible; use --device cpu or auto")
        return True
    return config.device == "auto" and bool(torch.cuda.is_available())


def _precision(config: TrainConfig, cuda: bool) -> dict[str, Any]:
    """Trainer precision flags. ``auto`` on a CPU is bf16 autocast (with ``use_cpu=True``) only where the CPU
    executes bf16 natively, else fp32 (see :mod:`fipo_integrations.precision`)."""
    torch = require("torch")
    if config.precision == "fp32":
        return {"bf16": False, "fp16": False, "use_cpu": not cuda}
    if config.precision == "fp16":
        if not cuda:
            raise ValueError("precision='fp16' needs a CUDA device; on CPU use bf16 (default) or fp32")
        return {"bf16": False, "fp16": True}
    if cuda:
        supported = bool(torch.cuda.is_bf16_supported())
        if config.precision == "bf16" and not supported:
            raise ValueError("this GPU does not support bf16; use --precision fp16 or fp32")
        return {"bf16": supported, "fp16": False}
    # On a CPU, bf16 autocast is fast only with native bf16 (AVX512-BF16/AMX); elsewhere it is ~100x slower.
    if config.precision == "bf16" or cpu_has_native_bf16():
        if config.precision == "bf16" and not cpu_has_native_bf16():
            logger.warning("precision='bf16' on a CPU without native bf16 (no AVX512-BF16/AMX) runs far slower")
        return {"bf16": True, "fp16": False, "use_cpu": True}
    logger.info("precision: fp32 (this CPU has no native bf16; bf16 autocast would run ~100x slower)")
    return {"bf16": False, "fp16": False, "use_cpu": True}


def _load_model_and_tokenizer(config: TrainConfig, cuda: bool) -> tuple[Any, Any]:
    torch = require("torch")
    transformers = require("transformers")
    path = resolve_model_path(config.model)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"model {config.model!r} has no chat template; FIPO data is chat-formatted. Use an instruction-tuned "
            "model (e.g. embedded:smollm2-135m-instruct) or add a chat_template to its tokenizer_config.json"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # LoRA on a GPU keeps the frozen base in bf16; full fine-tuning and CPU keep fp32 master weights.
    dtype = torch.bfloat16 if cuda and config.lora and torch.cuda.is_bf16_supported() else torch.float32
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype, use_safetensors=True)
    if config.init_adapter:
        peft = require("peft", feature="continuing a LoRA adapter")
        adapter = Path(config.init_adapter)
        if not (adapter / "adapter_config.json").is_file():
            raise FileNotFoundError(f"init_adapter={str(adapter)!r} is not a PEFT adapter dir (no adapter_config.json)")
        model = peft.PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
    return model, tokenizer


def _lora_config(config: TrainConfig, model: Any = None) -> Any:
    peft = require("peft", feature="LoRA training")
    targets: str | list[str] = config.lora_target_modules
    num_layers = None
    if model is not None:
        num_layers = getattr(model.config.get_text_config(), "num_hidden_layers", None)
    if targets == ["all-linear"]:
        # peft's layers_to_transform needs module names, not the "all-linear" shorthand
        targets = _linear_names(model) if config.lora_top_layers is not None and model is not None else "all-linear"
    return peft.LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
        **_top_layers(config, num_layers),
    )


def _linear_names(model: Any) -> list[str]:
    """The names of the model's linear layers below the LM head (what peft's "all-linear" means)."""
    torch = require("torch")
    head = model.get_output_embeddings()
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module is not head
    }
    return sorted(names)


def _top_layers(config: TrainConfig, num_layers: int | None) -> dict[str, Any]:
    if config.lora_top_layers is None:
        return {}
    if num_layers is None:
        raise ValueError("lora_top_layers needs the model's number of layers")
    first = max(0, num_layers - config.lora_top_layers)
    return {"layers_to_transform": list(range(first, num_layers))}


def _checkpointing_arg() -> str:
    import dataclasses

    transformers = require("transformers")
    names = {f.name for f in dataclasses.fields(transformers.TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def _trainer_args(config: TrainConfig, cuda: bool) -> dict[str, Any]:
    return {
        _checkpointing_arg(): config.gradient_checkpointing,
        "output_dir": config.output_dir,
        "learning_rate": config.learning_rate,
        "num_train_epochs": config.num_train_epochs,
        "max_steps": config.max_steps,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "warmup_steps": int(config.warmup_steps) if config.warmup_steps >= 1 else config.warmup_steps,
        "weight_decay": config.weight_decay,
        "lr_scheduler_type": config.lr_scheduler_type,
        "logging_steps": config.logging_steps,
        "logging_first_step": True,
        "save_strategy": "steps" if config.save_steps > 0 else "no",
        "save_steps": max(config.save_steps, 1),
        "save_total_limit": config.save_total_limit or None,
        "seed": config.seed,
        "report_to": config.report_to,
        "dataloader_num_workers": config.dataloader_num_workers,
        "max_length": config.max_length,
        "disable_tqdm": False,
        **({"train_sampling_strategy": "group_by_length"} if config.group_by_length else {}),
        **_precision(config, cuda),
    }


def _dpo_trainer_class(trl: Any) -> Any:
    """trl's DPOTrainer, with ``group_by_length`` working on its tokenized preference rows.

    transformers' length-grouped sampler looks for an ``input_ids`` (or ``length``) column, which trl's preference
    rows lack (``prompt_ids``, ``chosen_ids``, ``rejected_ids``), and stops with an error; the override measures
    each row as its prompt plus the longer of its two completions.
    """
    from transformers.trainer_pt_utils import LengthGroupedSampler

    class LengthGroupedDPOTrainer(trl.DPOTrainer):  # type: ignore[misc, name-defined]
        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            columns = getattr(dataset, "column_names", None) or []
            if self.args.train_sampling_strategy != "group_by_length" or "prompt_ids" not in columns:
                return super()._get_train_sampler(train_dataset)
            lengths = [
                len(prompt) + max(len(chosen), len(rejected))
                for prompt, chosen, rejected in zip(
                    dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True
                )
            ]
            size = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return LengthGroupedSampler(size, dataset=dataset, lengths=lengths)

    return LengthGroupedDPOTrainer


def _sft_trainer_class(trl: Any) -> Any:
    """trl's SFTTrainer, with a CPU loss that projects only the completion tokens through the LM head.

    On a CPU (no Triton), trl's fused LM head scores *every* position, prompt and padding included, and computes
    the entropy of each: with a 151k-token vocabulary (Qwen) and a meta-prompt three times longer than the
    rewrite, that is most of a step. The override computes the same token-mean negative log-likelihood over the
    completion tokens only (``labels != -100``). Elsewhere (a GPU, several processes), and whenever trl's other
    loss options are in use, trl's own ``compute_loss`` runs.
    """

    class CompletionOnlySFTTrainer(trl.SFTTrainer):  # type: ignore[misc, name-defined]
        def compute_loss(
            self, model: Any, inputs: Any, return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            own = (
                not return_outputs
                and self.args.loss_type == "nll"
                and self.label_smoother is None
                and self.compute_loss_func is None
                and not self.aux_loss_enabled
                and inputs["input_ids"].device.type == "cpu"
                and self.accelerator.num_processes == 1  # DDP syncs gradients only through its own forward
            )
            if not own:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            torch = require("torch")
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            backbone = getattr(base, base.base_model_prefix)
            hidden = backbone(
                input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"), use_cache=False
            ).last_hidden_state
            labels = inputs["labels"][:, 1:]
            mask = labels != -100
            logits = base.get_output_embeddings()(hidden[:, :-1][mask]).float()
            targets = labels[mask]
            total = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
            count = mask.sum() if num_items_in_batch is None else num_items_in_batch
            loss = total / torch.as_tensor(count).clamp(min=1)
            mode = "train" if model.training else "eval"
            with torch.no_grad():
                correct = (logits.argmax(-1) == targets).float().mean().item() if targets.numel() else 0.0
            self._metrics[mode]["mean_token_accuracy"].append(correct)
            if mode == "train" and "attention_mask" in inputs:
                self._total_train_tokens += int(inputs["attention_mask"].sum().item())
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return loss

    return CompletionOnlySFTTrainer


class _JsonlLog:
    """A trainer callback appending every log entry to ``OUTPUT_DIR/train_log.jsonl`` (main process)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def make(self) -> Any:
        transformers = require("transformers")
        path = self.path

        class Callback(transformers.TrainerCallback):  # type: ignore[misc, name-defined]
            def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
                if state.is_world_process_zero and logs:
                    with path.open("a", encoding="utf-8") as handle:
                        handle.write(json.dumps({"step": state.global_step, "time": time.time(), **logs}) + "\n")

        return Callback()


def _resume_argument(config: TrainConfig) -> str | bool | None:
    if config.resume_from:
        if not Path(config.resume_from).is_dir():
            raise FileNotFoundError(f"resume_from={config.resume_from!r} is not a checkpoint directory")
        return config.resume_from
    if not config.resume:
        return None
    from transformers.trainer_utils import get_last_checkpoint

    output = Path(config.output_dir)
    last = get_last_checkpoint(str(output)) if output.is_dir() else None
    if last is None:
        logger.warning("--resume: no checkpoint in %s yet; starting from the beginning", output)
        return None
    logger.info("resuming from %s", last)
    return last


def _write_metadata(directory: Path, config: TrainConfig, kind: str) -> None:
    meta = {
        "kind": kind,
        "stage": config.stage,
        "base_model": config.model,
        "template_version": TEMPLATE_VERSION,
        "config": config.to_dict(),
    }
    (directory / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def train(
    config: TrainConfig,
    *,
    rows: list[dict[str, Any]] | None = None,
    callbacks: list[Any] | None = None,
) -> TrainResult:
    """Run one SFT or preference (DPO/IPO) training job described by ``config``.

    ``rows`` bypasses data loading (IPL passes each round's rows). Returns where the adapter and/or model went
    and the log history (the loss per logging step).
    """
    trl = require("trl", feature="training")
    datasets = require("datasets", feature="training")
    preference = config.stage != "sft"
    if rows is None:
        rows = load_training_rows(config)
    if config.max_samples is not None:
        rows = rows[: config.max_samples]
    trl_rows = rows if config.prefill else to_trl_rows(rows, preference=preference)
    if not trl_rows:
        raise ValueError("no training rows after loading and filtering; check --data and --max-samples")
    cuda = _use_cuda(config)
    model, tokenizer = _load_model_and_tokenizer(config, cuda)
    if config.prefill:
        from .append import tokenize_prefilled

        trl_rows, skipped = tokenize_prefilled(rows, tokenizer)
        if skipped:
            logger.warning(
                "prefill: %d of %d rows left out (chosen does not start with the raw prompt)", skipped, len(rows)
            )
        if not trl_rows:
            raise ValueError(
                "prefill: no row's chosen prompt starts with its raw prompt; prefill trains append records "
                "(`fipo pop append`), not full rewrites"
            )
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    dataset = datasets.Dataset.from_list(trl_rows)
    lora = _lora_config(config, model) if config.lora and not config.init_adapter else None
    hooks = [_JsonlLog(output / "train_log.jsonl").make(), *(callbacks or [])]
    if preference:
        losses: dict[str, Any] = {"loss_type": [config.loss_type]}
        if config.sft_weight > 0:  # RPO-style: the preference loss plus the chosen rewrite's NLL
            losses = {"loss_type": [config.loss_type, "sft"], "loss_weights": [1.0, config.sft_weight]}
        args = trl.DPOConfig(**_trainer_args(config, cuda), **losses, beta=config.beta)
    else:
        args = trl.SFTConfig(**_trainer_args(config, cuda), packing=False)
    trainer_class = _dpo_trainer_class(trl) if preference else _sft_trainer_class(trl)
    trainer = trainer_class(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=lora, callbacks=hooks
    )
    if config.drop_truncated and not preference and trainer.train_dataset is not None:
        limit = config.max_length
        trainer.train_dataset = trainer.train_dataset.filter(lambda row: len(row["input_ids"]) < limit)
    kept = len(trainer.train_dataset) if trainer.train_dataset is not None else 0
    if kept == 0:
        raise ValueError(
            f"all {len(trl_rows)} training rows were dropped: their prompts alone fill max_length="
            f"{config.max_length} tokens. Raise --max-length (the optimizer meta-prompt takes a few hundred tokens)"
        )
    if kept < len(trl_rows):
        logger.warning("%d of %d rows were dropped (longer than max_length)", len(trl_rows) - kept, len(trl_rows))
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=_resume_argument(config))
    metrics = dict(outcome.metrics)
    metrics["wall_seconds"] = time.perf_counter() - started
    metrics["world_size"] = _world_size()
    metrics["global_step"] = trainer.state.global_step
    adapter_dir: Path | None = None
    model_dir: Path | None = Path(config.export_dir) if config.export_dir else None
    if config.lora:
        adapter_dir = config.final_adapter_dir
        trainer.save_model(str(adapter_dir))
        if is_main_process():
            shutil.rmtree(adapter_dir / "ref", ignore_errors=True)  # trl's frozen reference copy
            tokenizer.save_pretrained(str(adapter_dir))
            _write_metadata(adapter_dir, config, "lora-adapter")
    else:
        model_dir = model_dir or output / "model"
        trainer.save_model(str(model_dir))
        if is_main_process():
            tokenizer.save_pretrained(str(model_dir))
            _write_metadata(model_dir, config, "full-model")
    _wait_for_everyone()
    if config.lora and config.export_dir and is_main_process():
        export_merged(config.model, adapter_dir, config.export_dir)  # type: ignore[arg-type]
    _wait_for_everyone()
    if is_main_process():
        (output / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return TrainResult(
        output_dir=output,
        adapter_dir=adapter_dir,
        model_dir=model_dir,
        train_rows=len(trl_rows),
        log_history=list(trainer.state.log_history),
        metrics=metrics,
    )


def export_merged(model: str, adapter_dir: str | Path, export_dir: str | Path) -> Path:
    """Merge a LoRA adapter into its base model and save a standalone safetensors model with tokenizer.

    The result loads with ``PromptOptimizer(model=export_dir)`` (and vLLM / any transformers loader).

    >>> export_merged("embedded:smollm2-135m-instruct", "runs/fipo-sft/adapter", "runs/merged")  # doctest: +SKIP
    PosixPath('runs/merged')
    """
    torch = require("torch")
    transformers = require("transformers")
    peft = require("peft", feature="merging a LoRA adapter")
    adapter = Path(adapter_dir)
    if not (adapter / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{str(adapter)!r} is not a PEFT adapter directory (no adapter_config.json)")
    path = resolve_model_path(model)
    base = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, use_safetensors=True)
    merged = peft.PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    target = Path(export_dir)
    target.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(target), safe_serialization=True)
    tokenizer_source = adapter if (adapter / "tokenizer_config.json").is_file() else Path(path)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tokenizer_source))
    tokenizer.save_pretrained(str(target))
    meta_file = adapter / METADATA_FILE
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    meta.update({"kind": "merged-model", "base_model": model, "adapter": str(adapter)})
    (target / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    logger.info("exported merged model to %s", target)
    return target


#: Files of an adapter directory that a packaged (shippable) adapter keeps.
_PACKAGED_FILES = ("adapter_config.json", METADATA_FILE)


def package_adapter(
    adapter_dir: str | Path, output_dir: str | Path, *, dtype: str = "bfloat16", base_model_name: str | None = None
) -> Path:
    """Copy a LoRA adapter into a compact directory to ship: weights cast to ``dtype``, no optimizer state.

    Keeps ``adapter_config.json`` and the FIPO training metadata, writes a short model card (README.md) from
    that metadata, and drops tokenizer copies and ``training_args.bin``. ``base_model_name`` replaces the
    machine-local base path in the config. This is how the bundled default adapter
    (``fipo_integrations/adapters/fipo-smollm2-135m``) is made.

    >>> package_adapter("runs/default", "fipo_integrations/adapters/fipo-smollm2-135m")  # doctest: +SKIP
    PosixPath('fipo_integrations/adapters/fipo-smollm2-135m')
    """
    torch = require("torch")
    from safetensors.torch import load_file, save_file

    source, target = Path(adapter_dir), Path(output_dir)
    weights = source / "adapter_model.safetensors"
    if not (source / "adapter_config.json").is_file() or not weights.is_file():
        raise FileNotFoundError(
            f"{str(source)!r} is not a PEFT adapter directory with safetensors weights "
            "(needs adapter_config.json and adapter_model.safetensors)"
        )
    if dtype not in ("bfloat16", "float16", "float32"):
        raise ValueError(f"dtype={dtype!r} is not supported; use 'bfloat16', 'float16' or 'float32'")
    if source.resolve() == target.resolve():
        raise ValueError("output_dir must differ from adapter_dir")
    target.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.to(getattr(torch, dtype)).contiguous() for name, tensor in load_file(str(weights)).items()}
    save_file(tensors, str(target / "adapter_model.safetensors"), metadata={"format": "pt"})
    (target / "adapter_model.safetensors").chmod(0o644)
    for name in _PACKAGED_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)
    config_file = target / "adapter_config.json"
    adapter_config = json.loads(config_file.read_text(encoding="utf-8"))
    if base_model_name is not None:
        adapter_config["base_model_name_or_path"] = base_model_name
    config_file.write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (target / "README.md").write_text(_model_card(target, adapter_config, dtype), encoding="utf-8")
    logger.info("packaged adapter %s -> %s (%s)", source, target, dtype)
    return target


def _model_card(directory: Path, adapter_config: dict[str, Any], dtype: str) -> str:
    """A short model card for a packaged adapter, from its training metadata."""
    meta_file = directory / METADATA_FILE
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    config = meta.get("config", {})
    rows = [
        ("stage", meta.get("stage")),
        ("base model", f"{meta.get('base_model')} ({adapter_config.get('base_model_name_or_path')})"),
        ("FIPO template version", meta.get("template_version")),
        ("training data", ", ".join(config.get("data", [])) or None),
        (
            "LoRA",
            f"r={adapter_config.get('r')}, alpha={adapter_config.get('lora_alpha')}, "
            f"targets={adapter_config.get('target_modules')}",
        ),
        (
            "schedule",
            f"max_steps={config.get('max_steps')}, batch={config.get('per_device_train_batch_size')} x "
            f"accumulation {config.get('gradient_accumulation_steps')}, lr={config.get('learning_rate')}, "
            f"max_length={config.get('max_length')}, seed={config.get('seed')}",
        ),
        ("weights", dtype),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows if value is not None)
    return (
        "# FIPO prompt-optimizer LoRA adapter\n\n"
        "A LoRA adapter that turns its base chat model into a FIPO prompt optimizer (arXiv 2402.11811), trained "
        "with `fipo train` from fipo-integrations. Load it with "
        "`PromptOptimizer(model=BASE, adapter=THIS_DIR)`.\n\n"
        f"| field | value |\n|---|---|\n{table}\n\n"
        f"The full training configuration is in `{METADATA_FILE}`.\n"
    )
