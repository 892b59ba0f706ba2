"""FIPOProposer: GEPA's instruction_proposer protocol on top of the FIPO engine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

dspy = pytest.importorskip("dspy")

from fipo_integrations import FIPOProposer, PromptOptimizer  # noqa: E402
from fipo_integrations.templates import ChatMessage  # noqa: E402
from fipo_integrations.testing import ScriptedBackend  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "dspy"


@pytest.fixture
def reflective_dataset() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads((FIXTURES / "reflective_dataset.json").read_text())
    return data


def proposer_with(script: Any, **kwargs: Any) -> tuple[FIPOProposer, ScriptedBackend]:
    backend = ScriptedBackend(script, full=True)
    return FIPOProposer(PromptOptimizer(backend, cache=False), **kwargs), backend


def suffix(prompt: str, conversation: Sequence[ChatMessage], index: int) -> str:
    return prompt + " Reply with the city name only."


def test_records_become_silver_and_golden_responses(reflective_dataset: dict[str, Any]) -> None:
    proposer, backend = proposer_with(suffix)
    candidate = {"qa.predict": "Answer the question.", "other": "Untouched."}
    proposals = proposer(candidate, reflective_dataset, ["qa.predict"])
    assert proposals == {"qa.predict": "Answer the question. Reply with the city name only."}
    content = backend.calls[0][0][-1]["content"]
    assert "### Silver Response" in content and "### Golden Response" in content
    silver = content.split("### Silver Response")[1].split("### Golden Response")[0]
    golden = content.split("### Golden Response")[1].split("### Requirements")[0]
    assert "Generated output:\nanswer: Peru's capital is a large city." in silver
    assert "Couldn't parse the output" in silver  # a failed parse arrives as a string and is kept
    assert "The expected answer is Lima" in golden and "Peru's capital is a large city" not in golden
    assert proposer.history[-1]["variant"] == "both" and proposer.history[-1]["accepted"]


def test_max_records_and_use_golden(reflective_dataset: dict[str, Any]) -> None:
    proposer, backend = proposer_with(suffix, max_records=1, use_golden=False)
    proposer({"qa.predict": "Answer the question."}, reflective_dataset, ["qa.predict"])
    content = backend.calls[0][0][-1]["content"]
    assert "### Golden Response" not in content
    assert "Norway" not in content and "Peru" in content


def test_guard_rejections_fall_back_to_the_next_candidate_or_the_current_text(
    reflective_dataset: dict[str, Any],
) -> None:
    # The greedy rewrite (first generate call) answers the task instead; the sampled one is fine.
    replies = iter(["The answer is 42 for {country}."])

    def script(prompt: str, conversation: Sequence[ChatMessage], index: int) -> str:
        return next(replies, prompt + " Be brief.")

    proposer, _ = proposer_with(script, num_candidates=2)
    current = "Answer the question about {country}."
    (proposal,) = proposer({"qa.predict": current}, reflective_dataset, ["qa.predict"]).values()
    assert proposal == current + " Be brief."
    always_bad, _ = proposer_with(lambda p, c, i: "The answer is 42.", num_candidates=2)
    assert always_bad({"qa.predict": current}, reflective_dataset, ["qa.predict"]) == {"qa.predict": current}
    assert always_bad.history[-1]["accepted"] is False and "guard" in always_bad.history[-1]["reason"]


def test_unknown_components_are_skipped(reflective_dataset: dict[str, Any]) -> None:
    proposer, backend = proposer_with(suffix)
    assert proposer({"qa.predict": "Answer."}, reflective_dataset, ["missing"]) == {}
    assert backend.calls == []


def test_argument_errors() -> None:
    with pytest.raises(ValueError, match="num_candidates"):
        FIPOProposer(num_candidates=0)
    with pytest.raises(TypeError, match="optimizer must be"):
        FIPOProposer(optimizer=3.5)  # type: ignore[arg-type]


def test_gepa_compiles_with_the_fipo_proposer() -> None:
    """End to end through dspy.GEPA: the proposer is called with GEPA's records and its text is used."""
    questions = {"Capital of Peru?": "Lima", "Capital of Norway?": "Oslo", "Capital of Kenya?": "Nairobi"}
    examples = [dspy.Example(question=q, answer=a).with_inputs("question") for q, a in questions.items()]

    def metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
        correct = gold.answer == pred.answer
        return dspy.Prediction(score=float(correct), feedback="Correct." if correct else f"Expected {gold.answer}.")

    lm = dspy.utils.DummyLM({q: {"answer": "Lima"} for q in questions})
    proposer, backend = proposer_with(suffix)
    gepa = dspy.GEPA(metric=metric, instruction_proposer=proposer, max_metric_calls=12, seed=0)
    with dspy.context(lm=lm):
        optimized = gepa.compile(dspy.Predict("question -> answer"), trainset=examples, valset=examples)
    assert proposer.history, "GEPA never called the proposer"
    golden = backend.calls[0][0][-1]["content"].split("### Golden Response")[1]
    assert "Expected" in golden or "Correct." in golden
    assert isinstance(optimized, dspy.Predict)
