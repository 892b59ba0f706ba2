"""Gather concurrent one-conversation requests into batched backend calls.

Frameworks such as DSPy evaluate a program in several threads, each sending one request at a time. A local
backend runs one ``generate`` at a time (its weights are shared), so those threads would queue and the model
would decode at batch 1. :class:`RequestCoalescer` lets the waiting requests ride together: the first caller
waits a few milliseconds for others to arrive, then sends every pending request with the same generation
parameters (up to ``max_batch``) as one batched ``generate`` call, and each caller gets its own reply. On a
CPU a batch of 8 short replies costs little more than one, so an evaluation with ``num_threads=8`` runs several
times faster than with one thread.

Batched greedy decoding pads prompts on the left; a reply can differ in rare ties from the batch-1 reply.

>>> from fipo_integrations.backends import GenerationParams
>>> from fipo_integrations.testing import ScriptedBackend
>>> coalescer = RequestCoalescer(ScriptedBackend(lambda prompt, conversation, index: "ok", full=True))
>>> coalescer.generate_one([{"role": "user", "content": "Hi"}], GenerationParams(max_new_tokens=4))
'ok'
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..templates import ChatMessage
from .base import Backend, GenerationParams

__all__ = ["RequestCoalescer"]


@dataclass(eq=False)
class _Pending:
    conversation: Sequence[ChatMessage]
    params: GenerationParams
    done: threading.Event = field(default_factory=threading.Event)
    reply: str | None = None
    error: BaseException | None = None


class RequestCoalescer:
    """Runs concurrent single requests to one backend as batches.

    Args:
        backend: the backend that generates.
        max_batch: the most conversations sent in one ``generate`` call.
        wait_seconds: how long the caller that opens a batch waits for others to join it.

    Thread-safe. A caller never waits for a batch that does not hold its request longer than that batch takes:
    the thread that sends a batch sends one and then lets its own request (if still pending) be picked up by
    the next batch, whoever sends it. An exception from the backend reaches every caller in that batch.
    """

    def __init__(self, backend: Backend, *, max_batch: int = 8, wait_seconds: float = 0.02) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if wait_seconds < 0:
            raise ValueError(f"wait_seconds must be >= 0, got {wait_seconds}")
        self.backend = backend
        self.max_batch = max_batch
        self.wait_seconds = wait_seconds
        self.batches = 0
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._sending = False

    def generate_one(self, conversation: Sequence[ChatMessage], params: GenerationParams) -> str:
        """The first reply to ``conversation`` (``params.num_candidates`` must be 1)."""
        if params.num_candidates != 1:
            raise ValueError(f"generate_one sends one reply per request, got num_candidates={params.num_candidates}")
        item = _Pending(conversation, params)
        with self._lock:
            self._pending.append(item)
        while not item.done.is_set():
            with self._lock:
                lead = not self._sending and not item.done.is_set()
                if lead:
                    self._sending = True
            if lead:
                try:
                    self._send_one_batch()
                finally:
                    with self._lock:
                        self._sending = False
            else:
                item.done.wait(self.wait_seconds or 0.001)
        if item.error is not None:
            raise item.error
        assert item.reply is not None
        return item.reply

    def _send_one_batch(self) -> None:
        with self._lock:
            crowded = len(self._pending) >= self.max_batch
        if not crowded and self.wait_seconds:
            threading.Event().wait(self.wait_seconds)  # let concurrent callers join
        with self._lock:
            if not self._pending:
                return
            params = self._pending[0].params  # the oldest request decides; same-parameter ones join it
            batch = [p for p in self._pending if p.params == params][: self.max_batch]
            for item in batch:
                self._pending.remove(item)
        try:
            replies = self.backend.generate([item.conversation for item in batch], params)
            for item, reply in zip(batch, replies, strict=True):
                item.reply = reply[0] if reply else ""
        except BaseException as error:  # every caller of the batch gets it, none waits forever
            for item in batch:
                item.error = error
        finally:
            self.batches += 1
            for item in batch:
                item.done.set()
