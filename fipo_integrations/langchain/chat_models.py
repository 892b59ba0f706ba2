"""Bridges between LangChain chat models and FIPO backends, in both directions.

* :class:`ChatModelBackend` makes any LangChain ``BaseChatModel`` (for example ``ChatOllama`` serving a FIPO
  model) usable as the optimizer's :class:`~fipo_integrations.backends.Backend`.
* :class:`LocalChatModel` makes a local FIPO backend (by default the embedded SmolLM2-135M-Instruct, on CPU)
  usable as a LangChain chat model, with batching on the model: ``batch`` of N prompts is one generate call.

>>> from fipo_integrations.testing import ScriptedBackend
>>> chat = LocalChatModel(backend=ScriptedBackend(lambda p, conv, i: conv[-1]["content"].upper(), full=True))
>>> chat.invoke("hello").content
'HELLO'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import AliasChoices, ConfigDict, Field, PrivateAttr, field_validator

from .._async import in_executor
from ..backends import Backend, GenerationParams, load_backend
from ..backends.base import cut_at_stop
from ..templates import ChatMessage
from ._messages import content_text, message_role
from ._streaming import count_text_tokens, cut_stream, stream_replies

__all__ = ["ChatModelBackend", "LocalChatModel", "output_text", "to_chat_messages"]

logger = logging.getLogger("fipo_integrations.langchain")

#: Default downstream model of :class:`LocalChatModel`: the plain embedded instruct model (no FIPO adapter).
DEFAULT_CHAT_MODEL = "embedded:smollm2-135m-instruct"


def output_text(output: Any) -> str:
    """The text of whatever a LangChain model returned (a message, a string, or a chat generation)."""
    if isinstance(output, BaseMessage):
        return content_text(output.content)
    if isinstance(output, str):
        return output
    message = getattr(output, "message", None)
    if isinstance(message, BaseMessage):
        return content_text(message.content)
    text = getattr(output, "text", None)
    if isinstance(text, str):
        return text
    raise TypeError(
        f"cannot read text from a model output of type {type(output).__name__}; expected a message or a str"
    )


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[ChatMessage]:
    """LangChain messages as FIPO ``{"role", "content"}`` dicts (text only; AI turns become ``assistant``)."""
    roles = {"human": "user", "system": "system", "ai": "assistant"}
    converted: list[ChatMessage] = []
    for message in messages:
        role = message_role(message)
        converted.append({"role": roles.get(role, "user"), "content": content_text(message.content)})
    return converted


def _to_langchain_messages(conversation: Sequence[ChatMessage]) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for message in conversation:
        role, content = message["role"], message["content"]
        if role == "system":
            messages.append(SystemMessage(content=content))
        elif role == "assistant":
            messages.append(AIMessage(content=content))
        else:
            messages.append(HumanMessage(content=content))
    return messages


def _chat_model_id(chat_model: BaseChatModel) -> str:
    """A stable identity for rewrite-cache keys: the model type and its identifying parameters."""
    try:
        params = dict(chat_model._identifying_params)
    except Exception:  # computed lazily by some models: the type name still identifies them
        params = {}
    name = next((str(params[key]) for key in ("model_name", "model", "model_id") if params.get(key)), "")
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=repr).encode()).hexdigest()[:12]
    return f"langchain:{chat_model._llm_type}:{name}@{digest}" if name else f"langchain:{chat_model._llm_type}@{digest}"


# The callbacks of the FIPOOptimizer run that is calling the optimizer, so its chat-model calls nest under it.
_PARENT_CALLBACKS: ContextVar[Any] = ContextVar("fipo_parent_callbacks", default=None)


def _stop(params: GenerationParams) -> dict[str, Any]:
    """The ``stop=`` keyword for a LangChain call, when stop strings are set."""
    return {"stop": list(params.stop)} if params.stop else {}


@contextlib.contextmanager
def nested_under(callbacks: Any) -> Iterator[None]:
    """Trace the :class:`ChatModelBackend` calls made inside this block as children of ``callbacks``' run."""
    token = _PARENT_CALLBACKS.set(callbacks)
    try:
        yield
    finally:
        _PARENT_CALLBACKS.reset(token)


