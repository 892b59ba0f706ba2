"""A GEPA instruction proposer that rewrites instructions with the local FIPO model.

GEPA (``dspy.GEPA``) evolves instructions by reflecting on execution traces. Its ``instruction_proposer``
hook receives, per component (predictor), reflective records ``{"Inputs", "Generated Outputs", "Feedback"}``.
:class:`FIPOProposer` maps them onto the FIPO template: the generated outputs are the *silver* response, and
the evaluator's feedback (which usually states what was expected) is the *golden* response. The FIPO model
is called raw through :class:`~fipo_integrations.engine.PromptOptimizer`, so no reflection LM is needed.

>>> import dspy
>>> from fipo_integrations import FIPOProposer
>>> gepa = dspy.GEPA(  # doctest: +SKIP
...     metric=metric_with_feedback, instruction_proposer=FIPOProposer(), max_metric_calls=200
... )
>>> optimized = gepa.compile(program, trainset=trainset, valset=valset)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..backends.base import Backend
from ..engine import OptimizationRequest, PromptOptimizer
from ._render import render_records
from .teleprompter import resolve_optimizer

__all__ = ["FIPOProposer"]

logger = logging.getLogger(__name__)


def _as_mapping(value: Any) -> Mapping[str, Any] | str:
    if isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    return str(value)


class FIPOProposer:
    """GEPA ``instruction_proposer``: ``__call__(candidate, reflective_dataset, components_to_update)``.

    Args:
        optimizer: a :class:`PromptOptimizer`, a backend, a model spec, or ``None`` (embedded default);
            built on first call.
        max_records: reflective records shown to the optimizer per component.
        use_golden: show the feedback as the golden response (otherwise only the silver response).
        num_candidates: rewrites per component (greedy, then sampled); the first one the guard accepts is
            returned. When none passes, the current instruction is returned unchanged.
        seed: seed for the sampled rewrites.

    ``history`` keeps one entry per proposed component (the instruction before/after and the guard reason).

    >>> from fipo_integrations import PromptOptimizer
    >>> from fipo_integrations.testing import ScriptedBackend
    >>> proposer = FIPOProposer(PromptOptimizer(ScriptedBackend(lambda p: p + " Reply briefly."), cache=False))
    >>> record = {"Inputs": {"q": "2+2?"}, "Generated Outputs": {"a": "five"}, "Feedback": "Expected 4."}
    >>> proposer({"qa": "Answer the question."}, {"qa": [record]}, ["qa"])
    {'qa': 'Answer the question. Reply briefly.'}
    """

    def __init__(
        self,
        optimizer: PromptOptimizer | Backend | str | Path | None = None,
        *,
        max_records: int = 3,
        use_golden: bool = True,
        num_candidates: int = 2,
        seed: int | None = 0,
    ) -> None:
        if max_records < 0:
            raise ValueError(f"max_records must be >= 0, got {max_records}")
        if num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
        if optimizer is not None and not isinstance(optimizer, (PromptOptimizer, Backend, str, Path)):
            resolve_optimizer(optimizer)  # raises the explanatory TypeError now, not on GEPA's first proposal
        self._spec = optimizer
        self._optimizer: PromptOptimizer | None = optimizer if isinstance(optimizer, PromptOptimizer) else None
        self.max_records = max_records
        self.use_golden = use_golden
        self.num_candidates = num_candidates
        self.seed = seed
        self.history: list[dict[str, Any]] = []

    @property
    def optimizer(self) -> PromptOptimizer:
        if self._optimizer is None:
            self._optimizer = resolve_optimizer(self._spec)
        return self._optimizer

    def request_for(self, instruction: str, records: Sequence[Mapping[str, Any]]) -> OptimizationRequest:
        """The FIPO request for one component: silver = generated outputs, golden = feedback."""
        shown = list(records)[: self.max_records]
        pairs = [(_as_mapping(r.get("Inputs", {})), _as_mapping(r.get("Generated Outputs", ""))) for r in shown]
        silver = render_records(pairs, output_label="Generated output") if pairs else None  # type: ignore[arg-type]
        golden = None
        feedback = [str(r.get("Feedback", "") or "") for r in shown]
        if self.use_golden and any(text.strip() for text in feedback):
            inputs_only = [(inputs, "") for inputs, _ in pairs]
            golden = render_records(
                inputs_only,  # type: ignore[arg-type]
                output_label="Expected output",
                notes=feedback,
                note_label="What the output should be (evaluator feedback)",
            )
        return OptimizationRequest(instruction, silver_response=silver or None, golden_response=golden)

    def __call__(
        self,
        candidate: dict[str, str],
        reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
        components_to_update: list[str],
    ) -> dict[str, str]:
        """Propose a new instruction for each component in ``components_to_update``."""
        names = [name for name in components_to_update if name in candidate and candidate[name].strip()]
        missing = sorted(set(components_to_update) - set(names))
        if missing:
            logger.warning("FIPOProposer: no current instruction for %s; left out", missing)
        if not names:
            return {}
        requests = [self.request_for(candidate[name], reflective_dataset.get(name, [])) for name in names]
        groups = self.optimizer.candidates_batch(requests, num_candidates=self.num_candidates, seed=self.seed)
        proposals: dict[str, str] = {}
        for name, request, group in zip(names, requests, groups, strict=True):
            chosen = next((result for result in group if result.accepted), None)
            proposals[name] = chosen.optimized if chosen is not None else request.prompt
            reason = None if chosen is not None else "; ".join(sorted({str(r.reason) for r in group}))
            self.history.append(
                {
                    "component": name,
                    "before": request.prompt,
                    "after": proposals[name],
                    "variant": request.variant,
                    "accepted": chosen is not None,
                    "reason": reason,
                }
            )
            logger.info("FIPOProposer: %s %s", name, "rewritten" if chosen else f"kept ({reason})")
        return proposals
