"""Iterative Preference Learning (IPL, FIPO paper Sec. 3.4) as a Python loop.

Each of ``config.rounds`` rounds:

1. **Generate.** The current model rewrites the current silver prompt of every optimizer row (the runtime
   optimizer template, the row's variant; multiple-choice options are re-appended when dropped). Rewrites
   the runtime guard rejects are not candidates.
2. **Judge.** The same model compares each candidate with the current prompt using the discriminator
   template (positions drawn at random); the candidate replaces the current prompt only if it wins. The
   *selection rate* is the share of optimizer rows whose prompt was replaced.
3. **Judge accuracy.** On held-out records (never trained on) the judge compares the chosen and the
   rejected rewrite; accuracy is the share where it picks the chosen one.
4. **Regenerate responses.** Silver-response rows get the current model's answer to their new prompt (a
   letter for multiple choice); answering rows get a new rejected answer.
5. **Repack.** Prompts are re-rendered; discriminator rows are kept with probability
   ``discriminator_keep`` (the paper halves them each round: judging is the easier task).
6. **Train** one preference epoch (``ipl_loss``: ``ipo`` or ``sigmoid``) continuing the adapter.

Every round writes ``round-N/data.jsonl`` (its training rows), ``round-N/state.jsonl`` (all rows, the input
of the next round), ``round-N/metrics.json`` and a line of ``ipl_log.jsonl``; a finished round is skipped when
the run is started again. Generation uses vLLM when it is installed and a GPU is present, else transformers.

>>> from training.config import TrainConfig
>>> result = run_ipl(TrainConfig(stage="ipl", data=["pop.jsonl"], rounds=2))  # doctest: +SKIP
>>> [r.selection_rate for r in result.rounds]  # doctest: +SKIP
[0.25, 0.375]
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fipo_integrations.backends import Backend, GenerationParams, build_backend
from fipo_integrations.cleaning import clean_rewrite
from fipo_integrations.guard import check_rewrite
from fipo_integrations.judge import judge_pairs
from fipo_integrations.spec import ModelSpec
from fipo_integrations.templates import (
    ChatMessage,
    parse_judge_choice,
    render_optimizer_messages,
)
from fipo_integrations.validation import iter_jsonl

from .config import TrainConfig
from .data import load_training_rows
from .trainers import export_merged, is_main_process, resolve_model_path, train

__all__ = ["BackendFactory", "IPLResult", "IPLRoundMetrics", "run_ipl"]

logger = logging.getLogger(__name__)

#: ``factory(model_path, adapter_dir_or_None) -> Backend`` used for generation and judging.
BackendFactory = Callable[[str, "str | None"], Backend]


@dataclass
class IPLRoundMetrics:
    """What one IPL round measured and wrote."""

    round: int
    optimizer_rows: int
    candidates_guarded: int
    selected: int
    selection_rate: float
    judge_accuracy: float | None
    judge_heldout: int
    judge_unparsed: int
    responses_regenerated: int
    discriminator_rows_kept: int
    train_rows: int
    final_loss: float | None
    seconds: float
    data_path: str
    adapter_dir: str | None
    model_dir: str | None


@dataclass
class IPLResult:
    output_dir: Path
    rounds: list[IPLRoundMetrics] = field(default_factory=list)
    adapter_dir: Path | None = None
    model_dir: Path | None = None


def _base_id(row: dict[str, Any]) -> str:
    return str(row["id"]).split("#", 1)[0]


def _assistant(text: str) -> list[ChatMessage]:
    return [{"role": "assistant", "content": text}]


def _render_optimizer(row: dict[str, Any]) -> list[ChatMessage]:
    variant = row["variant"]
    return render_optimizer_messages(
        row["silver_prompt"],
        silver_response=row["silver_response"] if variant in ("silver", "both") else None,
        golden_response=row["golden_response"] if variant in ("golden", "both") else None,
        max_words=int(row["max_words"]),
    )


def _judge_prompt(row: dict[str, Any]) -> str:
    return row["raw_prompt"] + row.get("post_options", "")


def _answer_letters(backend: Backend, prompts: list[str], rng: random.Random) -> list[str]:
    conversations = [[{"role": "user", "content": p}] for p in prompts]
    if not conversations:
        return []
    scores = backend.choice_logprobs(conversations, ["A", "B"])
    if scores is not None:
        return ["A" if a >= b else "B" for a, b in scores]
    replies = backend.generate(conversations, GenerationParams(max_new_tokens=4))
    return [parse_judge_choice(r[0]) or rng.choice(["A", "B"]) for r in replies]


def _default_factory(config: TrainConfig) -> BackendFactory:
    use_vllm = config.generation_backend == "vllm"
    if config.generation_backend == "auto" and importlib.util.find_spec("vllm") is not None:
        import torch

        use_vllm = bool(torch.cuda.is_available())

    def factory(model: str, adapter: str | None) -> Backend:
        # Each round's adapter is new: the backend is built for the round (not shared) and freed after it.
        if use_vllm:
            return build_backend(ModelSpec(model=model, adapter=adapter, backend="vllm"))
        device = "cpu" if config.device == "cpu" else None
        spec = ModelSpec(
            model=model, adapter=adapter, backend="transformers", device=device, batch_size=config.generation_batch_size
        )
        return build_backend(spec)

    return factory


def _write_jsonl(rows: Sequence[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in iter_jsonl(path.read_text(encoding="utf-8"), str(path))]


def _refresh(
    backend: Backend, rows: list[dict[str, Any]], heldout: set[str], config: TrainConfig, rng: random.Random
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Steps 1-5 of a round: the new state rows and the round's counts."""
    sample = GenerationParams(
        max_new_tokens=config.generation_max_new_tokens,
        temperature=config.generation_temperature,
        top_p=config.generation_top_p,
        seed=config.seed + rng.randrange(1 << 30),
    )
    train_opt = [r for r in rows if r["kind"] == "optimizer" and _base_id(r) not in heldout]
    replies = backend.generate([_render_optimizer(r) for r in train_opt], sample) if train_opt else []
    candidates: list[tuple[dict[str, Any], str]] = []
    for row, reply in zip(train_opt, replies, strict=True):
        candidate = clean_rewrite(reply[0] if reply else "", original=row["silver_prompt"])
        options = row.get("post_options", "")
        if candidate and options.strip() and options.strip() not in candidate:
            candidate = candidate + options
        verdict = check_rewrite(
            row["silver_prompt"], candidate, max_words=int(row["max_words"]), golden_response=row["golden_response"]
        )
        if candidate and verdict.accepted:
            candidates.append((row, candidate))
    positions = [rng.random() < 0.5 for _ in candidates]  # True: the candidate is prompt A
    judged = judge_pairs(
        backend,
        [
            (
                _judge_prompt(row),
                *((cand, row["silver_prompt"]) if first else (row["silver_prompt"], cand)),
                row["golden_response"],
            )
            for (row, cand), first in zip(candidates, positions, strict=True)
        ],
        batch_size=config.generation_batch_size,
    )
    new_prompt: dict[str, str] = {}
    for (row, cand), first, choice in zip(candidates, positions, judged, strict=True):
        if choice == ("A" if first else "B"):
            new_prompt[row["id"]] = cand
    # Judge accuracy on held-out records: chosen vs rejected.
    held = [r for r in rows if r["kind"] == "optimizer" and _base_id(r) in heldout]
    held_first = [rng.random() < 0.5 for _ in held]
    held_choices = judge_pairs(
        backend,
        [
            (
                _judge_prompt(r),
                *((r["chosen_text"], r["rejected_text"]) if f else (r["rejected_text"], r["chosen_text"])),
                r["golden_response"],
            )
            for r, f in zip(held, held_first, strict=True)
        ],
        batch_size=config.generation_batch_size,
    )
    correct = sum(c == ("A" if f else "B") for c, f in zip(held_choices, held_first, strict=True))
    # Regenerate responses.
    new_rows: list[dict[str, Any]] = []
    regen_mc: list[dict[str, Any]] = []
    regen_gen: list[dict[str, Any]] = []
    for row in rows:
        if (
            row["kind"] == "discriminator"
            and _base_id(row) not in heldout
            and rng.random() >= config.discriminator_keep
        ):
            continue
        row = dict(row)
        if row["id"] in new_prompt:
            row["silver_prompt"] = new_prompt[row["id"]]
        if _base_id(row) not in heldout:
            needs = row["kind"] == "response" or (row["kind"] == "optimizer" and row["variant"] in ("silver", "both"))
            if needs:
                (regen_mc if row["multiple_choice"] else regen_gen).append(row)
        new_rows.append(row)

    def question(row: dict[str, Any]) -> str:
        return row["prompt"][0]["content"] if row["kind"] == "response" else row["silver_prompt"]

    letters = _answer_letters(backend, [question(r) for r in regen_mc], rng)
    response_params = dataclasses.replace(sample, max_new_tokens=config.response_max_new_tokens)
    texts = (
        backend.generate([[{"role": "user", "content": question(r)}] for r in regen_gen], response_params)
        if regen_gen
        else []
    )
    answers = list(zip(regen_mc, letters, strict=True)) + [
        (r, t[0].strip() if t else "") for r, t in zip(regen_gen, texts, strict=True)
    ]
    for row, answer in answers:
        if row["kind"] == "response":
            row["rejected"] = _assistant(answer or row["rejected"][0]["content"])
        else:
            row["silver_response"] = answer or row["silver_response"]
    for row in new_rows:
        if row["kind"] == "optimizer":
            row["prompt"] = _render_optimizer(row)
    counts = {
        "optimizer_rows": len(train_opt),
        "candidates_guarded": len(candidates),
        "selected": len(new_prompt),
        "selection_rate": len(new_prompt) / len(train_opt) if train_opt else 0.0,
        "judge_accuracy": correct / len(held) if held else None,
        "judge_heldout": len(held),
        "judge_unparsed": sum(c is None for c in held_choices),
        "responses_regenerated": len(answers),
        "discriminator_rows_kept": sum(r["kind"] == "discriminator" and _base_id(r) not in heldout for r in new_rows),
    }
    return new_rows, counts


