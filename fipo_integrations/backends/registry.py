"""The one place a model is made: :func:`build_backend` turns a :class:`ModelSpec` into a backend and
:class:`BackendRegistry` shares each loaded backend between the consumers that ask for the same spec.

The registry's lifetime is explicit: :meth:`BackendRegistry.close` (or leaving its ``with`` block) closes
every backend it built; :func:`load_backend` uses a process-wide registry that holds at most
``max_loaded`` models (the least recently used one is dropped first) and is emptied by
:func:`close_backends`. Keys are the specs themselves; an API key is a :class:`~fipo_integrations.spec.Secret`
and never appears in a key's text or a log line.

>>> from fipo_integrations.spec import ModelSpec
>>> with BackendRegistry() as registry:
...     first = registry.load(ModelSpec.parse("http://localhost:8000/v1#fipo"))
...     first is registry.load(ModelSpec.parse("http://localhost:8000/v1#fipo"))
True
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path
from types import TracebackType
from typing import Any

from ..spec import ModelSpec
from .base import Backend

__all__ = ["BackendRegistry", "build_backend", "close_backends", "load_backend", "release_backend"]

logger = logging.getLogger(__name__)


def build_backend(spec: ModelSpec, **options: Any) -> Backend:
    """A new backend for ``spec`` (``options`` go to the backend class, e.g. ``timeout=`` for endpoints)."""
    backend = spec.resolved_backend
    if backend == "openai":
        from .openai_compat import OpenAICompatibleBackend

        assert spec.base_url is not None  # checked by ModelSpec
        return OpenAICompatibleBackend(spec.base_url, model=spec.model, api_key=spec.secret(), **options)
    if backend == "vllm":
        from .vllm_offline import VLLMBackend

        assert spec.model is not None  # checked by ModelSpec
        return VLLMBackend(spec.model, adapter=spec.adapter, trust_remote_code=spec.trust_remote_code, **options)
    if backend == "llamacpp":
        from .llamacpp import LlamaCppBackend

        return LlamaCppBackend(spec.model, adapter=spec.adapter, **options)
    from .hf import TransformersBackend

    local = ("adapter", "device", "dtype", "batch_size", "trust_remote_code", "quantization")
    return TransformersBackend(spec.model, **{name: getattr(spec, name) for name in local}, **options)


class BackendRegistry:
    """Loaded backends keyed by :class:`ModelSpec`; each spec is loaded once while the registry is open.

    ``max_loaded`` bounds how many stay loaded: beyond it the least recently used one is dropped (its
    current users keep it until they let go of it).
    """

    def __init__(self, *, max_loaded: int = 8) -> None:
        if max_loaded < 1:
            raise ValueError(f"max_loaded must be >= 1, got {max_loaded}")
        self.max_loaded = max_loaded
        self._backends: OrderedDict[ModelSpec, Backend] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, spec: ModelSpec) -> Backend:
        """The backend for ``spec``, built on first use."""
        with self._lock:
            if spec in self._backends:
                self._backends.move_to_end(spec)
                return self._backends[spec]
            backend = build_backend(spec)
            self._backends[spec] = backend
            while len(self._backends) > self.max_loaded:
                dropped, _ = self._backends.popitem(last=False)
                logger.info("backend registry full: dropped %s", dropped.default_label)
            return backend

    def release(self, spec: ModelSpec) -> None:
        """Forget and close the backend of ``spec`` (no-op when it is not loaded)."""
        with self._lock:
            backend = self._backends.pop(spec, None)
        if backend is not None:
            backend.close()

    def close(self) -> None:
        """Close every backend this registry built and empty it."""
        with self._lock:
            backends = list(self._backends.values())
            self._backends.clear()
        for backend in backends:
            backend.close()

    def __len__(self) -> int:
        return len(self._backends)

    def __enter__(self) -> BackendRegistry:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


#: The process-wide registry behind :func:`load_backend`.
_REGISTRY = BackendRegistry()


def load_backend(spec: ModelSpec | Backend | str | Path | None, **fields: Any) -> Backend:
    """The shared backend for a spec (a :class:`ModelSpec`, a spec string, or ``None`` for the default);
    a :class:`Backend` is returned as is. ``fields`` complete a spec string (see :meth:`ModelSpec.parse`).

    >>> load_backend("http://localhost:8000/v1#fipo").model_id
    'openai:http://localhost:8000/v1#fipo'
    """
    if isinstance(spec, Backend):
        if fields:
            raise ValueError(f"{sorted(fields)} apply to a model spec; a ready-made backend is already loaded")
        return spec
    return _REGISTRY.load(ModelSpec.parse(spec, **fields))


def release_backend(spec: ModelSpec) -> None:
    """Drop and close the shared backend of ``spec``, e.g. when an evaluation is done with a model."""
    _REGISTRY.release(spec)


def close_backends() -> None:
    """Close every shared backend (they are built again on next use)."""
    _REGISTRY.close()