class ChatModelBackend(Backend):
    """Use any LangChain chat model as the FIPO optimizer (for example a FIPO model served by Ollama).

    Each optimizer conversation is sent with ``chat_model.batch`` (``abatch`` when async), so the chat
    model's own batching and concurrency apply. Decoding parameters (temperature...) are the chat model's own;
    several candidates per prompt are several calls.

    >>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
    >>> backend = ChatModelBackend(FakeListChatModel(responses=["Answer {q} in one word."]))
    >>> backend.generate([[{"role": "user", "content": "..."}]], GenerationParams())
    [['Answer {q} in one word.']]
    """

    def __init__(self, chat_model: BaseChatModel, *, model_id: str | None = None, max_concurrency: int | None = None):
        if not isinstance(chat_model, BaseChatModel):
            raise TypeError(
                f"chat_model must be a LangChain BaseChatModel, got {type(chat_model).__name__}; "
                "pass e.g. ChatOllama(model='fipo') or ChatOpenAI(base_url=..., model=...)"
            )
        self.chat_model = chat_model
        self.model_id = model_id or _chat_model_id(chat_model)
        self.max_concurrency = max_concurrency

    def _config(self) -> RunnableConfig:
        config: RunnableConfig = {"run_name": "FIPORewriter", "tags": ["fipo-optimizer"]}
        if self.max_concurrency is not None:
            config["max_concurrency"] = self.max_concurrency
        parent = _PARENT_CALLBACKS.get()
        if parent is not None:
            config["callbacks"] = parent
        return config

    def _expand(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[Any]:
        return [_to_langchain_messages(c) for c in conversations for _ in range(params.num_candidates)]

    @staticmethod
    def _group(outputs: Sequence[Any], params: GenerationParams) -> list[list[str]]:
        texts = [cut_at_stop(output_text(output), params.stop).strip() for output in outputs]
        size = params.num_candidates
        return [texts[start : start + size] for start in range(0, len(texts), size)]

    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        if not conversations:
            return []
        outputs = self.chat_model.batch(self._expand(conversations, params), config=self._config(), **_stop(params))
        return self._group(outputs, params)


#: Per-call keyword arguments ``LocalChatModel`` honours; ``stream`` is LangChain's own switch.
_CALL_OPTIONS = frozenset({"max_tokens", "temperature", "model"})
_LANGCHAIN_CALL_KEYS = frozenset({"stream"})


class LocalChatModel(BaseChatModel):
    """A LangChain chat model over a local FIPO backend; by default the embedded SmolLM2-135M-Instruct on CPU.

    A standard LangChain chat model: fields are validated (unknown ones are an error), the standard
    ``max_tokens`` (alias ``max_new_tokens``), ``temperature`` and ``stop`` are honoured (also per call, e.g.
    ``invoke(..., max_tokens=5, stop=["\\n"])``), ``stream``/``astream`` yield ``AIMessageChunk``\\ s token by
    token, and every reply carries ``usage_metadata`` (token counts) and ``response_metadata["model_name"]``.
    Tool calling, structured output and images are not supported.

    ``batch``/``abatch`` run all prompts in one batched generate call on the backend (then report each
    prompt through the usual callbacks), so N questions cost about one forward pass per token, not N.

    >>> chat = LocalChatModel(max_tokens=32)  # doctest: +SKIP
    >>> chat.invoke("What is the capital of France?").content  # doctest: +SKIP
    'The capital of France is Paris.'
    >>> "".join(chunk.content for chunk in chat.stream("Say hi.", stop=["!"]))  # doctest: +SKIP
    'Hi'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", populate_by_name=True)

    #: Model spec (see :mod:`fipo_integrations.spec`: ``"embedded:NAME"``, a local directory, a cached hub id,
    #: ``"URL#MODEL"``, ``"llamacpp:..."``). Ignored when ``backend`` is given.
    model: str = DEFAULT_CHAT_MODEL
    #: An already built FIPO backend to answer with (shares a loaded model; tests pass a ScriptedBackend).
    backend: Backend | None = Field(default=None, exclude=True)
    #: Most tokens per answer (``max_new_tokens`` is accepted as an alias).
    max_tokens: int = Field(default=256, validation_alias=AliasChoices("max_tokens", "max_new_tokens"))
    #: 0 is greedy decoding (deterministic).
    temperature: float = 0.0
    #: Stop sequences: the reply ends before the first one (generation stops there when streaming).
    stop: list[str] | None = None
    #: Stream internally even for ``invoke`` (LangChain's standard switch).
    streaming: bool = False
    #: Torch device; ``None`` picks CUDA when available, else CPU.
    device: str | None = None
    #: Prompts per forward pass when batching.
    batch_size: int = 8

    _loaded: Backend | None = PrivateAttr(default=None)
    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _prefetched: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    _prefetch_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("max_tokens", "batch_size", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number >= 1, got {type(value).__name__} {value!r}")
        if value < 1:
            raise ValueError(f"must be >= 1, got {value}")
        return value

    @field_validator("temperature")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if not value >= 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy decoding), got {value}")
        return value

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_list(cls, value: Any) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"stop must be a list of strings, got {value!r}; e.g. stop=['\\n\\n']")
        return list(value)

    @property
    def max_new_tokens(self) -> int:
        """Alias of :attr:`max_tokens` (the name the FIPO engine uses)."""
        return self.max_tokens

    @property
    def _llm_type(self) -> str:
        return "fipo-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self._model_name(),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": self.stop,
        }

    def _model_name(self) -> str:
        return self.backend.model_id if self.backend is not None else self.model

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="fipo",
            ls_model_name=str(kwargs.get("model") or self._model_name()),
            ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature),
            ls_max_tokens=kwargs.get("max_tokens", self.max_tokens),
        )
        stops = self._stops(stop)
        if stops:
            params["ls_stop"] = stops
        return params

    def get_backend(self) -> Backend:
        """The backend that answers (loaded on first use, once per model spec in this process)."""
        if self.backend is not None:
            return self.backend
        with self._load_lock:
            if self._loaded is None:
                # Shared by every instance with the same spec: copies and configurable fields load no weights.
                self._loaded = load_backend(self.model, device=self.device, batch_size=self.batch_size)
            return self._loaded

    # ------------------------------------------------------------------------------------ call options
    def _stops(self, stop: Sequence[str] | None) -> list[str]:
        return [*(self.stop or ()), *(stop or ())]

    def _params(self, kwargs: dict[str, Any] | None = None, stop: Sequence[str] | None = None) -> GenerationParams:
        """Decoding parameters from the fields and the per-call options (unknown options are an error)."""
        options = {key: value for key, value in (kwargs or {}).items() if key not in _LANGCHAIN_CALL_KEYS}
        stop = [*(stop or ()), *(options.pop("stop", None) or ())]
        unknown = sorted(set(options) - _CALL_OPTIONS)
        if unknown:
            raise TypeError(
                f"LocalChatModel got unsupported call option(s) {unknown}; allowed: {sorted(_CALL_OPTIONS)} "
                "and stop (tool calling and structured output are not supported)"
            )
        if "model" in options and options["model"] not in (self.model, self._model_name()):
            raise ValueError(
                f"LocalChatModel serves {self._model_name()!r}; a per-call model={options['model']!r} is not "
                "supported. Create another LocalChatModel(model=...) instead"
            )
        max_tokens = options.get("max_tokens", self.max_tokens)
        temperature = options.get("temperature", self.temperature)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be a whole number >= 1, got {max_tokens!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
            raise ValueError(f"temperature must be a number >= 0 (0 is greedy decoding), got {temperature!r}")
        return GenerationParams(
            max_new_tokens=max_tokens, temperature=float(temperature), stop=tuple(self._stops(stop))
        )

    def _key(self, conversation: Sequence[ChatMessage], params: GenerationParams) -> str:
        return json.dumps([list(conversation), params.as_key()], sort_keys=True)

    def _usage(self, backend: Backend, conversation: Sequence[ChatMessage], text: str) -> UsageMetadata:
        prompt_tokens = backend.count_tokens(conversation) or 0
        reply_tokens = count_text_tokens(backend, text)
        return UsageMetadata(
            input_tokens=prompt_tokens, output_tokens=reply_tokens, total_tokens=prompt_tokens + reply_tokens
        )

    # ------------------------------------------------------------------------------------------ generate
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params = self._params(kwargs, stop)
        conversation = to_chat_messages(messages)
        key = self._key(conversation, params)
        with self._prefetch_lock:
            queued = self._prefetched.get(key)
            reply = queued.pop(0) if queued else None
            if queued is not None and not queued:
                del self._prefetched[key]
        backend = self.get_backend()
        if reply is None:
            reply = backend.generate([conversation], params)[0][0]
        message = AIMessage(
            content=reply,
            usage_metadata=self._usage(backend, conversation, reply),
            response_metadata={"model_name": self._model_name(), "model_provider": "fipo"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """``AIMessageChunk``\\ s as tokens arrive; the last one carries usage and ``chunk_position="last"``.

        ``astream`` runs this in an executor (LangChain's default ``_astream``), chunk by chunk.
        """
        params = self._params(kwargs, stop)
        conversation = to_chat_messages(messages)
        backend = self.get_backend()
        pieces = cut_stream(stream_replies(backend, conversation, params), params.stop)
        text, held = "", None
        try:
            for piece in pieces:
                if held is not None:
                    yield self._chunk(held, run_manager)
                held = piece
                text += piece
        finally:
            pieces.close()  # stops the generation thread when the consumer stops early
        last = AIMessageChunk(
            content=held or "",
            usage_metadata=self._usage(backend, conversation, text),
            response_metadata={"model_name": self._model_name(), "model_provider": "fipo"},
            chunk_position="last",
        )
        if run_manager is not None and held:
            run_manager.on_llm_new_token(held, chunk=ChatGenerationChunk(message=last))
        yield ChatGenerationChunk(message=last)

    @staticmethod
    def _chunk(text: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
        if run_manager is not None:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk

    # Batching: generate every prompt of the batch in one backend call, queue the replies, then let the
    # standard BaseChatModel machinery (callbacks, tracing, caching) run each prompt; `_generate` takes the
    # queued reply instead of calling the model again.
    def _prefetch_conversations(self, inputs: Sequence[LanguageModelInput], kwargs: dict[str, Any]) -> list[str]:
        try:
            params = self._params(kwargs)
            conversations = [to_chat_messages(self._convert_input(item).to_messages()) for item in inputs]
            replies = self.get_backend().generate(conversations, params)
        except Exception as exc:
            # Answer one by one instead, so each prompt gets its own error (and `return_exceptions` works).
            logger.debug("LocalChatModel: batched generation failed (%s); answering prompts one by one", exc)
            return []
        keys = [self._key(conversation, params) for conversation in conversations]
        with self._prefetch_lock:
            for key, reply in zip(keys, replies, strict=True):
                self._prefetched.setdefault(key, []).append(reply[0])
        return keys

    def _drop_prefetched(self, keys: Sequence[str]) -> None:
        with self._prefetch_lock:
            for key in keys:
                self._prefetched.pop(key, None)

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:  # type: ignore[override]
        keys = self._prefetch_conversations(inputs, kwargs) if len(inputs) > 1 else []
        try:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)  # type: ignore[return-value]
        finally:
            self._drop_prefetched(keys)

    # (mypy checks this against BaseChatModel's signature, whose ``self`` is the base class, hence the ignore.)
    abatch = in_executor(batch)  # type: ignore[arg-type]
