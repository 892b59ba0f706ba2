"""Test helpers: a scripted backend, so chains and programs can be tested without a model.

>>> from fipo_integrations import PromptOptimizer
>>> backend = ScriptedBackend(lambda prompt: f"Answer carefully: {prompt}")
>>> PromptOptimizer(backend, cache=False).optimize("What is 2 + 2?").optimized
'Answer carefully: What is 2 + 2?'
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence

from .backends.base import Backend, GenerationParams, cut_at_stop
from .templates import ChatMessage

__all__ = ["ScriptedBackend", "naive_prompt_of"]

_SILVER_PROMPT = re.compile(r"### Silver Prompt\n(.*?)\n\n### ", re.DOTALL)


def naive_prompt_of(conversation: Sequence[ChatMessage]) -> str:
    """The naive prompt inside a rendered optimizer conversation ("" for other conversations)."""
    users = [message for message in conversation if message["role"] == "user"]
    match = _SILVER_PROMPT.search(users[-1]["content"]) if users else None
    return match.group(1) if match else ""


class ScriptedBackend(Backend):
    """A backend whose reply is ``script(naive_prompt)``; records every call for assertions.

    ``script`` may also take ``(naive_prompt, conversation, candidate_index)`` when ``full=True``.
    Judge conversations get ``judge_reply`` (default ``"A"``). With ``prefill=True`` it continues a conversation
    that ends with an assistant message as a model would: the reply is the script's text after that message's
    content (the whole text when it does not start with it).
    """

    def __init__(
        self,
        script: Callable[..., str],
        *,
        full: bool = False,
        judge_reply: str = "A",
        model_id: str = "scripted",
        context_window: int | None = None,
        prefill: bool = False,
    ) -> None:
        self.script = script
        self.supports_prefill = prefill
        self.full = full
        self.judge_reply = judge_reply
        self.model_id = model_id
        self._context_window = context_window
        self.calls: list[list[list[ChatMessage]]] = []
        #: The decoding parameters of each :meth:`generate` call, in order.
        self.params: list[GenerationParams] = []
        self._lock = threading.Lock()

    @property
    def context_window(self) -> int | None:
        return self._context_window

    def count_tokens(self, conversation: Sequence[ChatMessage]) -> int | None:
        return sum(len(message["content"].split()) for message in conversation)

    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        with self._lock:
            self.calls.append([list(c) for c in conversations])
            self.params.append(params)
        replies = []
        for conversation in conversations:
            if "### Prompt A" in conversation[-1]["content"]:
                replies.append([self.judge_reply] * params.num_candidates)
                continue
            prompt = naive_prompt_of(conversation)
            if self.full:
                texts = [self.script(prompt, conversation, i) for i in range(params.num_candidates)]
            else:
                texts = [self.script(prompt) for _ in range(params.num_candidates)]
            if self.supports_prefill and conversation[-1]["role"] == "assistant":
                start = conversation[-1]["content"]
                texts = [text[len(start) :] if text.startswith(start) else text for text in texts]
            replies.append([cut_at_stop(text, params.stop) for text in texts])
        return replies
