"""LocalLM (a dspy.LM on a fipo backend through DSPy 3.4's engine protocol) and the plain-text adapter."""

from __future__ import annotations

import copy
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

dspy = pytest.importorskip("dspy")

from fipo_integrations import LocalLM  # noqa: E402
from fipo_integrations.dspy.adapter import PlainTextAdapter  # noqa: E402
from fipo_integrations.dspy.lm import BackendEngine, request_to_conversation  # noqa: E402
from fipo_integrations.templates import ChatMessage  # noqa: E402
from fipo_integrations.testing import ScriptedBackend  # noqa: E402


@pytest.fixture(autouse=True)
def memory_only_dspy_cache() -> Iterator[None]:
    """DSPy's response cache in memory only, so tests neither read nor write ~/.dspy_cache."""
    previous = dspy.cache
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)
    try:
        yield
    finally:
        dspy.cache = previous


def echo_backend(reply: str | None = None) -> ScriptedBackend:
    """Replies ``reply``, or echoes the roles and the last message when ``reply`` is None."""

    def script(prompt: str, conversation: Sequence[ChatMessage], index: int) -> str:
        if reply is not None:
            return reply
        roles = ",".join(m["role"] for m in conversation)
        return f"{roles}|{conversation[-1]['content']}"

    return ScriptedBackend(script, full=True)


def test_tiny_model_generates_and_dspy_cache_skips_the_model(tiny_chat_model_dir: Path) -> None:
    lm = LocalLM(tiny_chat_model_dir, max_tokens=8)
    assert lm.model.startswith(f"local/{tiny_chat_model_dir}@")  # keyed on a content hash of the weights
    prompt = f"Say something {uuid.uuid4().hex[:6]}"
    first = lm(prompt)
    assert isinstance(first, list) and len(first) == 1 and isinstance(first[0], str)
    assert lm.calls == 1
    assert lm(prompt) == first
    assert lm.calls == 1  # the second identical call was served by DSPy's cache
    lm(prompt + "!")
    assert lm.calls == 2
    usage = lm.history[-1]["usage"]
    assert usage.get("prompt_tokens", usage.get("input_tokens", 0)) > 0


def test_cache_false_always_reaches_the_model(tiny_chat_model_dir: Path) -> None:
    lm = LocalLM(tiny_chat_model_dir, max_tokens=4, cache=False)
    lm("hello")
    lm("hello")
    assert lm.calls == 2


def test_uses_the_engine_protocol_without_deprecation_warnings() -> None:
    lm = LocalLM(echo_backend("ok"))
    assert not isinstance(lm.engine, str) and callable(lm.engine.complete)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert lm("hi") == ["ok"]


def test_predict_runs_through_the_engine_with_system_and_user_messages() -> None:
    backend = echo_backend()
    lm = LocalLM(backend)
    with dspy.context(lm=lm, adapter=PlainTextAdapter()):
        signature = dspy.Signature("question -> answer", instructions="Answer in one word.")
        prediction = dspy.Predict(signature)(question="Capital of Peru?")
    assert prediction.answer == "system,user|Question: Capital of Peru?"
    (conversation,) = backend.calls[0]
    assert conversation[0] == {"role": "system", "content": "Answer in one word."}


def test_chat_adapter_programs_work_when_the_model_follows_the_format() -> None:
    lm = LocalLM(echo_backend("[[ ## answer ## ]]\nLima\n\n[[ ## completed ## ]]"))
    with dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question="Capital of Peru?").answer == "Lima"


def test_stop_sequences_and_request_to_conversation() -> None:
    lm15 = pytest.importorskip("dspy.lm15")
    engine = BackendEngine(echo_backend("first line\nSTOP second"))
    request = lm15.Request(
        model="local/x",
        messages=(lm15.Message.user("hi"),),
        system="Be brief.",
        config=lm15.Config(stop=("STOP",), max_tokens=16),
    )
    response = engine.complete(request)
    assert response.text == "first line\n" and response.finish_reason == "stop"
    assert request_to_conversation(request) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]


