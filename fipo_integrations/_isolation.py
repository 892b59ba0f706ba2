"""Batch reliability for the engine: one bad item never sinks a batch, identical requests generate once.

* :func:`generate_shared` generates the replies of a batch's cache misses. A key that another thread is
  generating right now (same prompt, same model, same decoding) is waited for and shared, not generated again
  (single-flight, :class:`~fipo_integrations.cache.SingleFlight`).
* :func:`generate_isolated` makes one batched ``generate`` call; if it fails, each item is tried alone, so the
  failure stays with the item that caused it. When every item fails the backend itself is broken, and the
  first error is raised once.

>>> from fipo_integrations.backends import GenerationParams
>>> from fipo_integrations.testing import ScriptedBackend
>>> def script(prompt: str) -> str:
...     if "bad" in prompt:
...         raise RuntimeError("cannot tokenize")
...     return "ok"
>>> def conversation(text: str) -> list:
...     return [{"role": "user", "content": f"### Silver Prompt\\n{text}\\n\\n### "}]
>>> replies, failures = generate_isolated(
...     ScriptedBackend(script), {"a": conversation("good"), "b": conversation("bad")}, GenerationParams()
... )
>>> replies, failures
({'a': ['ok']}, {'b': 'RuntimeError: cannot tokenize'})
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .backends import Backend, GenerationParams
from .cache import RewriteCache, SingleFlight
from .templates import ChatMessage

__all__ = ["InvalidItem", "generate_isolated", "generate_shared"]

logger = logging.getLogger("fipo_integrations.engine")


@dataclass(frozen=True)
class InvalidItem:
    """A batch item whose text cannot be optimized; it comes back unchanged with the reason."""

    text: str
    max_words: int | None
    message: str


def generate_isolated(
    backend: Backend, conversations: dict[str, list[ChatMessage]], params: GenerationParams
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(replies per key, error message per key the backend failed on); raises if every item fails."""
    keys = list(conversations)
    try:
        outputs = backend.generate([conversations[key] for key in keys], params)
        return dict(zip(keys, outputs, strict=True)), {}
    except Exception as exc:
        if len(keys) == 1:
            raise
        first_error = exc
    logger.warning(
        "Batched generation of %d prompts failed (%s: %s); retrying them one by one",
        len(keys),
        type(first_error).__name__,
        first_error,
    )
    replies: dict[str, list[str]] = {}
    failures: dict[str, str] = {}
    for key in keys:
        try:
            replies[key] = backend.generate([conversations[key]], params)[0]
        except Exception as exc:
            failures[key] = f"{type(exc).__name__}: {exc}"
    if not replies:
        raise first_error
    return replies, failures


def generate_shared(
    backend: Backend,
    cache: RewriteCache | None,
    flights: SingleFlight,
    conversations: dict[str, list[ChatMessage]],
    params: GenerationParams,
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Replies per cache key, generating each key once across concurrent callers; new replies are cached."""
    owned, waiting = flights.claim(conversations)
    replies: dict[str, list[str]] = {}
    failures: dict[str, str] = {}
    try:
        todo = {}
        for key in owned:  # a flight may have finished between the caller's cache read and the claim
            cached = cache.get(key) if cache is not None else None
            if cached is not None and len(cached) == params.num_candidates:
                replies[key] = cached
            else:
                todo[key] = conversations[key]
        if todo:
            generated, failures = generate_isolated(backend, todo, params)
            if cache is not None:
                for key, output in generated.items():
                    cache.put(key, output)
            replies.update(generated)
    finally:
        for key in owned:
            flights.publish(key, replies.get(key))
    for key, flight in waiting.items():
        shared = flights.wait(flight)
        if shared is None:  # the owner failed on it: try it here
            generated, failed = generate_isolated(backend, {key: conversations[key]}, params)
            replies.update(generated)
            failures.update(failed)
        else:
            replies[key] = shared
    return replies, failures