def run_ipl(
    config: TrainConfig,
    *,
    rows: list[dict[str, Any]] | None = None,
    backend_factory: BackendFactory | None = None,
) -> IPLResult:
    """Run ``config.rounds`` IPL rounds (see the module docstring); resumable per round."""
    if config.stage != "ipl":
        config = dataclasses.replace(config, stage="ipl")
    state = rows if rows is not None else load_training_rows(config)
    if any("kind" not in row or "silver_prompt" not in row for row in state):
        raise ValueError(
            "IPL needs IPL rows (the ipl.jsonl of `fipo pop diversify`, or POP records); got rows without "
            "'kind'/'silver_prompt'"
        )
    factory = backend_factory or _default_factory(config)
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    record_ids = sorted({_base_id(r) for r in state})
    heldout_count = min(config.heldout_size, max(0, len(record_ids) - 1))
    heldout = set(random.Random(f"{config.seed}\x00heldout").sample(record_ids, heldout_count))
    result = IPLResult(output_dir=output)
    model = resolve_model_path(config.model)
    adapter = config.init_adapter
    for number in range(1, config.rounds + 1):
        round_dir = output / f"round-{number}"
        done = round_dir / "metrics.json"
        if done.is_file() and (round_dir / "state.jsonl").is_file():
            metrics = IPLRoundMetrics(**json.loads(done.read_text(encoding="utf-8")))
            logger.info("IPL round %d already finished; skipping", number)
            state = _read_jsonl(round_dir / "state.jsonl")
            adapter, model = metrics.adapter_dir, metrics.model_dir or model
            result.rounds.append(metrics)
            continue
        started = time.perf_counter()
        round_dir.mkdir(parents=True, exist_ok=True)
        backend = factory(model, adapter)
        state, counts = _refresh(backend, state, heldout, config, random.Random(f"{config.seed}\x00round{number}"))
        del backend
        gc.collect()
        train_rows = [r for r in state if _base_id(r) not in heldout]
        if is_main_process():
            _write_jsonl(train_rows, round_dir / "data.jsonl")
        round_config = dataclasses.replace(
            config,
            output_dir=str(round_dir / "train"),
            adapter_dir=str(round_dir / "adapter"),
            export_dir=None,
            init_adapter=adapter if config.lora else None,
            model=model,
            num_train_epochs=1.0,
            resume=False,
            resume_from=None,
        )
        trained = train(round_config, rows=train_rows)
        if config.lora:
            adapter = str(trained.adapter_dir)
        else:
            model = str(trained.model_dir)
        metrics = IPLRoundMetrics(
            round=number,
            train_rows=len(train_rows),
            final_loss=trained.losses[-1] if trained.losses else None,
            seconds=time.perf_counter() - started,
            data_path=str(round_dir / "data.jsonl"),
            adapter_dir=adapter if config.lora else None,
            model_dir=None if config.lora else model,
            **counts,
        )
        logger.info(
            "IPL round %d: selection rate %.2f, judge accuracy %s on %d held-out, final loss %s",
            number,
            metrics.selection_rate,
            metrics.judge_accuracy,
            metrics.judge_heldout,
            metrics.final_loss,
        )
        if is_main_process():
            _write_jsonl(state, round_dir / "state.jsonl")
            with (output / "ipl_log.jsonl").open("a", encoding="utf-8") as log:
                log.write(json.dumps(dataclasses.asdict(metrics)) + "\n")
            done.write_text(json.dumps(dataclasses.asdict(metrics), indent=2) + "\n", encoding="utf-8")
        result.rounds.append(metrics)
    if config.lora and adapter is not None:
        final = config.final_adapter_dir
        if is_main_process() and Path(adapter).resolve() != final.resolve():
            shutil.rmtree(final, ignore_errors=True)
            shutil.copytree(adapter, final)
        result.adapter_dir = final
        if config.export_dir and is_main_process():
            result.model_dir = export_merged(config.model, final, config.export_dir)
    else:
        result.model_dir = Path(model)
    return result
