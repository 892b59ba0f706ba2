"""A local DSPy language model: any fipo backend (by default the embedded SmolLM2) as a ``dspy.LM``.

DSPy 3.4 backs ``dspy.LM`` with an *engine*: an object with ``complete(Request) -> Response`` (the
canonical lm15 contract; ``BaseLM.forward`` subclasses are deprecated). :class:`BackendEngine` is such an
engine over a :class:`~fipo_integrations.backends.Backend`; :class:`LocalLM` is a ``dspy.LM`` that uses it.
Because the engine sits *below* ``dspy.LM``, DSPy's request cache, history, callbacks and usage tracking
work exactly as with a hosted model: a repeated identical call never reaches the local model.

>>> import dspy
>>> from fipo_integrations import LocalLM
>>> lm = LocalLM()  # embedded SmolLM2-135M-Instruct on CPU, greedy  # doctest: +SKIP
>>> dspy.configure(lm=lm)  # doctest: +SKIP
>>> dspy.Predict("question -> answer")(question="What is the capital of France?").answer  # doctest: +SKIP
'Paris'
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._deps import require
from ..backends import Backend, GenerationParams, load_backend
from ..backends.coalesce import RequestCoalescer
from ..spec import ModelSpec
from ..templates import ChatMessage

dspy = require("dspy", feature="the DSPy integration")
lm15 = require("dspy.lm15", feature="the DSPy integration")

__all__ = ["DEFAULT_TASK_MODEL", "AsyncBackendEngine", "BackendEngine", "LocalLM"]

logger = logging.getLogger(__name__)

#: The task model :class:`LocalLM` loads when none is given (the plain instruct model, no FIPO adapter).
DEFAULT_TASK_MODEL = "embedded:smollm2-135m-instruct"


def _part_text(part: Any) -> str:
    text = getattr(part, "text", None)
    if isinstance(text, str):
        return text
    raise TypeError(
        f"LocalLM handles text only, got a {type(part).__name__} part; "
        "send text messages (images, audio, files and tools are not supported by local text models)"
    )


def request_to_conversation(request: Any) -> list[ChatMessage]:
    """The chat messages of an lm15 ``Request`` (system first), as fipo backends take them."""
    conversation: list[ChatMessage] = []
    if request.system is not None:
        system = request.system if isinstance(request.system, str) else "".join(_part_text(p) for p in request.system)
        if system.strip():
            conversation.append({"role": "system", "content": system})
    for message in request.messages:
        role = "system" if message.role == "developer" else message.role
        if role not in ("system", "user", "assistant"):
            raise TypeError(
                f"LocalLM got a {message.role!r} message; it handles system, developer, user and assistant "
                "text messages only (no tool calls)"
            )
        conversation.append({"role": role, "content": "".join(_part_text(p) for p in message.parts)})
    return conversation


class BackendEngine:
    """A DSPy 3.4 engine (``complete(Request) -> Response``) that runs a fipo :class:`Backend`.

    Engines are *borrowed* by ``dspy.LM``: copies of the LM (and ``copy.deepcopy``) share this object and
    its loaded weights. ``calls`` counts the requests that reached the backend (DSPy cache hits do not).

    Args:
        backend: the backend that generates replies.
        spec: how to rebuild the backend when a saved program is loaded (``model``, ``adapter``, ``device``);
            ``None`` when the backend was passed in ready-made (such an LM cannot be saved with a program).
        default_max_tokens: reply budget when a request does not set ``max_tokens``.
        max_batch: concurrent requests (``dspy.Evaluate(num_threads=...)``, ``dspy.Parallel``) that share a
            batched generate call with the same decoding parameters; 1 sends every request alone. See
            :class:`~fipo_integrations.backends.coalesce.RequestCoalescer`.

    >>> from fipo_integrations.testing import ScriptedBackend
    >>> engine = BackendEngine(ScriptedBackend(lambda prompt, conversation, index: "hi", full=True))
    >>> engine.complete(lm15.Request(model="local/x", messages=(lm15.Message.user("Hello"),))).text
    'hi'
    """

    supports_function_calling = False
    supports_reasoning = False
    supports_response_schema = False
    supported_params = ("temperature", "max_tokens", "top_p", "seed", "stop")

    def __init__(
        self,
        backend: Backend,
        *,
        spec: dict[str, Any] | None = None,
        default_max_tokens: int = 512,
        max_batch: int = 8,
    ) -> None:
        if not isinstance(backend, Backend):
            raise TypeError(
                f"backend must be a fipo_integrations Backend, got {type(backend).__name__}; "
                "build one with fipo_integrations.backends.load_backend(...) or pass a model spec to LocalLM"
            )
        if default_max_tokens < 1:
            raise ValueError(f"default_max_tokens must be >= 1, got {default_max_tokens}")
        self.backend = backend
        self.spec = dict(spec) if spec is not None else None
        self.default_max_tokens = default_max_tokens
        self.calls = 0
        self._coalescer = RequestCoalescer(backend, max_batch=max_batch)
        self._count_lock = threading.Lock()

    # Borrowed, not owned: never duplicate the weights.
    def __copy__(self) -> BackendEngine:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> BackendEngine:
        return self

    def _params(self, config: Any) -> GenerationParams:
        temperature = float(config.temperature) if config.temperature is not None else 0.0
        return GenerationParams(
            max_new_tokens=int(config.max_tokens or self.default_max_tokens),
            temperature=max(0.0, temperature),
            top_p=float(config.top_p) if config.top_p is not None and 0 < config.top_p <= 1 else 1.0,
            num_candidates=1,
            # No request seed: keep the global RNG running, so repeated samples (n > 1) differ.
            seed=int(config.seed) if config.seed is not None else None,
            stop=tuple(config.stop or ()),
        )

    def _count(self, text: str) -> int | None:
        tokenizer = getattr(self.backend, "tokenizer", None)
        if tokenizer is None:
            return None
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def complete(self, request: Any) -> Any:
        """Generate one reply to an lm15 ``Request``; returns an lm15 ``Response``."""
        from dspy.clients.engines.base import validate_request

        validate_request(request)
        if request.tools:
            raise lm15.UnsupportedFeatureError("LocalLM does not support tools; use a ReAct-free program")
        conversation = request_to_conversation(request)
        params = self._params(request.config)
        with self._count_lock:
            self.calls += 1
        reply = self._coalescer.generate_one(conversation, params)  # cut before the first stop string
        input_tokens = self.backend.count_tokens(conversation)
        output_tokens = self._count(reply)
        finish = "length" if output_tokens is not None and output_tokens >= params.max_new_tokens else "stop"
        usage = lm15.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        return lm15.Response(
            id=None,
            model=request.model,
            message=lm15.Message.assistant(reply),
            finish_reason=finish,
            usage=usage,
        )

    def stream(self, request: Any) -> Iterator[Any]:
        """One complete reply as lm15 stream events (generation itself is not incremental)."""
        return iter(lm15.response_to_events(self.complete(request)))

    def close(self) -> None:
        """Nothing to release: the weights live as long as the backend object."""

    def dump_state(self) -> dict[str, Any]:
        """JSON state to rebuild the engine when a saved program is loaded (no weights, no secrets)."""
        if self.spec is None:
            raise TypeError(
                "This LocalLM wraps a ready-made backend object, which cannot be saved. Build it from a model "
                "spec (LocalLM('embedded:smollm2-135m-instruct')) or save the program without an LM attached."
            )
        return {**self.spec, "default_max_tokens": self.default_max_tokens}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> BackendEngine:
        """Rebuild from :meth:`dump_state` (loads the local model)."""
        state = dict(state)
        default_max_tokens = int(state.pop("default_max_tokens", 512))
        spec = ModelSpec.parse(state.get("model"), adapter=state.get("adapter"), device=state.get("device"))
        return cls(load_backend(spec), spec=state, default_max_tokens=default_max_tokens)


class AsyncBackendEngine:
    """The async counterpart of :class:`BackendEngine` (the model runs in a worker thread)."""

    def __init__(self, sync: BackendEngine) -> None:
        self.sync = sync

    def __copy__(self) -> AsyncBackendEngine:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> AsyncBackendEngine:
        return self

    async def complete(self, request: Any) -> Any:
        return await asyncio.to_thread(self.sync.complete, request)

    async def stream(self, request: Any) -> Any:
        response = await self.complete(request)
        for event in lm15.response_to_events(response):
            yield event

    async def aclose(self) -> None:
        """Nothing to release."""


def _make_engine(
    model: str | Path | Backend | None,
    adapter: str | Path | None,
    device: str | None,
    batch_size: int,
    default_max_tokens: int,
) -> BackendEngine:
    if isinstance(model, Backend):
        if adapter is not None or device is not None:
            raise ValueError("adapter= and device= apply to a model spec; a ready-made backend is already loaded")
        return BackendEngine(model, default_max_tokens=default_max_tokens, max_batch=batch_size)
    if model is not None and not isinstance(model, (str, Path)):
        raise TypeError(f"model must be None, a model spec (str or Path) or a fipo Backend, got {type(model).__name__}")
    spec_model = str(model) if model is not None else DEFAULT_TASK_MODEL
    backend = load_backend(
        ModelSpec.parse(
            spec_model, adapter=None if adapter is None else str(adapter), device=device, batch_size=batch_size
        )
    )
    spec = {"model": spec_model, "adapter": str(adapter) if adapter is not None else None, "device": device}
    return BackendEngine(backend, spec=spec, default_max_tokens=default_max_tokens, max_batch=batch_size)


class LocalLM(dspy.LM):  # type: ignore[misc,name-defined]
    """A ``dspy.LM`` that runs a local model (default: embedded SmolLM2-135M-Instruct), fully offline.

    Args:
        model: ``None`` (embedded SmolLM2-135M-Instruct), ``"embedded:NAME"``, a local transformers model
            directory, or any fipo :class:`~fipo_integrations.backends.Backend` (e.g. an
            ``OpenAICompatibleBackend`` for a llama.cpp server, or ``ScriptedBackend`` in tests).
        adapter: a PEFT LoRA adapter directory to merge into a local model.
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available).
        temperature, max_tokens: default decoding for every call (greedy, so answers are reproducible).
        cache: use DSPy's request cache (``dspy.cache``), so identical calls skip the model.
        batch_size: the most concurrent requests answered by one batched generate call (and the generation
            batch size of a model built from a spec); requests from ``dspy.Evaluate(num_threads=n)`` threads
            are batched together.
        **kwargs: other default request parameters kept by ``dspy.LM`` (for example ``top_p``).

    The model string DSPy sees (and keys its cache on) is ``"local/" + backend.model_id``, which includes a
    content hash of the weights, so swapping weights never returns stale cached answers.

    >>> lm = LocalLM(max_tokens=128)  # doctest: +SKIP
    >>> lm("Say hello in French.")  # doctest: +SKIP
    ['Bonjour!']
    """

    def __init__(
        self,
        model: str | Path | Backend | None = None,
        *,
        adapter: str | Path | None = None,
        device: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        cache: bool = True,
        batch_size: int = 8,
        **kwargs: Any,
    ) -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        engine = _make_engine(model, adapter, device, batch_size, max_tokens)
        super().__init__(
            model=f"local/{engine.backend.model_id}",
            model_type="chat",
            temperature=temperature,
            max_tokens=max_tokens,
            cache=cache,
            num_retries=0,
            engine=engine,
            async_engine=AsyncBackendEngine(engine),
            **kwargs,
        )

    @property
    def backend(self) -> Backend:
        """The fipo backend that generates the replies."""
        engine: BackendEngine = self._engine_spec
        return engine.backend

    @property
    def calls(self) -> int:
        """Requests that reached the local model (DSPy cache hits excluded); shared by copies."""
        engine: BackendEngine = self._engine_spec
        return engine.calls

    def dump_state(self) -> dict[str, Any]:
        engine: BackendEngine = self._engine_spec
        from dspy.clients.base_lm import LM_CLASS_STATE_KEY

        return {
            LM_CLASS_STATE_KEY: f"{type(self).__module__}.{type(self).__qualname__}",
            **engine.dump_state(),
            "temperature": self.kwargs.get("temperature"),
            "max_tokens": self.kwargs.get("max_tokens"),
            "cache": self.cache,
        }

    @classmethod
    def load_state(cls, state: dict[str, Any], *, allow_custom_lm_class: bool = False) -> LocalLM:
        from dspy.clients.base_lm import LM_CLASS_STATE_KEY

        state = {key: value for key, value in state.items() if key != LM_CLASS_STATE_KEY}
        state.pop("default_max_tokens", None)
        known = {"model", "adapter", "device", "temperature", "max_tokens", "cache"}
        return cls(**{key: value for key, value in state.items() if key in known and value is not None})
