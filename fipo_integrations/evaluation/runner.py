"""Run an evaluation: optimize the task instructions, score every item with every testing model, report.

>>> config = EvalConfig(out_dir="eval-out", data_dir="data", limit=50,
...                     models=("embedded:smollm2-135m-instruct",), optimizers=("none", "default"))
>>> report = run_evaluation(config)  # doctest: +SKIP
>>> print(report["markdown"])  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .data import (
    BENCHMARK_SPECS,
    BENCHMARKS,
    BenchmarkData,
    EvalItem,
    TaskData,
    build_messages,
    build_prompt,
    select_items,
)
from .loaders import load_benchmark
from .optimizers import InstructionRewrite, PromptSource, optimize_instructions, parse_sources
from .report import build_report, write_outputs
from .scoring import score_choice, score_choice_reply, score_generation
from .store import ResultStore, result_key, text_hash
from .testing_models import Prompt, TestingModel, make_testing_model

__all__ = ["EvalConfig", "run_evaluation"]

logger = logging.getLogger(__name__)

#: Option orders a multiple-choice benchmark can be scored in (see :attr:`EvalConfig.option_orders`).
OPTION_ORDERS = ("given", "cyclic")
DEFAULT_OPTION_ORDERS: dict[str, str] = {"piqa": "cyclic"}

#: GSM8K generation may stop as soon as the reply states its final answer.
_GSM8K_DONE = r"(?i)answer is[^\n]*\d[^\n]*?\.\s"


@dataclass
class EvalConfig:
    """Settings of one ``fipo eval`` run (see ``fipo eval --help`` for each field)."""

    out_dir: str | Path
    data_dir: str | Path | None = None
    benchmarks: Sequence[str] = BENCHMARKS
    #: Testing-model specs (see :func:`~fipo_integrations.evaluation.testing_models.make_testing_model`).
    models: Sequence[str] = ("embedded:smollm2-135m-instruct",)
    #: Prompt sources: ``none`` (naive), ``default``, paths, endpoints (``LABEL=SPEC`` names them).
    optimizers: Sequence[str] = ("none", "default")
    optimizer_base_url: str | None = None
    optimizer_cache: bool = True
    #: Longest rewrite in tokens (the guard rejects rewrites far over the word budget anyway).
    optimizer_max_new_tokens: int = 192
    #: Items per benchmark (``None``: all), drawn with ``seed``.
    limit: int | None = None
    seed: int = 0
    #: Few-shot examples per benchmark, overriding the paper's defaults.
    shots: Mapping[str, int] = field(default_factory=dict)
    #: Generated tokens per benchmark, overriding the defaults (GSM8K 192, BBH 128).
    max_new_tokens: Mapping[str, int] = field(default_factory=dict)
    #: Multiple choice by option-letter log-probabilities, by generation, or ``auto`` (log-probs if possible).
    mc_scoring: Literal["auto", "logprob", "generate"] = "auto"
    #: Option order per multiple-choice benchmark when scored by log-probabilities: ``given`` (as in the
    #: data) or ``cyclic`` (every rotation of the options is scored and each option's log-probability is
    #: averaged over its positions, which cancels a model's preference for a letter, at n times the cost).
    #: PiQA defaults to ``cyclic``: with two options a small tester otherwise answers "A" to every item.
    option_orders: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OPTION_ORDERS))
    #: How prompts reach the model, as lm-evaluation-harness does it: ``auto`` scores multiple choice on
    #: plain text and generates through the chat template (few-shot examples as turns) for chat models;
    #: ``chat`` and ``plain`` force one format everywhere.
    prompt_format: Literal["auto", "chat", "plain"] = "auto"
    #: ``per-subject``: one MMLU instruction per subject; ``shared``: one for all subjects.
    mmlu_instruction: Literal["per-subject", "shared"] = "per-subject"
    #: Benchmark weights of the average: test-set sizes (as in the paper) or equal.
    weights: Literal["size", "equal"] = "size"
    batch_size: int = 8
    device: str | None = None
    dtype: str = "auto"
    #: CPU threads for torch (``None``: torch's default); 1 is steadier on a CPU shared with other jobs.
    threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = [name for name in self.benchmarks if name not in BENCHMARK_SPECS]
        if unknown or not self.benchmarks:
            raise ValueError(f"unknown benchmarks {unknown or '(none given)'}; choose from {', '.join(BENCHMARKS)}")
        self.benchmarks = [name for name in BENCHMARKS if name in set(self.benchmarks)]
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1 (or None for all items), got {self.limit}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads}")
        if self.optimizer_max_new_tokens < 1:
            raise ValueError(f"optimizer_max_new_tokens must be >= 1, got {self.optimizer_max_new_tokens}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.prompt_format not in ("auto", "chat", "plain"):
            raise ValueError(f"prompt_format must be auto, chat or plain, got {self.prompt_format!r}")
        if self.mc_scoring not in ("auto", "logprob", "generate"):
            raise ValueError(f"mc_scoring must be auto, logprob or generate, got {self.mc_scoring!r}")
        if self.mmlu_instruction not in ("per-subject", "shared"):
            raise ValueError(f"mmlu_instruction must be per-subject or shared, got {self.mmlu_instruction!r}")
        if self.weights not in ("size", "equal"):
            raise ValueError(f"weights must be size or equal, got {self.weights!r}")
        self.option_orders = {**DEFAULT_OPTION_ORDERS, **self.option_orders}
        for name, order in self.option_orders.items():
            if name not in BENCHMARK_SPECS or BENCHMARK_SPECS[name].kind != "choice":
                choice = ", ".join(n for n, spec in BENCHMARK_SPECS.items() if spec.kind == "choice")
                raise ValueError(f"option order given for {name!r}, not a multiple-choice benchmark ({choice})")
            if order not in OPTION_ORDERS:
                raise ValueError(f"option order for {name} must be one of {', '.join(OPTION_ORDERS)}, got {order!r}")
        for mapping, what in ((self.shots, "shots"), (self.max_new_tokens, "max_new_tokens")):
            for name, value in mapping.items():
                if name not in BENCHMARK_SPECS:
                    raise ValueError(
                        f"{what} given for unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}"
                    )
                if value < (0 if what == "shots" else 1):
                    raise ValueError(f"{what}[{name}] must be >= {0 if what == 'shots' else 1}, got {value}")
        if not self.models:
            raise ValueError("give at least one testing model, e.g. embedded:smollm2-135m-instruct")
        self.out_dir = Path(self.out_dir)


@dataclass
class _Job:
    benchmark: str
    task: TaskData
    item: EvalItem
    source: str
    instruction: str
    prompt: str
    key: str
    settings: dict[str, Any]

    def model_input(self, prompt: str, shots: int) -> Prompt:
        """The prompt in the format the settings name: plain text, or chat turns with ``shots`` examples."""
        if self.settings["format"] == "chat":
            return build_messages(self.instruction, self.task.shots[:shots], self.item)
        return prompt


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not enabled or total == 0, leave=True)


def _settings(config: EvalConfig, benchmark: str, model: TestingModel) -> dict[str, Any]:
    spec = BENCHMARK_SPECS[benchmark]
    if spec.kind == "choice":
        method = config.mc_scoring
        if method == "logprob" and not model.supports_logprobs:
            raise ValueError(
                f"--mc-scoring logprob needs option log-probabilities, which {model.label} ({model.key}) does not "
                "give; use --mc-scoring generate or auto"
            )
        if method == "auto":
            method = "logprob" if model.supports_logprobs else "generate"
    else:
        method = "generate"
    auto_chat = method == "generate" and model.chat
    chat = auto_chat if config.prompt_format == "auto" else config.prompt_format == "chat"
    settings: dict[str, Any] = {"method": method, "format": "chat" if chat else "plain"}
    if method == "logprob" and config.option_orders.get(benchmark, "given") != "given":
        settings["option_order"] = config.option_orders[benchmark]  # absent for "given": old caches stay valid
    if method == "generate":
        settings["max_new_tokens"] = config.max_new_tokens.get(benchmark, spec.max_new_tokens)
        settings["stop"] = list(spec.stop)
        settings["stop_pattern"] = _GSM8K_DONE if benchmark == "gsm8k" else None
    return settings


def _fit_shots(model: TestingModel, job: _Job) -> tuple[str, int]:
    """The prompt with as many few-shot examples as fit the model's context window (all when unknown)."""
    shots = list(job.task.shots)
    window = model.context_window
    reserve = int(job.settings.get("max_new_tokens", 1))
    prompt = job.prompt
    while window is not None and shots:
        used = model.prompt_tokens(job.model_input(prompt, len(shots)))
        if used is None or used + reserve <= window:
            break
        shots.pop()
        prompt = build_prompt(job.instruction, shots, job.item)
    if len(shots) < len(job.task.shots):
        logger.warning(
            "%s: %d of %d few-shot examples fit the context", job.item.item_id, len(shots), len(job.task.shots)
        )
    return prompt, len(shots)


