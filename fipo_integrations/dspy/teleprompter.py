"""The FIPO teleprompter: compile DSPy programs with a local prompt-optimization model.

For every predictor of the program, the FIPO model (called raw through
:class:`~fipo_integrations.engine.PromptOptimizer`, never through DSPy's adapters) rewrites the signature's
instructions. It sees the naive instruction, the program's own outputs on a few training examples (the
paper's *silver* response) and their labels (the *golden* response), and proposes candidates across the
template variants (greedy first, then sampled). Only candidates that pass the guard count. With a metric,
the original and every candidate are scored with ``dspy.Evaluate`` and the best is kept, the original
winning ties, so the compiled program is never worse than the input on that set. Without a metric, the
optimizer's self-judge decides (both A/B orders), or the greedy guarded rewrite is kept.

>>> import dspy
>>> from fipo_integrations import FIPO
>>> def exact(example, prediction, trace=None):
...     return example.answer.lower() == prediction.answer.strip().lower()
>>> teleprompter = FIPO(metric=exact, num_candidates=4, seed=0)  # doctest: +SKIP
>>> compiled = teleprompter.compile(dspy.Predict("question -> answer"), trainset=trainset)  # doctest: +SKIP
>>> print(compiled.fipo_report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._deps import require
from ..backends.base import Backend
from ..engine import OptimizationRequest, OptimizationResult, PromptOptimizer
from ..judge import duel_wins
from ..templates import VARIANTS, Variant
from ..validation import check_max_words
from ._render import render_records
from .report import CandidateRecord, FIPOReport, PredictorReport, Selection

dspy = require("dspy", feature="the FIPO teleprompter")
Teleprompter = require("dspy.teleprompt", feature="the FIPO teleprompter").Teleprompter

__all__ = ["FIPO", "CandidateRecord", "FIPOReport", "FIPOTeleprompter", "PredictorReport"]

logger = logging.getLogger(__name__)

Metric = Callable[..., Any]
OptimizerSpec = PromptOptimizer | Backend | str | Path | None
_SCORE_EPSILON = 1e-9


def resolve_optimizer(optimizer: OptimizerSpec) -> PromptOptimizer:
    """A :class:`PromptOptimizer` from an engine, a backend, a model spec, or ``None`` (the embedded default)."""
    if isinstance(optimizer, PromptOptimizer):
        return optimizer
    if optimizer is None or isinstance(optimizer, (str, Path, Backend)):
        return PromptOptimizer(optimizer)
    raise TypeError(
        f"optimizer must be a PromptOptimizer, a Backend, a model spec (str or Path) or None, got "
        f"{type(optimizer).__name__}; for example FIPO(optimizer=PromptOptimizer('embedded:smollm2-135m-instruct'))"
    )


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


class FIPO(Teleprompter):  # type: ignore[misc,valid-type]
    """Compile a DSPy program by rewriting its predictors' instructions with a local FIPO model.

    Args:
        metric: ``metric(example, prediction, trace=None) -> float | bool``. With it, candidates are scored
            on ``valset`` (or a held-back part of ``trainset``) and the best wins, ties going to the original.
        optimizer: a :class:`PromptOptimizer`, a backend, a model spec, or ``None`` for the embedded default.
        num_candidates: FIPO candidates proposed per predictor (spread over the template variants).
        num_silver_examples: training examples shown to the optimizer: the program's outputs on them are the
            silver response, their labels the golden response. ``0`` uses the bare (``none``) template only.
        use_golden: also show labels (the ``golden`` and ``both`` variants).
        valset_size: examples scored per candidate: the first ``valset_size`` of ``valset``, or that many
            held back from ``trainset`` when no ``valset`` is given (default: half of ``trainset``).
        num_threads: threads for ``dspy.Evaluate`` (default: ``dspy.settings.num_threads``).
        seed: makes the held-back split, the examples shown and the sampled candidates reproducible.
        judge: ``None`` uses the optimizer's A/B self-judge only when there is no metric; ``True`` also uses
            it with a metric, to skip evaluating candidates it ranks below the original; ``False`` never.
        max_evaluations: cap on program evaluations (the baseline included); default
            ``1 + num_candidates * number_of_predictors``.
        max_words: length budget passed to the optimizer (default: from the instruction's length).
        display_progress: show a progress bar over the evaluations.

    The compiled program carries ``compiled.fipo_report`` (:class:`FIPOReport`).
    """

    def __init__(
        self,
        *,
        metric: Metric | None = None,
        optimizer: OptimizerSpec = None,
        num_candidates: int = 4,
        num_silver_examples: int = 3,
        use_golden: bool = True,
        valset_size: int | None = None,
        num_threads: int | None = None,
        seed: int | None = 0,
        judge: bool | None = None,
        max_evaluations: int | None = None,
        max_words: int | None = None,
        display_progress: bool = True,
    ) -> None:
        super().__init__()
        if metric is not None and not callable(metric):
            raise TypeError(f"metric must be callable(example, prediction, trace=None), got {type(metric).__name__}")
        for name, value, low in (
            ("num_candidates", num_candidates, 1),
            ("num_silver_examples", num_silver_examples, 0),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        for name, optional in (("valset_size", valset_size), ("max_evaluations", max_evaluations)):
            if optional is not None and (not isinstance(optional, int) or optional < 1):
                raise ValueError(f"{name} must be a positive int or None, got {optional!r}")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 or None, got {num_threads}")
        self.metric = metric
        self._optimizer_spec = optimizer
        self._optimizer: PromptOptimizer | None = optimizer if isinstance(optimizer, PromptOptimizer) else None
        self.num_candidates = num_candidates
        self.num_silver_examples = num_silver_examples
        self.use_golden = use_golden
        self.valset_size = valset_size
        self.num_threads = num_threads
        self.seed = seed
        self.judge = judge
        self.max_evaluations = max_evaluations
        self.max_words = check_max_words(max_words)
        self.display_progress = display_progress

    @property
    def optimizer(self) -> PromptOptimizer:
        """The FIPO engine (built on first use, so constructing the teleprompter loads no model)."""
        if self._optimizer is None:
            self._optimizer = resolve_optimizer(self._optimizer_spec)
        return self._optimizer

    # ------------------------------------------------------------------------------------------- compile
    def compile(
        self,
        student: Any,
        *,
        trainset: Sequence[Any],
        valset: Sequence[Any] | None = None,
        teacher: Any | None = None,
        **kwargs: Any,
    ) -> Any:
        """Return an optimized copy of ``student`` (the input program is never modified).

        ``teacher``, when given, supplies golden responses for predictors whose outputs the examples do not
        label (matched by predictor name). Extra keyword arguments are refused.
        """
        if kwargs:
            raise TypeError(
                f"FIPO.compile got unexpected arguments {sorted(kwargs)}; it takes trainset, valset, teacher"
            )
        if not isinstance(student, dspy.Module):
            raise TypeError(f"student must be a dspy.Module (e.g. dspy.Predict(...)), got {type(student).__name__}")
        started = time.perf_counter()
        rng = random.Random(self.seed)
        trainset, valset = list(trainset or []), list(valset) if valset is not None else None
        if self.metric is not None and not trainset and not valset:
            raise ValueError("FIPO with a metric needs examples: pass a non-empty trainset (and optionally valset)")
        selection_set, pool = self._split(trainset, valset, rng)
        examples = rng.sample(pool, min(self.num_silver_examples, len(pool))) if pool else []
        program = student.deepcopy()
        predictors = program.named_predictors()
        if not predictors:
            raise ValueError("student has no predictors (dspy.Predict / ChainOfThought modules) to optimize")
        use_judge = self.judge if self.judge is not None else self.metric is None
        selection: Selection = "metric" if self.metric is not None else "judge" if use_judge else "greedy"
        report = FIPOReport(selection=selection, model_id=self.optimizer.model_id, seed=self.seed)
        budget = self.max_evaluations or 1 + self.num_candidates * len(predictors)
        progress = _progress(
            total=min(budget, 1 + self.num_candidates * len(predictors)), enabled=self.display_progress
        )
        current_score: float | None = None
        if self.metric is not None:
            report.selection_set_size = len(selection_set)
            current_score = self._evaluate(program, selection_set)
            report.baseline_score = current_score
            report.evaluations += 1
            progress.update(1)
            logger.info("FIPO: baseline score %.2f on %d examples", current_score, len(selection_set))
        teacher_predictors = dict(teacher.named_predictors()) if teacher is not None else {}
        try:
            for name, predictor in predictors:
                entry, current_score = self._optimize_predictor(
                    program,
                    name,
                    predictor,
                    examples,
                    teacher,
                    teacher_predictors.get(name),
                    selection_set,
                    current_score,
                    budget,
                    report,
                    progress,
                    use_judge,
                )
                report.predictors.append(entry)
        finally:
            progress.close()
        report.final_score = current_score
        report.seconds = time.perf_counter() - started
        logger.info("%s", report.summary())
        program.fipo_report = report
        return program

    # ------------------------------------------------------------------------------------------ internals
    def _split(self, trainset: list[Any], valset: list[Any] | None, rng: random.Random) -> tuple[list[Any], list[Any]]:
        """(selection set for the metric, pool of training examples shown to the optimizer)."""
        if valset is not None:
            return valset[: self.valset_size] if self.valset_size else valset, trainset or list(valset)
        if self.metric is None:
            return [], trainset
        shuffled = list(trainset)
        rng.shuffle(shuffled)
        if len(shuffled) < 2:
            logger.warning(
                "FIPO: trainset has %d example(s); scoring on the same examples it learns from", len(shuffled)
            )
            return shuffled, shuffled
        size = self.valset_size or max(1, len(shuffled) // 2)
        if size >= len(shuffled):
            raise ValueError(
                f"valset_size={size} leaves no training examples out of {len(shuffled)}; pass a smaller "
                "valset_size or a separate valset"
            )
        return shuffled[:size], shuffled[size:]

    def _evaluate(self, program: Any, devset: list[Any]) -> float:
        evaluate = dspy.Evaluate(
            devset=devset,
            metric=self.metric,
            num_threads=self.num_threads,
            display_progress=False,
            display_table=False,
            max_errors=len(devset) + 1,  # a failed example scores 0; it never aborts the compile
            provide_traceback=False,
        )
        result = evaluate(program)
        scores = [float(score) for *_, score in result.results]
        return 100.0 * sum(scores) / len(scores)

    def _traces(self, program: Any, examples: list[Any]) -> list[tuple[Any, list[tuple[Any, dict[str, Any], Any]]]]:
        """Run ``program`` on each example, capturing every predictor call (failures are skipped)."""
        traces = []
        for example in examples:
            with dspy.context(trace=[]):
                try:
                    program(**example.inputs())
                except Exception as exc:  # a small task model may fail to follow the format
                    logger.debug("FIPO: program failed on a silver example: %s", exc)
                traces.append((example, list(dspy.settings.trace)))
        return traces

    def _responses(
        self, program: Any, predictor: Any, examples: list[Any], teacher: Any | None, teacher_predictor: Any | None
    ) -> tuple[str | None, str | None]:
        """Silver (program outputs) and golden (labels, else teacher outputs) responses for one predictor."""
        if not examples:
            return None, None
        signature = predictor.signature
        input_names, output_names = list(signature.input_fields), list(signature.output_fields)
        teacher_outputs: dict[int, dict[str, Any]] = {}
        if self.use_golden and teacher is not None and teacher_predictor is not None:
            for index, (_, calls) in enumerate(self._traces(teacher, examples)):
                for called, _, prediction in calls:
                    if called is teacher_predictor:
                        teacher_outputs[index] = {k: prediction[k] for k in output_names if k in prediction}
        silver: list[tuple[dict[str, Any], dict[str, Any]]] = []
        golden: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for index, (example, calls) in enumerate(self._traces(program, examples)):
            call = next(((inputs, pred) for called, inputs, pred in calls if called is predictor), None)
            inputs = call[0] if call else {k: example[k] for k in input_names if k in example}
            inputs = {k: inputs[k] for k in input_names if k in inputs}
            if call is not None:
                silver.append((inputs, {k: call[1][k] for k in output_names if k in call[1]}))
            if self.use_golden:
                labels = {k: example[k] for k in output_names if k in example.labels()}
                labels = labels or teacher_outputs.get(index, {})
                if labels:
                    golden.append((inputs, labels))
        silver_text = render_records(silver, output_label="Output") if silver else None
        golden_text = render_records(golden, output_label="Expected output") if golden else None
        return silver_text, golden_text

    def _candidates(
        self, original: str, silver: str | None, golden: str | None
    ) -> list[tuple[Variant, int, OptimizationResult]]:
        """FIPO candidates as ``(variant, rank, result)``: the greedy rewrite of every available variant first
        (richest variant first: both, golden, silver, none), then the sampled ones, round-robin."""
        variants: list[Variant] = [
            v for v in reversed(VARIANTS) if (v in ("none", "golden") or silver) and (v in ("none", "silver") or golden)
        ]
        per_variant = math.ceil(self.num_candidates / len(variants))
        requests = [
            OptimizationRequest(
                original,
                silver_response=silver if v in ("silver", "both") else None,
                golden_response=golden if v in ("golden", "both") else None,
                max_words=self.max_words,
            )
            for v in variants
        ]
        groups = self.optimizer.candidates_batch(requests, num_candidates=per_variant, seed=self.seed)
        return [
            (variant, rank, group[rank])
            for rank in range(per_variant)
            for variant, group in zip(variants, groups, strict=True)
            if rank < len(group)
        ]

    def _optimize_predictor(
        self,
        program: Any,
        name: str,
        predictor: Any,
        examples: list[Any],
        teacher: Any | None,
        teacher_predictor: Any | None,
        selection_set: list[Any],
        current_score: float | None,
        budget: int,
        report: FIPOReport,
        progress: Any,
        use_judge: bool,
    ) -> tuple[PredictorReport, float | None]:
        original_signature = predictor.signature
        original = str(original_signature.instructions)
        entry = PredictorReport(name=name, original_instruction=original, final_instruction=original)
        entry.candidates.append(CandidateRecord(original, "original", score=current_score, selected=True))
        if not original.strip():
            entry.candidates[0].reason = "empty instruction: nothing to optimize"
            return entry, current_score
        entry.silver_response, entry.golden_response = self._responses(
            program, predictor, examples, teacher, teacher_predictor
        )
        logger.info("FIPO: proposing %d candidates for %s", self.num_candidates, name)
        seen = {_normalised(original)}
        fresh: list[CandidateRecord] = []
        proposals = self._candidates(original, entry.silver_response, entry.golden_response)
        for variant, rank, result in proposals:
            report.optimizer_generations += 0 if result.cached else 1
            kind = "greedy" if rank == 0 else f"sample{rank}"
            record = CandidateRecord(
                result.candidate or original, f"fipo:{variant}:{kind}", variant, result.accepted, result.reason
            )
            entry.candidates.append(record)
            if not result.accepted:
                continue
            key = _normalised(result.optimized)
            if key in seen:
                record.accepted, record.reason = False, "duplicate of an earlier candidate"
                continue
            seen.add(key)
            fresh.append(record)
        fresh = fresh[: self.num_candidates]
        golden = entry.golden_response
        if use_judge and fresh:
            fresh = self._judge(original, fresh, golden, report)
        winner: CandidateRecord | None = None
        if self.metric is not None:
            for record in fresh:
                if report.evaluations >= budget:
                    record.reason = f"not evaluated: max_evaluations={budget} reached"
                    continue
                predictor.signature = original_signature.with_instructions(record.instruction)
                record.score = self._evaluate(program, selection_set)
                report.evaluations += 1
                progress.update(1)
                logger.info("FIPO: %s candidate scored %.2f (current best %.2f)", name, record.score, current_score)
                if current_score is not None and record.score > current_score + _SCORE_EPSILON:
                    winner, current_score = record, record.score
                predictor.signature = original_signature
        elif use_judge:
            winner = next((r for r in fresh if r.judge_wins == 2), None)
        else:
            winner = fresh[0] if fresh else None
        if winner is not None:
            entry.candidates[0].selected = False
            winner.selected = True
            entry.final_instruction = winner.instruction
            predictor.signature = original_signature.with_instructions(winner.instruction)
        logger.info("FIPO: %s %s", name, "rewritten" if winner else "kept its original instruction")
        return entry, current_score

    def _judge(
        self, original: str, records: list[CandidateRecord], golden: str | None, report: FIPOReport
    ) -> list[CandidateRecord]:
        """Judge each candidate against the original in both orders; keep the ones that win both, best first."""
        backend = self.optimizer.backend
        duels = [(original, record.instruction, original, golden) for record in records]  # one batched call
        report.judge_calls += 2 * len(records)
        winners = []
        for record, wins in zip(records, duel_wins(backend, duels), strict=True):
            record.judge_wins = wins
            if record.judge_wins < 2:
                record.reason = "judge did not prefer it over the original in both orders"
            else:
                winners.append(record)
        # Among the winners, a candidate that beats the current leader in both orders takes the lead.
        ranked = list(winners)
        if len(ranked) > 1:
            leader = ranked[0]
            for challenger in ranked[1:]:
                report.judge_calls += 2
                if duel_wins(backend, [(original, challenger.instruction, leader.instruction, golden)]) == [2]:
                    leader = challenger
            ranked.remove(leader)
            ranked.insert(0, leader)
        return ranked


#: Alias: ``FIPOTeleprompter`` is the same class as :class:`FIPO`.
FIPOTeleprompter = FIPO


class _NoProgress:
    def update(self, n: int = 1) -> None:
        """No-op."""

    def close(self) -> None:
        """No-op."""


def _progress(*, total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="FIPO evaluations", unit="eval", leave=False)
