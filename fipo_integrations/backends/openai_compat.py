"""OpenAI-compatible chat endpoint backend (vLLM server, llama.cpp server, Ollama, ...).

For users who serve a bigger FIPO model, such as the paper's 70B, on their own machine or cluster.
Only the standard library is used; requests go to ``base_url`` and nowhere else.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..templates import ChatMessage
from .base import Backend, GenerationParams, cut_at_stop

__all__ = ["EndpointError", "OpenAICompatibleBackend"]


class EndpointError(RuntimeError):
    """The endpoint answered with an error or an unexpected body."""


class OpenAICompatibleBackend(Backend):
    """Calls ``{base_url}/chat/completions``; batches run with bounded concurrency.

    >>> backend = OpenAICompatibleBackend("http://localhost:8000/v1", model="fipo-70b")
    >>> backend.model_id
    'openai:http://localhost:8000/v1#fipo-70b'
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_concurrency: int = 8,
        context_window: int | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        self.base_url = base_url.rstrip("/")
        self.model = model or "default"
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "EMPTY")
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self._context_window = context_window
        self.model_id = f"openai:{self.base_url}#{self.model}"

    @property
    def context_window(self) -> int | None:
        return self._context_window

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: dict[str, Any] = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise EndpointError(f"{self.base_url} answered HTTP {exc.code}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise EndpointError(f"Could not reach {self.base_url}: {exc.reason}") from exc
        if "choices" not in body:
            raise EndpointError(f"{self.base_url} returned no 'choices': {str(body)[:300]}")
        return body

    def _one(self, conversation: Sequence[ChatMessage], params: GenerationParams) -> list[str]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": list(conversation),
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "n": params.num_candidates,
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        if not params.greedy:
            payload["top_p"] = params.top_p
            if params.seed is not None:
                payload["seed"] = params.seed
        body = self._post(payload)
        replies = [_reply(choice, params) for choice in body["choices"]]
        # Some servers ignore n > 1; ask again for the missing ones.
        while len(replies) < params.num_candidates:
            payload["n"] = 1
            if "seed" in payload and params.seed is not None:
                payload["seed"] = params.seed + len(replies)
            extra = self._post(payload)["choices"]
            replies.append(_reply(extra[0], params))
        return replies[: params.num_candidates]

    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        if len(conversations) <= 1:
            return [self._one(conversation, params) for conversation in conversations]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(conversations))) as pool:
            return list(pool.map(lambda conversation: self._one(conversation, params), conversations))


def _reply(choice: dict[str, Any], params: GenerationParams) -> str:
    """The text of one returned choice, cut at the first stop string (for servers that ignore ``stop``)."""
    return cut_at_stop(str((choice.get("message") or {}).get("content") or ""), params.stop).strip()
