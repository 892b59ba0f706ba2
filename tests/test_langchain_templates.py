"""FIPOOptimizer.optimize_template: rewrites instruction text, keeps every variable, partial and placeholder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.messages import SystemMessage
from langchain_core.prompts import (
    ChatPromptTemplate,
    HumanMessagePromptTemplate,
    MessagesPlaceholder,
    PromptTemplate,
)

from fipo_integrations import GuardConfig, PromptOptimizer
from fipo_integrations.langchain import FIPOOptimizer
from fipo_integrations.testing import ScriptedBackend, naive_prompt_of

FIXTURES = Path(__file__).parent / "fixtures" / "langchain"
SPECS: list[dict[str, Any]] = json.loads((FIXTURES / "templates.json").read_text())
SUFFIX = " Be precise and follow the requested format."


def build_template(spec: dict[str, Any]) -> PromptTemplate | ChatPromptTemplate:
    partials = spec.get("partials", {})
    if spec["type"] == "prompt":
        return PromptTemplate.from_template(
            spec["template"], template_format=spec["format"], partial_variables=partials
        )
    messages: list[Any] = []
    for entry in spec["messages"]:
        if entry[0] == "placeholder":
            messages.append(MessagesPlaceholder(entry[1], optional=entry[2]))
        elif entry[0] == "system_message":
            messages.append(SystemMessage(content=entry[1]))
        else:
            messages.append((entry[0], entry[1]))
    template = ChatPromptTemplate.from_messages(messages, template_format=spec["format"])
    return template.partial(**partials) if partials else template


def appending_fipo(**fields: Any) -> tuple[FIPOOptimizer, ScriptedBackend]:
    backend = ScriptedBackend(lambda prompt: prompt + SUFFIX)
    return FIPOOptimizer(optimizer=PromptOptimizer(backend, cache=False), **fields), backend


def instruction_texts(template: PromptTemplate | ChatPromptTemplate) -> list[str]:
    if isinstance(template, PromptTemplate):
        return [template.template]
    texts = []
    for message in template.messages:
        if isinstance(message, SystemMessage):
            texts.append(str(message.content))
        prompt = getattr(message, "prompt", None)
        for part in prompt if isinstance(prompt, list) else [prompt]:
            if isinstance(part, PromptTemplate):
                texts.append(part.template)
    return texts


def rendered_text(template: PromptTemplate | ChatPromptTemplate, inputs: dict[str, Any]) -> str:
    """Everything the rendered prompt contains, image URLs included."""
    return json.dumps([message.content for message in template.invoke(inputs).to_messages()])


def test_fixture_has_at_least_twenty_varied_templates() -> None:
    assert len(SPECS) >= 20
    assert {spec["format"] for spec in SPECS} == {"f-string", "jinja2", "mustache"}
    assert any(spec.get("partials") for spec in SPECS)
    assert any("placeholder" in [m[0] for m in spec.get("messages", [])] for spec in SPECS)


@pytest.mark.parametrize("roles", ["human", "all"])
@pytest.mark.parametrize("spec", SPECS, ids=[spec["name"] for spec in SPECS])
def test_optimize_template_preserves_variables(spec: dict[str, Any], roles: str) -> None:
    template = build_template(spec)
    snapshot = template.model_dump()
    fipo, backend = appending_fipo(roles=roles)

    optimized = fipo.optimize_template(template)

    assert type(optimized) is type(template)
    assert template.model_dump() == snapshot, "the original template was mutated"
    assert optimized.input_variables == template.input_variables
    assert optimized.partial_variables == template.partial_variables
    assert optimized.optional_variables == template.optional_variables
    if isinstance(template, ChatPromptTemplate):
        assert isinstance(optimized, ChatPromptTemplate)
        assert len(optimized.messages) == len(template.messages)
        for old, new in zip(template.messages, optimized.messages, strict=True):
            assert type(old) is type(new)
            if isinstance(old, MessagesPlaceholder):
                assert new == old
    records = optimized.metadata["fipo"]  # type: ignore[index]
    assert records and all(record["accepted"] for record in records)
    assert len(backend.calls) == 1, "all instructions of a template go in one generate call"
    pairs = zip(instruction_texts(template), instruction_texts(optimized), strict=True)
    changed = [new for old, new in pairs if old != new]
    assert changed and all(text.endswith(SUFFIX) for text in changed)
    # Same variables render; every input value still reaches the prompt.
    before, after = rendered_text(template, spec["inputs"]), rendered_text(optimized, spec["inputs"])
    assert after != before and SUFFIX.strip() in after
    for value in spec["inputs"].values():
        if isinstance(value, str):
            assert value in after


def test_roles_select_which_message_templates_change() -> None:
    spec = next(s for s in SPECS if s["name"] == "chat few-shot (only last human targeted)")
    template = build_template(spec)
    assert isinstance(template, ChatPromptTemplate)
    human_only = appending_fipo(roles="human")[0].optimize_template(template)
    system_only = appending_fipo(roles="system")[0].optimize_template(template)
    texts = instruction_texts(template)
    assert len(texts) == 4  # system, human, ai, human
    assert instruction_texts(human_only) == [*texts[:3], texts[3] + SUFFIX]
    assert instruction_texts(system_only) == [texts[0] + SUFFIX, *texts[1:]]


def test_multimodal_message_template_keeps_image_part() -> None:
    spec = next(s for s in SPECS if "multimodal" in s["name"])
    template = build_template(spec)
    assert isinstance(template, ChatPromptTemplate)
    optimized = appending_fipo()[0].optimize_template(template)
    assert isinstance(optimized, ChatPromptTemplate)
    human = optimized.messages[1]
    assert isinstance(human, HumanMessagePromptTemplate)
    assert isinstance(human.prompt, list) and len(human.prompt) == 2
    assert human.prompt[0].template.endswith(SUFFIX)  # type: ignore[union-attr]
    message = optimized.invoke(spec["inputs"]).to_messages()[1]
    assert isinstance(message.content, list)
    assert message.content[1]["image_url"]["url"] == spec["inputs"]["image_url"]  # type: ignore[index]


def test_rejected_rewrite_keeps_original_text() -> None:
    backend = ScriptedBackend(lambda prompt: "Answer the question carefully.")  # drops {question}
    fipo = FIPOOptimizer(optimizer=PromptOptimizer(backend, cache=False))
    template = PromptTemplate.from_template("Answer the question: {question}")
    optimized = fipo.optimize_template(template)
    assert optimized.template == template.template
    record = optimized.metadata["fipo"][0]  # type: ignore[index]
    assert record["accepted"] is False and "lost_placeholder: {question}" in record["reason"]


def test_lost_variable_raises_even_when_the_guard_is_disabled() -> None:
    backend = ScriptedBackend(lambda prompt: "Answer the question carefully and explain why.")
    optimizer = PromptOptimizer(backend, cache=False, guard=GuardConfig(check_placeholders=False))
    fipo = FIPOOptimizer(optimizer=optimizer)
    with pytest.raises(ValueError, match=r"lost \['question'\]"):
        fipo.optimize_template(PromptTemplate.from_template("Answer the question: {question}"))


def test_malformed_rewrite_keeps_original_text() -> None:
    backend = ScriptedBackend(lambda prompt: prompt + " Use the { character sparingly.")
    fipo = FIPOOptimizer(optimizer=PromptOptimizer(backend, cache=False))
    template = PromptTemplate.from_template("Summarise {text} in one line.")
    optimized = fipo.optimize_template(template)
    assert optimized.template == template.template
    assert "not a valid f-string template" in optimized.metadata["fipo"][0]["reason"]  # type: ignore[index]


def test_placeholder_only_messages_are_not_sent() -> None:
    fipo, backend = appending_fipo(roles="all")
    template = ChatPromptTemplate.from_messages([("system", "Reply in French."), ("human", "{question}")])
    optimized = fipo.optimize_template(template)
    assert [naive_prompt_of(c) for c in backend.calls[0]] == ["Reply in French."]
    assert instruction_texts(optimized) == ["Reply in French." + SUFFIX, "{question}"]


def test_examples_become_the_golden_response() -> None:
    seen: list[str] = []

    def script(prompt: str, conversation: list[dict[str, str]], index: int) -> str:
        seen.append(conversation[-1]["content"])
        return prompt + " End with: The answer is N."

    fipo = FIPOOptimizer(optimizer=PromptOptimizer(ScriptedBackend(script, full=True), cache=False))
    template = PromptTemplate.from_template("Solve: {problem}")
    examples = [
        {"inputs": {"problem": "1 + 1"}, "output": "1 + 1 = 2. The answer is 2."},
        {"inputs": {"problem": "2 + 3"}, "output": "2 + 3 = 5. The answer is 5."},
    ]
    optimized = fipo.optimize_template(template, examples=examples, max_words=30)
    assert optimized.template == "Solve: {problem} End with: The answer is N."
    assert "### Golden Response" in seen[0]
    assert "The answer is 2." in seen[0] and "The answer is 5." in seen[0]
    assert "at most 30 words" in seen[0]
    assert optimized.metadata["fipo"][0]["variant"] == "golden"  # type: ignore[index]


def test_single_example_output_is_the_golden_response_verbatim() -> None:
    seen: list[str] = []

    def script(prompt: str, conversation: list[dict[str, str]], index: int) -> str:
        seen.append(conversation[-1]["content"])
        return prompt + " Be brief."

    backend = ScriptedBackend(script, full=True)
    fipo = FIPOOptimizer(optimizer=PromptOptimizer(backend, cache=False))
    fipo.optimize_template(
        PromptTemplate.from_template("Name a colour like {thing}."),
        examples=[{"inputs": {"thing": "grass"}, "output": "Green."}],
    )
    assert "### Golden Response (the response we want)\nGreen." in seen[0]


@pytest.mark.parametrize(
    ("examples", "message"),
    [
        ([{"inputs": {}, "output": "x"}], "missing \\['problem'\\]"),
        ([{"inputs": {"problem": "1"}}], "must be a dict"),
        ([{"inputs": {"problem": "1"}, "output": "  "}], "non-empty str"),
        ({"inputs": {"problem": "1"}, "output": "2"}, "list of"),
    ],
)
def test_bad_examples_are_explained(examples: Any, message: str) -> None:
    fipo = appending_fipo()[0]
    with pytest.raises((ValueError, TypeError), match=message):
        fipo.optimize_template(PromptTemplate.from_template("Solve: {problem}"), examples=examples)


def test_optimizer_error_returns_an_unchanged_copy(caplog: pytest.LogCaptureFixture) -> None:
    def broken(prompt: str) -> str:
        raise RuntimeError("backend down")

    fipo = FIPOOptimizer(optimizer=PromptOptimizer(ScriptedBackend(broken), cache=False))
    template = PromptTemplate.from_template("Summarise {text}.")
    with caplog.at_level("WARNING", logger="fipo_integrations.langchain"):
        optimized = fipo.optimize_template(template)
    assert optimized is not template and optimized.template == template.template
    assert "backend down" in optimized.metadata["fipo"][0]["reason"]  # type: ignore[index]
    assert "backend down" in caplog.text
    raising = FIPOOptimizer(optimizer=PromptOptimizer(ScriptedBackend(broken), cache=False), on_error="raise")
    with pytest.raises(RuntimeError, match="backend down"):
        raising.optimize_template(template)


def test_unsupported_template_type_is_explained() -> None:
    from langchain_core.prompts import FewShotPromptTemplate

    few_shot = FewShotPromptTemplate(
        examples=[{"q": "1"}],
        example_prompt=PromptTemplate.from_template("{q}"),
        suffix="Q: {x}",
        input_variables=["x"],
    )
    with pytest.raises(TypeError, match="PromptTemplate or ChatPromptTemplate"):
        appending_fipo()[0].optimize_template(few_shot)  # type: ignore[type-var]


async def test_aoptimize_template_matches_sync() -> None:
    spec = next(s for s in SPECS if s["name"] == "chat system + human")
    template = build_template(spec)
    fipo = appending_fipo(roles="all")[0]
    sync_result = fipo.optimize_template(template)
    async_result = await fipo.aoptimize_template(template)
    assert instruction_texts(async_result) == instruction_texts(sync_result)


def test_repeated_template_optimization_is_served_from_the_cache() -> None:
    backend = ScriptedBackend(lambda prompt: prompt + SUFFIX)
    fipo = FIPOOptimizer(optimizer=PromptOptimizer(backend))  # default on-disk cache (per-test file)
    template = PromptTemplate.from_template("Describe {thing} in one paragraph.")
    first = fipo.optimize_template(template)
    second = fipo.optimize_template(template)
    assert first.template == second.template
    assert len(backend.calls) == 1
    assert second.metadata["fipo"][0]["cached"] is True  # type: ignore[index]
