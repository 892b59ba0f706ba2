"""What a FIPO compile did: every candidate instruction, its guard verdict and its score.

The teleprompter attaches a :class:`FIPOReport` to the compiled program as ``compiled.fipo_report``.

>>> report = FIPOReport(selection="metric", model_id="scripted", seed=0)
>>> report.to_dict()["selection"]
'metric'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["CandidateRecord", "FIPOReport", "PredictorReport", "Selection"]

#: How the winning instruction was chosen.
Selection = Literal["metric", "judge", "greedy"]


@dataclass
class CandidateRecord:
    """One instruction that was considered for a predictor."""

    instruction: str
    #: ``"original"``, ``"fipo:<variant>:greedy"`` or ``"fipo:<variant>:sample<k>"``.
    source: str
    #: FIPO template variant (``none``/``silver``/``golden``/``both``); ``None`` for the original.
    variant: str | None = None
    #: Guard verdict (always ``True`` for the original).
    accepted: bool = True
    #: Why the guard rejected it, or why it was not evaluated.
    reason: str | None = None
    #: Metric on the selection set, in percent as ``dspy.Evaluate`` reports it; ``None`` if not evaluated.
    score: float | None = None
    #: Self-judge wins against the original over both A/B orders (0, 1 or 2); ``None`` if not judged.
    judge_wins: int | None = None
    #: This instruction is the one the compiled program uses.
    selected: bool = False


@dataclass
class PredictorReport:
    """The candidates of one predictor and which one won."""

    name: str
    original_instruction: str
    final_instruction: str
    #: The silver (program outputs) and golden (labels) responses shown to the optimizer.
    silver_response: str | None = None
    golden_response: str | None = None
    candidates: list[CandidateRecord] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.final_instruction != self.original_instruction


@dataclass
class FIPOReport:
    """A whole compile: per-predictor reports, scores before/after, counts and timing."""

    selection: Selection
    model_id: str
    seed: int | None
    predictors: list[PredictorReport] = field(default_factory=list)
    #: Metric of the input program on the selection set (percent), and of the compiled program.
    baseline_score: float | None = None
    final_score: float | None = None
    #: Size of the set the metric was computed on (0 without a metric).
    selection_set_size: int = 0
    #: Program evaluations on the selection set (the baseline included).
    evaluations: int = 0
    #: Optimizer-model conversations that were generated (cache hits excluded) and judge comparisons.
    optimizer_generations: int = 0
    judge_calls: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return any(predictor.changed for predictor in self.predictors)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed"] = self.changed
        for predictor, entry in zip(self.predictors, data["predictors"], strict=True):
            entry["changed"] = predictor.changed
        return data

    def summary(self) -> str:
        """A short human-readable account (one line per predictor)."""
        lines = [f"FIPO ({self.selection}, {self.model_id}, seed={self.seed}) in {self.seconds:.1f}s"]
        if self.baseline_score is not None:
            lines.append(
                f"score {self.baseline_score:.2f} -> {self.final_score:.2f} on {self.selection_set_size} examples, "
                f"{self.evaluations} evaluations"
            )
        for predictor in self.predictors:
            status = "changed" if predictor.changed else "kept"
            accepted = sum(1 for c in predictor.candidates if c.source != "original" and c.accepted)
            lines.append(
                f"- {predictor.name}: {status} ({accepted} guarded candidates): {predictor.final_instruction!r}"
            )
        return "\n".join(lines)