def _score_chunk(model: TestingModel, jobs: list[_Job]) -> list[dict[str, Any]]:
    fitted = [_fit_shots(model, job) for job in jobs]
    prompts = [job.model_input(prompt, used) for job, (prompt, used) in zip(jobs, fitted, strict=True)]
    settings = jobs[0].settings
    records = []
    if settings["method"] == "logprob":
        if settings.get("option_order") == "cyclic":
            return _score_cyclic(model, jobs)
        for choices in dict.fromkeys(job.item.choices for job in jobs):
            group = [index for index, job in enumerate(jobs) if job.item.choices == choices]
            scores = model.option_logprobs([prompts[index] for index in group], choices)
            for index, logprobs in zip(group, scores, strict=True):
                job, used = jobs[index], fitted[index][1]
                prediction, correct = score_choice(logprobs, choices, job.item.target)
                records.append(_record(model, job, used, prediction, correct, logprobs=[round(x, 4) for x in logprobs]))
        return records
    replies = model.generate(
        prompts, max_new_tokens=settings["max_new_tokens"], stop=settings["stop"], stop_pattern=settings["stop_pattern"]
    )
    for job, (_, used), reply in zip(jobs, fitted, replies, strict=True):
        if BENCHMARK_SPECS[job.benchmark].kind == "choice":
            prediction, correct = score_choice_reply(reply, job.item.choices, job.item.target)
        else:
            prediction, correct = score_generation(job.benchmark, reply, job.item.target)
        records.append(_record(model, job, used, prediction, correct, response=reply))
    return records


