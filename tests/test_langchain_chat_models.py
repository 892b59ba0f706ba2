"""LocalChatModel (a FIPO backend as a LangChain chat model) and ChatModelBackend (the reverse)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tracers.context import collect_runs

from fipo_integrations import GenerationParams, PromptOptimizer
from fipo_integrations.langchain import ChatModelBackend, FIPOOptimizer, LocalChatModel
from fipo_integrations.testing import ScriptedBackend


def echo_backend() -> ScriptedBackend:
    """Replies with the roles and text it was given, so tests can see the conversation."""
    return ScriptedBackend(
        lambda prompt, conversation, index: " | ".join(f"{m['role']}: {m['content']}" for m in conversation),
        full=True,
    )


def test_invoke_converts_messages_to_roles() -> None:
    chat = LocalChatModel(backend=echo_backend())
    reply = chat.invoke([SystemMessage(content="Be brief."), HumanMessage(content="Hi"), AIMessage(content="Hello")])
    assert isinstance(reply, AIMessage)
    assert reply.content == "system: Be brief. | user: Hi | assistant: Hello"


def test_batch_is_one_generate_call_with_one_traced_run_per_prompt() -> None:
    backend = echo_backend()
    chat = LocalChatModel(backend=backend)
    with collect_runs() as collector:
        replies = chat.batch(["first question", "second question", "third question"])
    assert [r.content for r in replies] == ["user: first question", "user: second question", "user: third question"]
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 3
    assert [run.run_type for run in collector.traced_runs] == ["llm", "llm", "llm"]
    assert chat._prefetched == {}


async def test_abatch_is_one_generate_call() -> None:
    backend = echo_backend()
    chat = LocalChatModel(backend=backend)
    replies = await chat.abatch(["a?", "b?"])
    assert [r.content for r in replies] == ["user: a?", "user: b?"]
    assert len(backend.calls) == 1


async def test_ainvoke() -> None:
    chat = LocalChatModel(backend=echo_backend())
    assert (await chat.ainvoke("ping")).content == "user: ping"


def test_stop_sequences_cut_the_reply() -> None:
    chat = LocalChatModel(backend=ScriptedBackend(lambda p, c, i: "Answer: 4\nQuestion: next", full=True))
    assert chat.invoke("2+2?", stop=["\nQuestion:"]).content == "Answer: 4"


def test_params_reach_the_backend() -> None:
    seen: list[GenerationParams] = []

    class Recording(ScriptedBackend):
        def generate(self, conversations: Any, params: GenerationParams) -> list[list[str]]:
            seen.append(params)
            return super().generate(conversations, params)

    chat = LocalChatModel(backend=Recording(lambda p: "ok"), max_new_tokens=17)
    chat.invoke("hi")
    assert seen[0].max_new_tokens == 17 and seen[0].greedy


def test_batch_errors_are_per_prompt_with_return_exceptions() -> None:
    def script(prompt: str, conversation: list[dict[str, str]], index: int) -> str:
        if "bad" in conversation[-1]["content"]:
            raise RuntimeError("cannot answer")
        return "fine"

    chat = LocalChatModel(backend=ScriptedBackend(script, full=True))
    replies = chat.batch(["good", "bad"], return_exceptions=True)
    assert isinstance(replies[0], AIMessage) and replies[0].content == "fine"
    assert isinstance(replies[1], RuntimeError)


def test_local_chat_model_validates_fields() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must be >= 1"):
        LocalChatModel(max_new_tokens=0)
    with pytest.raises(ValidationError, match="temperature"):
        LocalChatModel(temperature=-1)


def test_full_chain_with_local_chat_model_downstream() -> None:
    optimizer = PromptOptimizer(ScriptedBackend(lambda p: p + " Show your work."), cache=False)
    downstream_backend = echo_backend()
    chain = (
        ChatPromptTemplate.from_messages([("human", "What is {a} + {b}?")])
        | FIPOOptimizer(optimizer=optimizer)
        | LocalChatModel(backend=downstream_backend)
    )
    replies = chain.batch([{"a": 1, "b": 2}, {"a": 3, "b": 4}])
    assert [r.content for r in replies] == [
        "user: What is 1 + 2? Show your work.",
        "user: What is 3 + 4? Show your work.",
    ]
    assert len(downstream_backend.calls) == 1


def test_chat_model_backend_candidates_and_type_check() -> None:
    backend = ChatModelBackend(FakeListChatModel(responses=["one", "two", "three", "four"]))
    replies = backend.generate(
        [[{"role": "user", "content": "x"}], [{"role": "user", "content": "y"}]],
        GenerationParams(num_candidates=2, temperature=0.7),
    )
    assert sorted(reply for group in replies for reply in group) == ["four", "one", "three", "two"]
    assert [len(group) for group in replies] == [2, 2]
    with pytest.raises(TypeError, match="BaseChatModel"):
        ChatModelBackend("gpt")  # type: ignore[arg-type]


async def test_chat_model_backend_async() -> None:
    backend = ChatModelBackend(FakeListChatModel(responses=["Rewrite: {q}"]))
    assert await backend.agenerate([[{"role": "user", "content": "x"}]], GenerationParams()) == [["Rewrite: {q}"]]
    assert await backend.agenerate([], GenerationParams()) == []


@pytest.mark.slow
def test_real_embedded_optimizer_and_chat_model_in_a_chain(
    embedded_model_dir: Any, default_optimizer_base: Any, one_torch_thread: Any
) -> None:
    """The default optimizer (embedded Qwen2.5-Coder-0.5B + bundled adapter) and SmolLM2 downstream, 2 prompts."""
    optimizer = PromptOptimizer(max_new_tokens=40, cache=False)
    fipo = FIPOOptimizer(optimizer=optimizer)
    chat = LocalChatModel(max_new_tokens=16)  # plain embedded SmolLM2-135M-Instruct
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a careful math tutor."), ("human", "Solve: {problem} Give the final number.")]
    )
    problems = [{"problem": "Tom has 3 apples and buys 4 more. How many?"}, {"problem": "What is 12 minus 5?"}]
    with collect_runs() as collector:
        replies = (prompt | fipo | chat).batch(problems)
    assert all(isinstance(reply, AIMessage) and str(reply.content).strip() for reply in replies)
    fipo_runs = [c for run in collector.traced_runs for c in run.child_runs if c.name == "FIPOOptimizer"]
    assert len(fipo_runs) == 2
    for run, problem in zip(fipo_runs, problems, strict=True):
        rewrite = run.outputs["fipo"]["rewrites"][0]  # type: ignore[index]
        assert rewrite["original"] == f"Solve: {problem['problem']} Give the final number."
        assert isinstance(rewrite["accepted"], bool) and run.outputs["fipo"]["error"] is None  # type: ignore[index]
        if rewrite["accepted"]:
            for number in ("3", "4") if "apples" in problem["problem"] else ("12", "5"):
                assert number in rewrite["optimized"]
    template = fipo.optimize_template(prompt, max_words=40)
    assert template.input_variables == ["problem"]
    assert "{problem}" in template.messages[1].prompt.template  # type: ignore[union-attr]


def _runs_by_name(collector: Any) -> dict[str, Any]:
    return {run.name: run for run in collector.traced_runs}


def test_chat_model_optimizer_calls_nest_under_the_fipo_run() -> None:
    optimizer_llm = FakeListChatModel(responses=["Summarise {text} in two sentences."])
    fipo = FIPOOptimizer(model=optimizer_llm, optimizer_kwargs={"cache": False})
    with collect_runs() as collector:
        fipo.invoke("Summarise {text}.")
    (root,) = collector.traced_runs
    assert root.name == "FIPOOptimizer"
    assert [(child.name, child.run_type) for child in root.child_runs] == [("FIPORewriter", "llm")]


async def test_chat_model_optimizer_calls_nest_under_the_fipo_run_async() -> None:
    optimizer_llm = FakeListChatModel(responses=["Summarise {text} in two sentences."])
    fipo = FIPOOptimizer(model=optimizer_llm, optimizer_kwargs={"cache": False})
    with collect_runs() as collector:
        await fipo.ainvoke("Summarise {text}.")
    (root,) = collector.traced_runs
    assert [child.name for child in root.child_runs] == ["FIPORewriter"]


def test_batched_inputs_share_one_separately_traced_optimizer_call() -> None:
    optimizer_llm = FakeListChatModel(responses=["Summarise {text} in two sentences.", "Translate {text}, please."])
    fipo = FIPOOptimizer(model=optimizer_llm, optimizer_kwargs={"cache": False})
    with collect_runs() as collector:
        fipo.batch(["Summarise {text}.", "Translate {text}."])
    names = sorted(run.name for run in collector.traced_runs)
    assert names == ["FIPOOptimizer", "FIPOOptimizer", "FIPORewriter", "FIPORewriter"]
    assert all(not run.child_runs for run in collector.traced_runs if run.name == "FIPOOptimizer")
