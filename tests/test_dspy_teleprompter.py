"""The FIPO teleprompter with DummyLM task models and a scripted FIPO backend (no real model)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

dspy = pytest.importorskip("dspy")

from dspy.utils import DummyLM  # noqa: E402

from fipo_integrations import FIPO, FIPOTeleprompter, PromptOptimizer  # noqa: E402
from fipo_integrations.backends.base import GenerationParams  # noqa: E402
from fipo_integrations.templates import ChatMessage  # noqa: E402
from fipo_integrations.testing import ScriptedBackend  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "dspy"
ANSWERS = {
    json.loads(line)["question"]: json.loads(line)["answer"]
    for line in (FIXTURES / "capitals.jsonl").read_text().splitlines()
}


def load_examples() -> list[Any]:
    return [dspy.Example(question=q, answer=a).with_inputs("question") for q, a in ANSWERS.items()]


def exact_match(example: Any, prediction: Any, trace: Any = None) -> bool:
    return bool(example.answer.strip().lower() == str(prediction.answer).strip().lower())


class RuleLM(DummyLM):  # type: ignore[misc]
    """A DummyLM whose reply depends on the system message (where ChatAdapter puts the instructions).

    ``rule(system, user) -> {field: value}``; ``calls`` records every (system, user) pair.
    """

    def __init__(self, rule: Callable[[str, str], dict[str, str]]) -> None:
        super().__init__([], follow_examples=True)
        self.rule = rule
        self.calls: list[tuple[str, str]] = []

    def _use_example(self, messages: list[dict[str, str]]) -> str:
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        user = messages[-1]["content"]
        self.calls.append((system, user))
        return str(self._format_answer_fields(self.rule(system, user)))


def question_of(user: str) -> str:
    return next((q for q in ANSWERS if q in user), "")


def capitals_rule(system: str, user: str) -> dict[str, str]:
    """Correct with "carefully" in the instructions; wrong with "sloppy"; else right on half the questions."""
    question = question_of(user)
    right = ANSWERS.get(question, "unknown")
    if "sloppy" in system:
        return {"answer": "I don't know"}
    if "carefully" in system:
        return {"answer": right}
    return {"answer": right if len(question) % 2 == 0 else "I don't know"}


def variant_of(conversation: Sequence[ChatMessage]) -> str:
    content = conversation[-1]["content"]
    silver, golden = "### Silver Response" in content, "### Golden Response" in content
    return {(True, True): "both", (True, False): "silver", (False, True): "golden"}.get((silver, golden), "none")


def scripted(rewrites: dict[str, str], **kwargs: Any) -> ScriptedBackend:
    """A FIPO backend answering ``prompt + rewrites[variant]`` (the variant of the rendered template)."""

    def script(prompt: str, conversation: Sequence[ChatMessage], index: int) -> str:
        return prompt + rewrites.get(variant_of(conversation), "")

    return ScriptedBackend(script, full=True, **kwargs)


@pytest.fixture
def examples() -> list[Any]:
    return load_examples()


@pytest.fixture
def capitals_lm() -> Iterator[RuleLM]:
    lm = RuleLM(capitals_rule)
    with dspy.context(lm=lm):
        yield lm


def fipo(backend: ScriptedBackend, **kwargs: Any) -> FIPO:
    kwargs.setdefault("metric", exact_match)
    kwargs.setdefault("num_threads", 1)
    kwargs.setdefault("display_progress", False)
    return FIPO(optimizer=PromptOptimizer(backend, cache=False), **kwargs)


def test_alias_and_constructor_validation() -> None:
    assert FIPOTeleprompter is FIPO
    with pytest.raises(ValueError, match="num_candidates"):
        FIPO(num_candidates=0)
    with pytest.raises(ValueError, match="valset_size"):
        FIPO(valset_size=0)
    with pytest.raises(TypeError, match="metric must be callable"):
        FIPO(metric="accuracy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="optimizer must be"):
        FIPO(optimizer=42).optimizer  # type: ignore[arg-type]  # noqa: B018


def test_compile_rewrites_instruction_and_never_mutates_the_student(capitals_lm: RuleLM, examples: list[Any]) -> None:
    student = dspy.Predict("question -> answer")
    before = student.signature.instructions
    backend = scripted({"both": " Think carefully and reply with the city name only."})
    compiled = fipo(backend).compile(student, trainset=examples, valset=examples[:6])

    assert student.signature.instructions == before
    assert compiled is not student
    assert compiled.signature.instructions == before + " Think carefully and reply with the city name only."
    report = compiled.fipo_report
    assert report.selection == "metric"
    assert report.baseline_score is not None and report.final_score is not None
    assert report.baseline_score < report.final_score == 100.0
    assert report.selection_set_size == 6
    assert report.predictors[0].changed
    # The FIPO model was called raw: four template variants in one batch, no DSPy adapter text.
    (batch,) = backend.calls
    assert sorted(variant_of(c) for c in batch) == ["both", "golden", "none", "silver"]
    assert all("[[ ##" not in c[-1]["content"] for c in batch)


def test_worse_candidate_is_rejected_and_better_one_wins(capitals_lm: RuleLM, examples: list[Any]) -> None:
    backend = scripted({"none": " Be sloppy.", "silver": " Answer carefully.", "golden": " Be sloppy and quick."})
    compiled = fipo(backend).compile(dspy.Predict("question -> answer"), trainset=examples, valset=examples)
    records = {r.source: r for r in compiled.fipo_report.predictors[0].candidates}
    baseline = records["original"].score
    assert records["fipo:none:greedy"].score < baseline  # type: ignore[operator]
    assert records["fipo:golden:greedy"].score < baseline  # type: ignore[operator]
    assert records["fipo:silver:greedy"].selected
    assert not records["fipo:none:greedy"].selected
    assert compiled.signature.instructions.endswith("Answer carefully.")


def test_only_worse_candidates_keep_the_original(capitals_lm: RuleLM, examples: list[Any]) -> None:
    student = dspy.Predict("question -> answer")
    backend = scripted({"none": " Be sloppy.", "silver": " Be sloppy!", "golden": " Sloppy is fine, be sloppy."})
    compiled = fipo(backend).compile(student, trainset=examples, valset=examples)
    report = compiled.fipo_report
    assert compiled.signature.instructions == student.signature.instructions
    assert report.final_score == report.baseline_score
    assert report.predictors[0].candidates[0].selected
    assert not report.predictors[0].changed


def test_ties_keep_the_original(examples: list[Any]) -> None:
    # A DummyLM that answers the same whatever the instructions: every candidate ties with the original.
    lm = DummyLM({q: {"answer": a} for q, a in ANSWERS.items()})
    backend = scripted({"none": " Reply with the city name.", "both": " Name the capital city."})
    student = dspy.Predict("question -> answer")
    with dspy.context(lm=lm):
        compiled = fipo(backend).compile(student, trainset=examples, valset=examples[:4])
    candidates = compiled.fipo_report.predictors[0].candidates
    scored = [c for c in candidates if c.score is not None]
    assert len(scored) >= 3 and len({c.score for c in scored}) == 1
    assert compiled.signature.instructions == student.signature.instructions
    assert candidates[0].selected and not any(c.selected for c in candidates[1:])


def test_guard_rejected_candidates_are_never_evaluated(capitals_lm: RuleLM, examples: list[Any]) -> None:
    backend = ScriptedBackend(lambda prompt: "The answer is 42.")
    compiled = fipo(backend).compile(dspy.Predict("question -> answer"), trainset=examples, valset=examples[:4])
    report = compiled.fipo_report
    fipo_records = [c for c in report.predictors[0].candidates if c.source != "original"]
    assert fipo_records and all(not c.accepted and c.score is None for c in fipo_records)
    assert all("guard" in (c.reason or "") or "duplicate" in (c.reason or "") for c in fipo_records)
    assert report.evaluations == 1  # the baseline only


def test_duplicates_are_dropped(capitals_lm: RuleLM, examples: list[Any]) -> None:
    backend = scripted({v: " Answer carefully." for v in ("none", "silver", "golden", "both")})
    compiled = fipo(backend).compile(dspy.Predict("question -> answer"), trainset=examples, valset=examples[:4])
    candidates = compiled.fipo_report.predictors[0].candidates[1:]
    assert sum(c.accepted for c in candidates) == 1
    assert sum(c.reason == "duplicate of an earlier candidate" for c in candidates) == 3
    assert compiled.fipo_report.evaluations == 2


def test_silver_and_golden_responses_reach_the_optimizer(capitals_lm: RuleLM, examples: list[Any]) -> None:
    backend = scripted({})
    compiled = fipo(backend, num_silver_examples=2).compile(
        dspy.Predict("question -> answer"), trainset=examples, valset=examples[:3]
    )
    entry = compiled.fipo_report.predictors[0]
    assert entry.silver_response is not None and entry.golden_response is not None
    assert entry.silver_response.count("Example ") == 2 and "Output:\nanswer:" in entry.silver_response
    assert "Expected output:\nanswer:" in entry.golden_response
    golden_answers = [a for q, a in ANSWERS.items() if q in entry.golden_response]
    assert len(golden_answers) == 2 and all(f"answer: {a}" in entry.golden_response for a in golden_answers)
    both = next(c for c in backend.calls[0] if variant_of(c) == "both")[-1]["content"]
    assert entry.silver_response in both and entry.golden_response in both
    # Examples shown to the optimizer come from the training pool, not the selection set.
    assert not any(q in entry.silver_response for q in [e.question for e in examples[:3]])


def test_use_golden_false_and_no_examples_limit_the_variants(capitals_lm: RuleLM, examples: list[Any]) -> None:
    backend = scripted({})
    fipo(backend, use_golden=False).compile(dspy.Predict("question -> answer"), trainset=examples, valset=examples)
    assert sorted(variant_of(c) for c in backend.calls[0]) == ["none", "silver"]
    bare = scripted({})
    fipo(bare, num_silver_examples=0, num_candidates=3).compile(
        dspy.Predict("question -> answer"), trainset=examples, valset=examples
    )
    assert [variant_of(c) for batch in bare.calls for c in batch] == ["none", "none"]  # greedy, then 2 samples


def test_held_back_split_is_reproducible_with_a_seed(capitals_lm: RuleLM, examples: list[Any]) -> None:
    def run(seed: int) -> tuple[str | None, int]:
        compiled = fipo(scripted({}), seed=seed).compile(dspy.Predict("question -> answer"), trainset=examples)
        return compiled.fipo_report.predictors[0].silver_response, compiled.fipo_report.selection_set_size

    first, size = run(0)
    assert size == len(examples) // 2
    assert run(0) == (first, size)
    assert run(1)[0] != first
    with pytest.raises(ValueError, match="valset_size"):
        fipo(scripted({}), valset_size=10).compile(dspy.Predict("question -> answer"), trainset=examples)


def test_saved_program_keeps_the_new_instruction(capitals_lm: RuleLM, examples: list[Any], tmp_path: Path) -> None:
    backend = scripted({"both": " Answer carefully with the city name."})
    compiled = fipo(backend).compile(dspy.Predict("question -> answer"), trainset=examples, valset=examples[:4])
    path = tmp_path / "program.json"
    compiled.save(str(path))
    restored = dspy.Predict("question -> answer")
    restored.load(str(path))
    assert restored.signature.instructions == compiled.signature.instructions
    assert restored.signature.instructions.endswith("Answer carefully with the city name.")
    assert restored(question="What is the capital of Peru?").answer == "Lima"


class DraftThenAnswer(dspy.Module):  # type: ignore[misc,name-defined]
    def __init__(self) -> None:
        super().__init__()
        self.draft = dspy.ChainOfThought("question -> draft")
        self.final = dspy.Predict("question, draft -> answer")

    def forward(self, question: str) -> Any:
        draft = self.draft(question=question).draft
        return self.final(question=question, draft=draft)


def two_step_rule(system: str, user: str) -> dict[str, str]:
    """Drafts are right on half the questions; the answer step only copies the draft when told to."""
    question = question_of(user)
    given = user.split("Respond with")[0]  # the input fields, before ChatAdapter's output requirements
    if "[[ ## draft ## ]]" not in given:  # the drafting predictor
        right = "precise" in system or len(question) % 2 == 0
        return {"reasoning": "Recall the capital.", "draft": ANSWERS.get(question, "?") if right else "some city"}
    draft = given.split("[[ ## draft ## ]]")[-1].strip()
    return {"answer": draft if "copy" in system else "unknown"}


def test_multi_predictor_programs_are_optimized_predictor_by_predictor(examples: list[Any]) -> None:
    backend = scripted({"silver": " Be precise.", "both": " When the draft names a city, copy it."})
    student = DraftThenAnswer()
    with dspy.context(lm=RuleLM(two_step_rule)):
        compiled = fipo(backend).compile(student, trainset=examples, valset=examples[:4])
    report = compiled.fipo_report
    assert [p.name for p in report.predictors] == ["draft.predict", "final"]
    # Coordinate ascent: the drafting rewrite alone does not help (the answer step ignores drafts), so it is
    # rejected; the answer step's rewrite lifts the score; the input program is untouched.
    assert report.baseline_score == 0.0
    assert report.final_score is not None and report.final_score > 0.0
    draft, final = report.predictors
    assert not draft.changed and [c.score for c in draft.candidates if c.score is not None] == [0.0, 0.0]
    assert final.changed and final.final_instruction.endswith("copy it.")
    assert compiled.final.signature.instructions == final.final_instruction
    assert student.final.signature.instructions == DraftThenAnswer().final.signature.instructions
    assert report.evaluations == 4  # baseline + one drafting candidate + two answering candidates
    # The drafting step has no labels (no golden variants): 2 variants x 2 candidates = greedy + sampled batch.
    assert [len(batch) for batch in backend.calls] == [2, 2, 4]


def test_max_evaluations_bounds_the_search(capitals_lm: RuleLM, examples: list[Any]) -> None:
    backend = scripted({"none": " A.", "silver": " Answer carefully.", "golden": " C.", "both": " D."})
    compiled = fipo(backend, max_evaluations=2).compile(
        dspy.Predict("question -> answer"), trainset=examples, valset=examples[:4]
    )
    report = compiled.fipo_report
    assert report.evaluations == 2
    skipped = [c for c in report.predictors[0].candidates if (c.reason or "").startswith("not evaluated")]
    assert len(skipped) == 3


class JudgingBackend(ScriptedBackend):
    """Scripted rewrites; the judge prefers whichever prompt says ``carefully`` (no position bias)."""

    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        replies = super().generate(conversations, params)
        for index, conversation in enumerate(conversations):
            content = conversation[-1]["content"]
            if "### Prompt A" in content:
                a = content.split("### Prompt A")[1].split("### Prompt B")[0]
                replies[index] = ["A" if "carefully" in a else "B"]
        return replies


def test_without_metric_the_judge_decides(examples: list[Any]) -> None:
    backend = JudgingBackend(lambda prompt: prompt + " Answer carefully.")
    with dspy.context(lm=RuleLM(capitals_rule)):
        compiled = FIPO(optimizer=PromptOptimizer(backend, cache=False)).compile(
            dspy.Predict("question -> answer"), trainset=examples
        )
    report = compiled.fipo_report
    assert report.selection == "judge" and report.baseline_score is None and report.judge_calls >= 2
    assert compiled.signature.instructions.endswith("Answer carefully.")
    assert report.predictors[0].candidates[1].judge_wins == 2


def test_without_metric_a_position_biased_judge_keeps_the_original(examples: list[Any]) -> None:
    backend = ScriptedBackend(lambda prompt: prompt + " Answer carefully.", judge_reply="A")
    student = dspy.Predict("question -> answer")
    with dspy.context(lm=RuleLM(capitals_rule)):
        compiled = FIPO(optimizer=PromptOptimizer(backend, cache=False)).compile(student, trainset=examples)
    assert compiled.signature.instructions == student.signature.instructions
    assert {c.judge_wins for c in compiled.fipo_report.predictors[0].candidates[1:] if c.accepted} == {1}


def test_without_metric_or_judge_the_greedy_guarded_rewrite_is_kept(examples: list[Any]) -> None:
    backend = scripted({"both": " Use the examples.", "none": " Plain."})
    with dspy.context(lm=RuleLM(capitals_rule)):
        compiled = FIPO(optimizer=PromptOptimizer(backend, cache=False), judge=False).compile(
            dspy.Predict("question -> answer"), trainset=examples
        )
    assert compiled.fipo_report.selection == "greedy"
    assert compiled.signature.instructions.endswith("Use the examples.")  # the richest variant's greedy rewrite


def test_compile_rejects_bad_inputs(examples: list[Any]) -> None:
    teleprompter = fipo(scripted({}))
    with pytest.raises(TypeError, match=r"dspy\.Module"):
        teleprompter.compile("question -> answer", trainset=examples)
    with pytest.raises(ValueError, match="needs examples"):
        teleprompter.compile(dspy.Predict("question -> answer"), trainset=[])
    with pytest.raises(TypeError, match="unexpected arguments"):
        teleprompter.compile(dspy.Predict("question -> answer"), trainset=examples, requires_permission=True)


def test_report_serialises(capitals_lm: RuleLM, examples: list[Any]) -> None:
    compiled = fipo(scripted({"both": " Answer carefully."})).compile(
        dspy.Predict("question -> answer"), trainset=examples, valset=examples[:4]
    )
    data = json.loads(json.dumps(compiled.fipo_report.to_dict()))
    assert data["changed"] is True and data["predictors"][0]["changed"] is True
    assert "score" in compiled.fipo_report.summary()


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_real_embedded_models_end_to_end(
    embedded_model_dir: Path, default_optimizer_base: Path, tmp_path: Path
) -> None:
    """SmolLM2 as the task model (LocalLM), the default FIPO optimizer: compiles offline, never gets worse."""
    from fipo_integrations import LocalLM
    from fipo_integrations.dspy.adapter import PlainTextAdapter

    def contains_answer(example: Any, prediction: Any, trace: Any = None) -> bool:
        return bool(example.answer.lower() in str(prediction.answer).lower())

    examples = load_examples()
    student = dspy.Predict(dspy.Signature("question -> answer", instructions="Answer the question."))
    lm = LocalLM(embedded_model_dir, max_tokens=24, cache=False)
    teleprompter = FIPO(
        metric=contains_answer,
        optimizer=PromptOptimizer(max_new_tokens=80, cache=False),
        num_candidates=2,
        num_silver_examples=1,
        num_threads=1,
        display_progress=False,
    )
    with dspy.context(lm=lm, adapter=PlainTextAdapter()):
        compiled = teleprompter.compile(student, trainset=examples[:3], valset=examples[3:7])
    report = compiled.fipo_report
    assert student.signature.instructions == "Answer the question."
    assert report.baseline_score is not None and report.final_score is not None
    assert report.final_score >= report.baseline_score
    assert report.optimizer_generations >= 2 and len(report.predictors[0].candidates) >= 3
    assert report.predictors[0].silver_response and report.predictors[0].golden_response
    selected = [c for c in report.predictors[0].candidates if c.selected]
    assert len(selected) == 1 and selected[0].accepted
    assert compiled.signature.instructions == selected[0].instruction
    compiled.save(str(tmp_path / "compiled.json"))