def _rotations(job: _Job) -> list[_Job]:
    """``job`` once per rotation of its options (rotation 0 first), each with its own prompt."""
    variants = []
    for shift in range(len(job.item.choices)):
        item = job.item.rotated(shift)
        variants.append(replace(job, item=item, prompt=build_prompt(job.instruction, job.task.shots, item)))
    return variants


def _score_cyclic(model: TestingModel, jobs: list[_Job]) -> list[dict[str, Any]]:
    """Score every rotation of the options; an option's score is its mean log-probability over its positions
    (its letter moves, the text stays), so a model's preference for a letter adds the same to every option."""
    variants = [(index, shift, job) for index, owner in enumerate(jobs) for shift, job in enumerate(_rotations(owner))]
    fitted = [_fit_shots(model, job) for _, _, job in variants]
    prompts = [job.model_input(text, used) for (_, _, job), (text, used) in zip(variants, fitted, strict=True)]
    per_shift: dict[int, dict[int, list[float]]] = {}
    for choices in dict.fromkeys(variant.item.choices for _, _, variant in variants):
        group = [i for i, (_, _, variant) in enumerate(variants) if variant.item.choices == choices]
        scores = model.option_logprobs([prompts[i] for i in group], choices)
        for i, logprobs in zip(group, scores, strict=True):
            index, shift, _ = variants[i]
            per_shift.setdefault(index, {})[shift] = list(logprobs)
    records = []
    for index, job in enumerate(jobs):
        count, shifts = len(job.item.choices), per_shift[index]
        # option i is shown under letter (i - shift) mod count in rotation `shift`
        averaged = [sum(shifts[k][(i - k) % count] for k in range(count)) / count for i in range(count)]
        used = min(used for (owner, _, _), (_, used) in zip(variants, fitted, strict=True) if owner == index)
        prediction, correct = score_choice(averaged, job.item.choices, job.item.target)
        records.append(
            _record(
                model,
                job,
                used,
                prediction,
                correct,
                logprobs=[round(x, 4) for x in averaged],
                given_order_logprobs=[round(x, 4) for x in shifts[0]],
            )
        )
    return records


