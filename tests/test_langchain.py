"""FIPOOptimizer as a LangChain runnable: every input kind, the Runnable protocol, tracing and failures."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import ChatPromptValue, StringPromptValue
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import ConfigurableField, RunnableLambda
from langchain_core.tracers.context import collect_runs
from pydantic import ValidationError

from fipo_integrations import PromptOptimizer
from fipo_integrations.langchain import FIPOOptimizer
from fipo_integrations.testing import ScriptedBackend, naive_prompt_of

SUFFIX = " Answer step by step."


def scripted(script: Any = None, **kwargs: Any) -> tuple[FIPOOptimizer, ScriptedBackend]:
    backend = ScriptedBackend(script or (lambda prompt: prompt + SUFFIX))
    return FIPOOptimizer(optimizer=PromptOptimizer(backend, cache=False), **kwargs), backend


class PromptRecorder(BaseCallbackHandler):
    """Records what chat models receive and what FIPOOptimizer runs report."""

    def __init__(self) -> None:
        self.model_inputs: list[list[BaseMessage]] = []
        self.chain_ends: list[Any] = []
        self.chain_names: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: list[list[BaseMessage]], **kwargs: Any) -> None:
        self.model_inputs.extend(messages)

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.chain_names.append(kwargs.get("name", ""))

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        self.chain_ends.append(outputs)


# ------------------------------------------------------------------------------------------------ inputs
def test_str_input_gives_string_prompt_value() -> None:
    fipo, _ = scripted()
    result = fipo.invoke("Solve 12 * 7.")
    assert isinstance(result, StringPromptValue)
    assert result.text == "Solve 12 * 7." + SUFFIX


def test_string_prompt_value_input() -> None:
    fipo, _ = scripted()
    value = PromptTemplate.from_template("Name the capital of {country}.").invoke({"country": "Peru"})
    assert isinstance(value, StringPromptValue)
    result = fipo.invoke(value)
    assert isinstance(result, StringPromptValue)
    assert result.text == "Name the capital of Peru." + SUFFIX
    assert value.text == "Name the capital of Peru."


def test_chat_prompt_value_rewrites_only_the_last_human_message() -> None:
    fipo, _ = scripted()
    value = ChatPromptValue(
        messages=[
            SystemMessage(content="You are terse."),
            HumanMessage(content="Add 2 and 3."),
            AIMessage(content="5"),
            HumanMessage(content="Now multiply 4 by 6."),
        ]
    )
    result = fipo.invoke(value)
    assert isinstance(result, ChatPromptValue)
    contents = [m.content for m in result.messages]
    assert contents == ["You are terse.", "Add 2 and 3.", "5", "Now multiply 4 by 6." + SUFFIX]
    assert result.messages[0] is value.messages[0], "untouched messages pass through as they are"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ("system", ["Be kind." + SUFFIX, "Explain tides."]),
        ("all", ["Be kind." + SUFFIX, "Explain tides." + SUFFIX]),
        ("human", ["Be kind.", "Explain tides." + SUFFIX]),
    ],
)
def test_roles_setting(roles: str, expected: list[str]) -> None:
    fipo, backend = scripted(roles=roles)
    result = fipo.invoke([SystemMessage(content="Be kind."), HumanMessage(content="Explain tides.")])
    assert [m.content for m in result.to_messages()] == expected
    assert len(backend.calls) == 1


def test_message_list_and_message_like_tuples() -> None:
    fipo, _ = scripted()
    messages = fipo.invoke([HumanMessage(content="List 3 prime numbers.")]).to_messages()
    assert messages[0].content == "List 3 prime numbers." + SUFFIX
    tuples = fipo.invoke([("system", "You are a poet."), ("human", "Write about rain.")]).to_messages()
    assert [type(m) for m in tuples] == [SystemMessage, HumanMessage]
    assert tuples[1].content == "Write about rain." + SUFFIX


def test_chat_message_with_user_role_is_an_instruction() -> None:
    from langchain_core.messages import ChatMessage

    fipo, _ = scripted()
    result = fipo.invoke([ChatMessage(role="user", content="Describe Mars.")])
    assert result.to_messages()[0].content == "Describe Mars." + SUFFIX


def test_multimodal_message_rewrites_only_text_blocks_and_keeps_metadata() -> None:
    fipo, backend = scripted()
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    tool_block = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
    message = HumanMessage(
        content=[
            {"type": "text", "text": "Describe the chart.", "cache_control": {"type": "ephemeral"}},
            image,
            "Mention 2 trends.",
            tool_block,
        ],
        id="msg-1",
        name="analyst",
        additional_kwargs={"trace": "abc"},
        response_metadata={"source": "test"},
    )
    result = fipo.invoke([message]).to_messages()[0]
    assert naive_prompt_of(backend.calls[0][0]) == "Describe the chart.\n\nMention 2 trends."
    assert result.content == [
        {
            "type": "text",
            "text": "Describe the chart.\n\nMention 2 trends." + SUFFIX,
            "cache_control": {"type": "ephemeral"},
        },
        image,
        tool_block,
    ]
    assert (result.id, result.name) == ("msg-1", "analyst")
    assert result.additional_kwargs == {"trace": "abc"}
    assert result.response_metadata == {"source": "test"}


def test_inputs_are_never_mutated() -> None:
    fipo, _ = scripted(roles="all")
    messages = [
        SystemMessage(content=[{"type": "text", "text": "Be exact."}], additional_kwargs={"k": [1]}),
        HumanMessage(content="Convert 5 km to miles.", id="h1"),
    ]
    value = ChatPromptValue(messages=messages)
    snapshot = value.model_dump()
    content_list = messages[0].content
    result = fipo.invoke(value)
    assert value.model_dump() == snapshot
    assert messages[0].content is content_list
    assert result.to_messages()[0].additional_kwargs is not messages[0].additional_kwargs
    fipo.batch([value, messages])
    assert value.model_dump() == snapshot


def test_messages_without_an_instruction_pass_through() -> None:
    fipo, backend = scripted()
    value = ChatPromptValue(messages=[SystemMessage(content="Only a system message.")])
    recorder = PromptRecorder()
    result = fipo.invoke(value, {"callbacks": [recorder]})
    assert result.to_messages() == value.messages
    assert backend.calls == []
    assert recorder.chain_ends[0]["fipo"]["reason"] == "no human instruction text to optimize"


def test_bad_input_type_is_explained() -> None:
    fipo, _ = scripted()
    with pytest.raises(TypeError, match=r"takes a str, a PromptValue or a list of messages, got dict"):
        fipo.invoke({"question": "hi"})  # type: ignore[arg-type]
    results = fipo.batch(["Explain rain.", 42], return_exceptions=True)  # type: ignore[list-item]
    assert isinstance(results[0], StringPromptValue) and isinstance(results[1], TypeError)


# ------------------------------------------------------------------------------------- runnable protocol
def test_chain_feeds_the_optimized_prompt_to_the_model() -> None:
    fipo, _ = scripted()
    llm = GenericFakeChatModel(messages=iter([AIMessage(content="42")]))
    prompt = ChatPromptTemplate.from_messages([("system", "You do maths."), ("human", "What is {a} times {b}?")])
    recorder = PromptRecorder()
    answer = (prompt | fipo | llm).invoke({"a": 6, "b": 7}, {"callbacks": [recorder]})
    assert answer.content == "42"
    assert [m.content for m in recorder.model_inputs[0]] == ["You do maths.", "What is 6 times 7?" + SUFFIX]


def test_batch_is_one_generate_call() -> None:
    fipo, backend = scripted(roles="all")
    inputs: list[Any] = [
        "Summarise the plot of Hamlet.",
        StringPromptValue(text="Explain photosynthesis."),
        [("system", "You are a chef."), ("human", "Suggest a 3-course menu.")],
        ChatPromptValue(messages=[HumanMessage(content="Translate 'cat' into German.")]),
    ]
    results = fipo.batch(inputs)
    assert len(backend.calls) == 1
    assert len(backend.calls[0]) == 5  # every instruction of every input, in one call
    assert results[0].to_string() == "Summarise the plot of Hamlet." + SUFFIX
    assert [m.content for m in results[2].to_messages()] == [
        "You are a chef." + SUFFIX,
        "Suggest a 3-course menu." + SUFFIX,
    ]
    assert fipo.batch([]) == []


async def test_abatch_is_one_generate_call() -> None:
    fipo, backend = scripted()
    results = await fipo.abatch(["Define entropy.", "Define enthalpy.", [("human", "Define energy.")]])
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 3
    assert results[2].to_messages()[0].content == "Define energy." + SUFFIX


async def test_ainvoke_does_not_block_the_event_loop() -> None:
    started = threading.Event()

    def slow(prompt: str) -> str:
        started.set()
        time.sleep(0.4)
        return prompt + SUFFIX

    fipo, _ = scripted(slow)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not started.is_set():
            await asyncio.sleep(0.01)
        for _ in range(10):
            await asyncio.sleep(0.02)
            ticks += 1

    result, _ = await asyncio.gather(fipo.ainvoke("Explain gravity."), ticker())
    assert result.to_string() == "Explain gravity." + SUFFIX
    assert ticks == 10


def test_stream_yields_the_optimized_prompt_once() -> None:
    fipo, _ = scripted()
    chunks = list(fipo.stream("Describe Jupiter."))
    assert len(chunks) == 1 and chunks[0].to_string() == "Describe Jupiter." + SUFFIX


async def test_astream_yields_the_optimized_prompt_once() -> None:
    fipo, _ = scripted()
    chunks = [chunk async for chunk in fipo.astream([("human", "Describe Saturn.")])]
    assert len(chunks) == 1 and chunks[0].to_messages()[0].content == "Describe Saturn." + SUFFIX


def test_streaming_chain_through_the_optimizer() -> None:
    fipo, _ = scripted()
    llm = GenericFakeChatModel(messages=iter([AIMessage(content="Mercury is closest")]))
    chunks = list((fipo | llm).stream("Which planet is closest to the sun?"))
    assert "".join(str(chunk.content) for chunk in chunks) == "Mercury is closest"


def test_tracing_run_carries_original_optimized_and_verdict() -> None:
    fipo, _ = scripted()
    with collect_runs() as collector:
        fipo.invoke([("system", "Be brief."), ("human", "Explain tides.")])
    run = collector.traced_runs[0]
    assert run.name == "FIPOOptimizer" and run.run_type == "chain"
    rewrite = run.outputs["fipo"]["rewrites"][0]  # type: ignore[index]
    assert rewrite["original"] == "Explain tides."
    assert rewrite["optimized"] == "Explain tides." + SUFFIX
    assert rewrite["accepted"] is True and rewrite["reason"] is None
    assert rewrite["role"] == "human" and rewrite["message_index"] == 1
    assert run.outputs["output"].to_messages()[1].content == "Explain tides." + SUFFIX  # type: ignore[index]


def test_tracing_inside_a_chain_and_rejected_verdict() -> None:
    fipo, _ = scripted(lambda prompt: "Answer it.")  # drops the numbers: rejected by the guard
    llm = FakeListChatModel(responses=["5"])
    recorder = PromptRecorder()
    chain = PromptTemplate.from_template("What is {a} plus 3?") | fipo | llm
    chain.invoke({"a": 2}, {"callbacks": [recorder]})
    assert "FIPOOptimizer" in recorder.chain_names
    fipo_end = next(end for end in recorder.chain_ends if isinstance(end, dict) and "fipo" in end)
    rewrite = fipo_end["fipo"]["rewrites"][0]
    assert rewrite["accepted"] is False and "lost_number" in rewrite["reason"]
    assert fipo_end["fipo"]["changed"] is False
    assert recorder.model_inputs[0][0].content == "What is 2 plus 3?"


def test_run_name_and_tags_from_config() -> None:
    fipo, _ = scripted()
    with collect_runs() as collector:
        fipo.with_config(run_name="rewrite-step", tags=["fipo"]).invoke("Explain rain.")
    run = collector.traced_runs[0]
    assert run.name == "rewrite-step" and "fipo" in (run.tags or [])


def test_batch_traces_one_run_per_input() -> None:
    fipo, _ = scripted()
    with collect_runs() as collector:
        fipo.batch(["Explain snow.", "Explain hail."])
    runs = collector.traced_runs
    assert [run.name for run in runs] == ["FIPOOptimizer", "FIPOOptimizer"]
    assert sorted(run.outputs["fipo"]["rewrites"][0]["original"] for run in runs) == [  # type: ignore[index]
        "Explain hail.",
        "Explain snow.",
    ]


def test_configurable_fields_roles_and_max_words() -> None:
    backend = ScriptedBackend(lambda prompt: prompt + SUFFIX)
    fipo = FIPOOptimizer(optimizer=PromptOptimizer(backend, cache=False)).configurable_fields(
        roles=ConfigurableField(id="fipo_roles"),
        max_words=ConfigurableField(id="fipo_max_words"),
    )
    messages = [("system", "Be kind."), ("human", "Explain tides.")]
    default = fipo.invoke(messages).to_messages()
    assert [m.content for m in default] == ["Be kind.", "Explain tides." + SUFFIX]
    configured = fipo.with_config(configurable={"fipo_roles": "system", "fipo_max_words": 12}).invoke(messages)
    assert [m.content for m in configured.to_messages()] == ["Be kind." + SUFFIX, "Explain tides."]
    assert "at most 12 words" in backend.calls[-1][0][0]["content"]


def test_configurable_model_with_a_chat_model_optimizer() -> None:
    fipo = FIPOOptimizer(model=FakeListChatModel(responses=["Explain tides in two sentences."])).configurable_fields(
        model=ConfigurableField(id="fipo_model")
    )
    assert fipo.invoke("Explain tides.").to_string() == "Explain tides in two sentences."
    other = FakeListChatModel(responses=["Explain tides simply, in one sentence."])
    result = fipo.with_config(configurable={"fipo_model": other}).invoke("Explain tides.")
    assert result.to_string() == "Explain tides simply, in one sentence."


def test_chat_model_as_optimizer_batches_through_the_chat_model() -> None:
    optimizer_llm = FakeListChatModel(responses=["Golden Prompt: Summarise {text} in 2 sentences."])
    recorder = PromptRecorder()
    fipo = FIPOOptimizer(model=optimizer_llm, optimizer_kwargs={"cache": False})
    result = fipo.invoke("Summarise {text} in 2 sentences please.", {"callbacks": [recorder]})
    assert result.to_string() == "Summarise {text} in 2 sentences."
    assert fipo.get_optimizer().model_id.startswith("langchain:fake-list-chat-model")


# ------------------------------------------------------------------------------------------ failures
def test_optimizer_error_passes_the_original_through(caplog: pytest.LogCaptureFixture) -> None:
    def broken(prompt: str) -> str:
        raise RuntimeError("model crashed")

    fipo, _ = scripted(broken)
    with caplog.at_level(logging.WARNING, logger="fipo_integrations.langchain"), collect_runs() as collector:
        result = fipo.invoke([("human", "Explain tides.")])
    assert result.to_messages()[0].content == "Explain tides."
    assert "model crashed" in caplog.text
    trace = collector.traced_runs[0].outputs["fipo"]  # type: ignore[index]
    assert trace["error"] == "RuntimeError: model crashed"
    assert trace["rewrites"][0]["reason"] == "RuntimeError: model crashed"
    assert collector.traced_runs[0].error is None


async def test_async_optimizer_error_passes_the_original_through() -> None:
    def broken(prompt: str) -> str:
        raise RuntimeError("model crashed")

    fipo, _ = scripted(broken)
    results = await fipo.abatch(["Explain tides.", "Explain waves."])
    assert [r.to_string() for r in results] == ["Explain tides.", "Explain waves."]


def test_on_error_raise_re_raises() -> None:
    def broken(prompt: str) -> str:
        raise RuntimeError("model crashed")

    fipo, _ = scripted(broken, on_error="raise")
    with collect_runs() as collector, pytest.raises(RuntimeError, match="model crashed"):
        fipo.invoke("Explain tides.")
    assert "model crashed" in (collector.traced_runs[0].error or "")


async def test_on_error_raise_re_raises_async() -> None:
    def broken(prompt: str) -> str:
        raise RuntimeError("model crashed")

    fipo, _ = scripted(broken, on_error="raise")
    with pytest.raises(RuntimeError, match="model crashed"):
        await fipo.ainvoke("Explain tides.")


def test_repeated_instruction_is_served_from_the_cache() -> None:
    backend = ScriptedBackend(lambda prompt: prompt + SUFFIX)
    fipo = FIPOOptimizer(optimizer=PromptOptimizer(backend))  # the (per-test) on-disk cache
    first = fipo.invoke("Explain the water cycle.")
    with collect_runs() as collector:
        second = fipo.invoke("Explain the water cycle.")
    assert first.to_string() == second.to_string()
    assert len(backend.calls) == 1
    assert collector.traced_runs[0].outputs["fipo"]["rewrites"][0]["cached"] is True  # type: ignore[index]


# --------------------------------------------------------------------------------------------- silver
def test_silver_from_runs_once_per_distinct_instruction() -> None:
    conversations: list[str] = []

    def script(prompt: str, conversation: list[dict[str, str]], index: int) -> str:
        conversations.append(conversation[-1]["content"])
        return prompt + SUFFIX

    seen: list[Any] = []

    def answer(value: Any) -> str:
        seen.append(value)
        return "It is 42."

    downstream = RunnableLambda(answer)
    backend = ScriptedBackend(script, full=True)
    fipo = FIPOOptimizer(optimizer=PromptOptimizer(backend, cache=False), silver_from=downstream)
    fipo.invoke("What is 6 times 7?")
    fipo.batch(["What is 6 times 7?", "What is 5 times 5?", "What is 5 times 5?"])
    assert seen == ["What is 6 times 7?", "What is 5 times 5?"]
    assert "### Silver Response (what an assistant answered to the Silver Prompt)\nIt is 42." in conversations[0]


def test_silver_from_a_chat_model_in_a_chain() -> None:
    conversations: list[str] = []

    def script(prompt: str, conversation: list[dict[str, str]], index: int) -> str:
        conversations.append(conversation[-1]["content"])
        return prompt + SUFFIX

    backend = ScriptedBackend(script, full=True)
    llm = FakeListChatModel(responses=["Paris."])
    fipo = FIPOOptimizer(optimizer=PromptOptimizer(backend, cache=False), silver_from=llm)
    prompt = ChatPromptTemplate.from_messages([("human", "What is the capital of {country}?")])
    with collect_runs() as collector:
        (prompt | fipo | llm).invoke({"country": "France"})
    assert "Paris." in conversations[0]
    fipo_run = next(run for run in collector.traced_runs[0].child_runs if run.name == "FIPOOptimizer")
    assert [child.run_type for child in fipo_run.child_runs] == ["llm"], "the silver call nests under the run"
    assert fipo_run.outputs["fipo"]["rewrites"][0]["variant"] == "silver"  # type: ignore[index]


async def test_silver_from_failure_still_optimizes() -> None:
    def failing(value: Any) -> str:
        raise ValueError("downstream offline")

    fipo, _ = scripted(silver_from=RunnableLambda(failing))
    result = await fipo.ainvoke("Explain tides.")
    assert result.to_string() == "Explain tides." + SUFFIX
    strict, _ = scripted(silver_from=RunnableLambda(failing), on_error="raise")
    with pytest.raises(ValueError, match="downstream offline"):
        strict.invoke("Explain tides.")


# ------------------------------------------------------------------------------------------ validation
def test_fields_are_validated() -> None:
    optimizer = PromptOptimizer(ScriptedBackend(lambda p: p), cache=False)
    with pytest.raises(ValidationError, match="extra"):
        FIPOOptimizer(optimizer=optimizer, temprature=0.2)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="either pass an existing PromptOptimizer"):
        FIPOOptimizer(optimizer=optimizer, model="embedded:gemma-3-270m")
    with pytest.raises(ValidationError, match="unknown option"):
        FIPOOptimizer(optimizer_kwargs={"max_tokens": 10})
    with pytest.raises(ValidationError, match="max_words"):
        FIPOOptimizer(optimizer=optimizer, max_words=0)
    with pytest.raises(ValidationError):
        FIPOOptimizer(optimizer=optimizer, roles="assistant")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        FIPOOptimizer(optimizer=optimizer, on_error="ignore")  # type: ignore[arg-type]


def test_model_specs_share_one_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import fipo_integrations.backends.registry as registry
    from fipo_integrations.spec import ModelSpec

    built: list[ModelSpec] = []

    def fake_build(spec: ModelSpec) -> ScriptedBackend:
        built.append(spec)
        return ScriptedBackend(lambda p: p)

    monkeypatch.setattr(registry, "build_backend", fake_build)
    monkeypatch.setattr(registry, "_REGISTRY", registry.BackendRegistry())
    settings: dict[str, Any] = {"base_url": "http://127.0.0.1:9/v1", "model": "fipo", "api_key": "sk-secret"}
    first = FIPOOptimizer(**settings, optimizer_kwargs={"judge": True})
    second = FIPOOptimizer(**settings, optimizer_kwargs={"judge": True})
    assert first.get_optimizer().backend is second.get_optimizer().backend
    assert first.get_optimizer().judge is True
    assert len(built) == 1 and (built[0].model, built[0].base_url) == ("fipo", "http://127.0.0.1:9/v1")
    assert built[0].secret() == "sk-secret" and "sk-secret" not in repr(built[0])
