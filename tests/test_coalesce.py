"""RequestCoalescer: concurrent single requests share batched generate calls; each caller gets its own reply."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from fipo_integrations.backends import GenerationParams
from fipo_integrations.backends.coalesce import RequestCoalescer
from fipo_integrations.testing import ScriptedBackend


class SlowEcho(ScriptedBackend):
    """Replies with the user message; each generate call takes ``delay`` seconds and records its batch size."""

    def __init__(self, delay: float = 0.05, fail_on: str | None = None) -> None:
        super().__init__(lambda prompt, conversation, index: conversation[-1]["content"].upper(), full=True)
        self.delay = delay
        self.fail_on = fail_on
        self.batch_sizes: list[int] = []
        self.params_seen: list[GenerationParams] = []

    def generate(self, conversations, params):  # type: ignore[no-untyped-def]
        self.batch_sizes.append(len(conversations))
        self.params_seen.append(params)
        time.sleep(self.delay)
        if self.fail_on and any(c[-1]["content"] == self.fail_on for c in conversations):
            raise RuntimeError("model failed")
        return super().generate(conversations, params)


def _ask(coalescer: RequestCoalescer, text: str, params: GenerationParams | None = None) -> str:
    return coalescer.generate_one([{"role": "user", "content": text}], params or GenerationParams(max_new_tokens=8))


def test_concurrent_requests_are_batched_and_each_caller_gets_its_reply() -> None:
    backend = SlowEcho()
    coalescer = RequestCoalescer(backend, max_batch=8, wait_seconds=0.05)
    texts = [f"q{i}" for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda t: _ask(coalescer, t), texts))
    assert replies == [t.upper() for t in texts]
    assert sum(backend.batch_sizes) == 16
    assert max(backend.batch_sizes) > 1  # requests rode together
    assert max(backend.batch_sizes) <= 8
    assert coalescer.batches == len(backend.batch_sizes) < 16


def test_a_single_caller_is_sent_alone() -> None:
    backend = SlowEcho(delay=0)
    coalescer = RequestCoalescer(backend, wait_seconds=0)
    assert _ask(coalescer, "hello") == "HELLO"
    assert backend.batch_sizes == [1]


def test_different_parameters_never_share_a_batch() -> None:
    backend = SlowEcho()
    coalescer = RequestCoalescer(backend, max_batch=8, wait_seconds=0.05)
    short, long = GenerationParams(max_new_tokens=4), GenerationParams(max_new_tokens=64)
    jobs = [(f"s{i}", short) for i in range(4)] + [(f"l{i}", long) for i in range(4)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda job: _ask(coalescer, *job), jobs))
    assert replies == [text.upper() for text, _ in jobs]
    assert sum(backend.batch_sizes) == 8
    assert len(backend.batch_sizes) >= 2
    assert all(p in (short, long) for p in backend.params_seen)


def test_a_backend_error_reaches_every_caller_of_that_batch_and_later_requests_still_run() -> None:
    backend = SlowEcho(fail_on="bad")
    coalescer = RequestCoalescer(backend, max_batch=4, wait_seconds=0.1)
    barrier = threading.Barrier(2)

    def ask(text: str) -> str:
        barrier.wait()
        try:
            return _ask(coalescer, text)
        except RuntimeError as error:
            return f"error: {error}"

    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(ask, ["bad", "good"]))
    assert replies[0] == "error: model failed"
    assert replies[1] in ("GOOD", "error: model failed")  # it failed only if it shared the failing batch
    assert _ask(coalescer, "after") == "AFTER"


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        RequestCoalescer(SlowEcho(), max_batch=0)
    with pytest.raises(ValueError, match="wait_seconds"):
        RequestCoalescer(SlowEcho(), wait_seconds=-1)
    with pytest.raises(ValueError, match="num_candidates"):
        RequestCoalescer(SlowEcho()).generate_one(
            [{"role": "user", "content": "x"}], GenerationParams(temperature=1.0, num_candidates=2)
        )


def test_dspy_evaluate_threads_share_batches_through_local_lm() -> None:
    dspy = pytest.importorskip("dspy")
    from fipo_integrations import LocalLM
    from fipo_integrations.dspy.adapter import PlainTextAdapter

    backend = SlowEcho(delay=0.05)
    lm = LocalLM(backend, cache=False, batch_size=8)
    examples = [dspy.Example(question=f"q{i}", answer=f"Q{i}").with_inputs("question") for i in range(16)]
    program = dspy.Predict("question -> answer")
    with dspy.context(lm=lm, adapter=PlainTextAdapter()):
        result = dspy.Evaluate(devset=examples, metric=lambda e, p, t=None: e.answer in p.answer, num_threads=8)(
            program
        )
    assert result.score == 100.0
    assert lm.calls == 16
    assert max(backend.batch_sizes) > 1