def _record(model: TestingModel, job: _Job, shots: int, prediction: str, correct: bool, **extra: Any) -> dict[str, Any]:
    return {
        "key": job.key,
        "benchmark": job.benchmark,
        "task": job.item.task,
        "item_id": job.item.item_id,
        "model": model.label,
        "model_key": model.key,
        "source": job.source,
        "instruction_hash": text_hash(job.instruction),
        "prompt_hash": text_hash(job.prompt),
        "method": job.settings["method"],
        "format": job.settings["format"],
        "shots": shots,
        "target": job.item.target,
        "prediction": prediction,
        "correct": bool(correct),
        **extra,
    }


def _optimize_all(
    config: EvalConfig, sources: list[PromptSource], instructions: list[str], optimizers: Mapping[str, Any]
) -> dict[str, dict[str, InstructionRewrite]]:
    rewrites: dict[str, dict[str, InstructionRewrite]] = {}
    unique = list(dict.fromkeys(instructions))
    for source in sources:
        bar = _progress(
            0 if source.naive else len(unique), f"optimizing instructions ({source.label})", config.progress
        )
        with bar:
            rewrites[source.label] = optimize_instructions(
                source,
                unique,
                optimizer=optimizers.get(source.label),
                device=config.device,
                cache=config.optimizer_cache,
                max_new_tokens=config.optimizer_max_new_tokens,
                batch_size=config.batch_size,
                progress=bar.update,
            )
        if not source.naive:
            kept = sum(1 for rewrite in rewrites[source.label].values() if not rewrite.accepted)
            logger.info("%s: %d instructions rewritten, %d kept by the guard", source.label, len(unique) - kept, kept)
    return rewrites


def run_evaluation(
    config: EvalConfig,
    *,
    testing_models: Sequence[TestingModel] | None = None,
    optimizers: Mapping[str, Any] | None = None,
    benchmarks: Sequence[BenchmarkData] | None = None,
) -> dict[str, Any]:
    """Run ``config`` and write ``report.json``, ``report.md``, ``report.png`` and ``instructions.json``.

    ``testing_models``, ``optimizers`` (``{source label: PromptOptimizer}``) and ``benchmarks`` replace the
    ones the config names (tests inject small fakes). Returns the report dictionary (see
    :func:`~fipo_integrations.evaluation.report.build_report`), with ``markdown`` and the output paths added.
    """
    started = time.perf_counter()
    if config.threads is not None:
        from .._deps import require

        require("torch").set_num_threads(config.threads)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = parse_sources(config.optimizers, base_url=config.optimizer_base_url)
    if benchmarks is None:
        benchmarks = [
            load_benchmark(
                name,
                config.data_dir,
                shots=config.shots.get(name),
                mmlu_shared_instruction=config.mmlu_instruction == "shared",
            )
            for name in config.benchmarks
        ]
    selected = {data.name: select_items(data, config.limit, config.seed) for data in benchmarks}
    tasks = {(data.name, task.task): task for data in benchmarks for task in data.tasks}
    used_tasks = {(item.benchmark, item.task) for items in selected.values() for item in items}
    models = (
        list(testing_models)
        if testing_models is not None
        else [
            make_testing_model(spec, device=config.device, batch_size=config.batch_size, dtype=config.dtype)
            for spec in config.models
        ]
    )
    labels = [model.label for model in models]
    if len(set(labels)) != len(labels):
        raise ValueError(f"testing models need distinct labels, got {labels}; name them with LABEL=SPEC")
    for model in models:  # fail before the slow part when a model cannot score a benchmark as asked
        for data in benchmarks:
            _settings(config, data.name, model)
    instructions = [tasks[key].instruction for key in sorted(used_tasks)]
    rewrites = _optimize_all(config, sources, instructions, optimizers or {})
    _write_instructions(out_dir / "instructions.json", sources, rewrites, tasks, used_tasks)
    store = ResultStore(out_dir / "results.jsonl")
    outcomes: dict[tuple[str, str, str], list[bool]] = {}
    timings: dict[str, float] = {}
    for model in models:
        model_started = time.perf_counter()
        jobs_by_benchmark: dict[str, list[_Job]] = {}
        for data in benchmarks:
            settings = _settings(config, data.name, model)
            jobs = jobs_by_benchmark.setdefault(data.name, [])
            for source in sources:
                for item in selected[data.name]:
                    task = tasks[(data.name, item.task)]
                    instruction = rewrites[source.label][task.instruction].optimized
                    prompt = build_prompt(instruction, task.shots, item)
                    key = result_key(data.name, item.item_id, model.key, prompt, settings)
                    jobs.append(_Job(data.name, task, item, source.label, instruction, prompt, key, settings))
        keys = {job.key for jobs in jobs_by_benchmark.values() for job in jobs}
        pending_total = sum(1 for key in keys if key not in store)
        logger.info("%s: %d prompts to score (%d cached)", model.label, pending_total, len(keys) - pending_total)
        if pending_total:
            model.load()
            for name, jobs in jobs_by_benchmark.items():
                _run_jobs(config, model, name, jobs, store)
            model.close()
            gc.collect()
        timings[model.label] = round(time.perf_counter() - model_started, 1)
        for name, jobs in jobs_by_benchmark.items():
            for job in jobs:
                record = store.get(job.key)
                if record is None:
                    raise RuntimeError(f"no result for {job.item.item_id} with {model.label}; rerun to resume")
                outcomes.setdefault((name, model.label, job.source), []).append(_rescore(record, job))
    report = build_report(
        benchmarks=[(data.name, data.size, len(selected[data.name]), data.source) for data in benchmarks],
        models=[(model.label, model.key) for model in models],
        sources=[(source.label, source.spec) for source in sources],
        outcomes=outcomes,
        weights=config.weights,
        config=_config_dict(config),
    )
    report["timing"] = {"total_seconds": round(time.perf_counter() - started, 1), "per_model_seconds": timings}
    return write_outputs(report, out_dir)


