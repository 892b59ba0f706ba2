"""What the engine takes and gives back: one request (prompt, silver/golden responses, word budget), one result.

>>> request = OptimizationRequest("Summarise {text}", max_words=30)
>>> request.budget, request.variant
(30, 'none')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .guard import Reason
from .templates import Variant, default_max_words, variant_for
from .validation import check_max_words, check_text

__all__ = ["OptimizationRequest", "OptimizationResult"]


@dataclass(frozen=True)
class OptimizationRequest:
    """One prompt to optimize, with the paper's optional silver/golden responses and a word budget."""

    prompt: str
    silver_response: str | None = None
    golden_response: str | None = None
    max_words: int | None = None

    def __post_init__(self) -> None:
        check_text(self.prompt, "prompt")
        if not self.prompt.strip():
            raise ValueError("prompt is empty or whitespace; pass the instruction text to optimize")
        for name in ("silver_response", "golden_response"):
            value = getattr(self, name)
            if value is not None:
                check_text(value, name)
        check_max_words(self.max_words)

    @property
    def budget(self) -> int:
        return self.max_words if self.max_words is not None else default_max_words(self.prompt)

    @property
    def variant(self) -> Variant:
        return variant_for(silver_response=self.silver_response, golden_response=self.golden_response)


@dataclass
class OptimizationResult:
    """What :meth:`PromptOptimizer.optimize` returns.

    ``optimized`` is the prompt to use: the rewrite when accepted, otherwise the original.
    """

    original: str
    optimized: str
    #: The cleaned model rewrite, even when rejected ("" when the model was not called). With prefill it is the
    #: original plus the model's continuation; in the append scope, when the rewrite was rejected but its statements
    #: of the reply's form were kept, it is the original plus those statements (the accepted text).
    candidate: str
    accepted: bool
    #: Why the original was kept (guard reasons, judge verdict, or an error); ``None`` when accepted.
    reason: str | None
    variant: Variant
    max_words: int
    model_id: str
    cached: bool = False
    #: ``"rewrite"`` / ``"original"`` when the judge ran, else ``None``.
    judge_choice: Literal["rewrite", "original"] | None = None
    #: Seconds spent per stage: ``generate``, ``guard``, ``judge``, ``total`` (shared by a batch).
    timings: dict[str, float] = field(default_factory=dict)
    #: Data cut to fit the model's context, if any.
    truncated: list[str] = field(default_factory=list)
    #: The guard's structured reasons (``code`` + ``detail``) when the guard rejected the rewrite.
    guard_reasons: list[Reason] = field(default_factory=list)
    #: Why this item could not be optimized at all (invalid text, or the backend failed on it); the original
    #: is returned. ``None`` for every normal result, including guard fallbacks.
    error: str | None = None

    @property
    def fell_back(self) -> bool:
        """True when the guard, the judge or an error made the engine return the original."""
        return not self.accepted

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fell_back"] = self.fell_back
        return data