async def test_async_calls() -> None:
    lm = LocalLM(echo_backend("async ok"))
    assert await lm.acall("hi") == ["async ok"]


def test_copies_share_the_loaded_model(tiny_chat_model_dir: Path) -> None:
    lm = LocalLM(tiny_chat_model_dir, max_tokens=4)
    assert copy.deepcopy(lm).engine is lm.engine
    assert lm.copy(temperature=0.5).engine is lm.engine
    program = dspy.Predict("question -> answer")
    program.lm = lm
    assert program.deepcopy().lm.backend is lm.backend


def test_state_round_trip_rebuilds_the_model(tiny_chat_model_dir: Path) -> None:
    lm = LocalLM(tiny_chat_model_dir, max_tokens=7, temperature=0.0)
    state = lm.dump_state()
    assert state["model"] == str(tiny_chat_model_dir) and state["max_tokens"] == 7
    restored = LocalLM.load_state(state)
    assert isinstance(restored, LocalLM) and restored.model == lm.model and restored.kwargs["max_tokens"] == 7
    # Through DSPy's own loader (custom LM classes need the explicit opt-in).
    from dspy.clients.base_lm import BaseLM

    with pytest.raises(ValueError, match="allow_unsafe_lm_state"):
        BaseLM.load_state(state)
    assert BaseLM.load_state(state, allow_custom_lm_class=True).model == lm.model


def test_a_ready_made_backend_cannot_be_saved() -> None:
    with pytest.raises(TypeError, match="cannot be saved"):
        LocalLM(echo_backend("x")).dump_state()


def test_argument_errors() -> None:
    with pytest.raises(TypeError, match="model must be"):
        LocalLM(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tokens"):
        LocalLM(echo_backend("x"), max_tokens=0)
    with pytest.raises(ValueError, match="adapter= and device="):
        LocalLM(echo_backend("x"), device="cpu")
    with pytest.raises(TypeError, match="Backend"):
        BackendEngine("not a backend")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- PlainTextAdapter
def test_plain_text_adapter_parses_single_and_labelled_replies() -> None:
    adapter = PlainTextAdapter()
    assert adapter.parse(dspy.Signature("question -> answer"), " B. offshoring \n") == {"answer": "B. offshoring"}
    multi = dspy.Signature("question -> reasoning, answer")
    assert adapter.parse(multi, "Reasoning: Lima is the capital.\n**Answer:** Lima") == {
        "reasoning": "Lima is the capital.",
        "answer": "Lima",
    }
    assert adapter.parse(multi, "just Lima") == {"reasoning": "", "answer": "just Lima"}
    assert adapter.parse(dspy.Signature("question -> count: int"), "3") == {"count": 3}


def test_plain_text_adapter_formats_instructions_inputs_and_demos() -> None:
    adapter = PlainTextAdapter()
    signature = dspy.Signature("question, context -> answer", instructions="Answer from the context.")
    demos = [{"question": "Q1", "context": "C1", "answer": "A1"}]
    messages: list[dict[str, Any]] = adapter.format(signature, demos, {"question": "Q2", "context": "C2"})
    assert messages[0] == {"role": "system", "content": "Answer from the context."}
    assert messages[1]["content"] == "Question: Q1\n\nContext: C1" and messages[2]["content"] == "A1"
    assert messages[-1] == {"role": "user", "content": "Question: Q2\n\nContext: C2"}
    cot = dspy.Signature("question -> reasoning, answer")
    assert "Reasoning: ...\nAnswer: ..." in adapter.format_system_message(cot)


def test_plain_text_adapter_labels_ignore_long_prefixes() -> None:
    adapter = PlainTextAdapter()
    signature = dspy.Signature("question -> reasoning, answer").with_updated_fields(
        "reasoning", prefix="Reasoning: Let's think step by step in order to"
    )
    assert "Reasoning: ...\nAnswer: ..." in adapter.format_system_message(signature)
    assert adapter.parse(signature, "Reasoning: x\nAnswer: y") == {"reasoning": "x", "answer": "y"}