def _rescore(record: dict[str, Any], job: _Job) -> bool:
    """Correctness of a cached record; generated replies are scored again, so extraction fixes apply."""
    response = record.get("response")
    if record.get("method") != "generate" or not isinstance(response, str):
        return bool(record["correct"])
    if BENCHMARK_SPECS[job.benchmark].kind == "choice":
        return score_choice_reply(response, job.item.choices, job.item.target)[1]
    return score_generation(job.benchmark, response, job.item.target)[1]


def _run_jobs(config: EvalConfig, model: TestingModel, benchmark: str, jobs: list[_Job], store: ResultStore) -> None:
    unique: dict[str, _Job] = {}
    for job in jobs:
        if job.key not in store and job.key not in unique:
            unique[job.key] = job
    if not unique:
        return
    pending = sorted(unique.values(), key=lambda job: -len(job.prompt))  # similar lengths batch together
    chunk_size = config.batch_size * 4
    with _progress(len(pending), f"{model.label} · {benchmark}", config.progress) as bar:
        for start in range(0, len(pending), chunk_size):
            chunk = pending[start : start + chunk_size]
            store.add(_score_chunk(model, chunk))
            bar.update(len(chunk))


def _write_instructions(
    path: Path,
    sources: list[PromptSource],
    rewrites: dict[str, dict[str, InstructionRewrite]],
    tasks: dict[tuple[str, str], TaskData],
    used: set[tuple[str, str]],
) -> None:
    payload: dict[str, Any] = {}
    for source in sources:
        entry: dict[str, Any] = {"spec": source.spec, "benchmarks": {}}
        for benchmark, task_name in sorted(used):
            rewrite = rewrites[source.label][tasks[(benchmark, task_name)].instruction]
            entry["benchmarks"].setdefault(benchmark, {})[task_name] = rewrite.to_dict()
        payload[source.label] = entry
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _config_dict(config: EvalConfig) -> dict[str, Any]:
    data = asdict(config)
    data["out_dir"] = str(config.out_dir)
    data["data_dir"] = None if config.data_dir is None else str(config.data_dir)
    data["benchmarks"] = list(config.benchmarks)
    data["models"] = list(config.models)
    data["optimizers"] = list(config.optimizers)
    data["shots"] = {name: config.shots.get(name, BENCHMARK_SPECS[name].shots) for name in config.benchmarks}
    return data
