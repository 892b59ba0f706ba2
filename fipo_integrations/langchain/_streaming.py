"""Token streaming and token counts for :class:`~fipo_integrations.langchain.LocalChatModel`.

A local transformers model streams token by token (``TextIteratorStreamer``, generation in a worker thread
that stops as soon as the consumer stops or a stop sequence appears). Other backends have no streaming
interface: their finished reply is yielded word by word. :func:`cut_stream` applies stop sequences to any
stream of text pieces without ever emitting a piece of a stop sequence.

>>> "".join(cut_stream(iter(["Answer: 4", "\\nQuest", "ion: next"]), ["\\nQuestion:"]))
'Answer: 4'
>>> list(word_pieces("Hello there, friend."))
['Hello ', 'there, ', 'friend.']
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from .._deps import require
from ..backends import Backend, GenerationParams
from ..templates import ChatMessage

__all__ = ["count_text_tokens", "cut_stream", "stream_replies", "word_pieces"]

_WORD = re.compile(r"\s*\S+\s*|\s+")


def word_pieces(text: str) -> Iterator[str]:
    """``text`` in word-sized pieces that join back to it exactly."""
    pieces = _WORD.findall(text)
    yield from pieces


def cut_stream(pieces: Iterator[str], stop: Sequence[str] | None) -> Generator[str, None, None]:
    """The pieces up to (not including) the first stop sequence; a possible stop prefix is held back."""
    stops = [sequence for sequence in stop or () if sequence]
    if not stops:
        yield from (piece for piece in pieces if piece)
        return
    hold = max(len(sequence) for sequence in stops) - 1
    pending = ""
    for piece in pieces:
        pending += piece
        positions = [pending.find(sequence) for sequence in stops]
        found = [position for position in positions if position >= 0]
        if found:
            if min(found) > 0:
                yield pending[: min(found)]
            return
        if len(pending) > hold:
            ready, pending = pending[: len(pending) - hold], pending[len(pending) - hold :]
            yield ready
    if pending:
        yield pending


def count_text_tokens(backend: Backend, text: str) -> int:
    """Tokens of ``text`` by the backend's tokenizer, or its whitespace words when it has none."""
    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is not None:
        return len(tokenizer.encode(text, add_special_tokens=False))
    return len(text.split())


def _transformers_pieces(backend: Any, conversation: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
    """Token-by-token text from a local transformers model (generation runs in a worker thread)."""
    torch = require("torch")
    transformers = require("transformers")
    tokenizer, model = backend.tokenizer, backend.model
    halt = threading.Event()

    class _Halt(transformers.StoppingCriteria):  # type: ignore[misc,name-defined]
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), halt.is_set(), dtype=torch.bool, device=input_ids.device)

    streamer = transformers.TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    has_template = bool(getattr(tokenizer, "chat_template", None))
    tokenizer.padding_side = "left"
    encoded = tokenizer([backend.render(conversation)], return_tensors="pt", add_special_tokens=not has_template).to(
        model.device
    )
    kwargs: dict[str, Any] = {
        "max_new_tokens": params.max_new_tokens,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": backend.eos_token_ids(),
        "streamer": streamer,
        "stopping_criteria": transformers.StoppingCriteriaList([_Halt()]),
    }
    if params.greedy:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    else:
        kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
    failure: list[BaseException] = []
    lock = getattr(backend, "_lock", None) or threading.Lock()

    def run() -> None:
        try:
            with lock, torch.inference_mode():
                if not params.greedy and params.seed is not None:
                    torch.manual_seed(params.seed)
                model.generate(**encoded, **kwargs)
        except BaseException as exc:  # handed to the consumer below
            failure.append(exc)
            streamer.end()

    worker = threading.Thread(target=run, name="fipo-stream", daemon=True)
    worker.start()
    try:
        yield from streamer
    finally:
        halt.set()  # the consumer stopped (stop sequence, error, closed generator): stop generating
        worker.join()
    if failure:
        raise failure[0]


def stream_replies(backend: Backend, conversation: Sequence[ChatMessage], params: GenerationParams) -> Iterator[str]:
    """Text pieces of one reply: tokens for a local transformers model, words of the reply otherwise."""
    if getattr(backend, "tokenizer", None) is not None and getattr(backend, "model", None) is not None:
        yield from _transformers_pieces(backend, conversation, params)
        return
    yield from word_pieces(backend.generate([conversation], params)[0][0])
