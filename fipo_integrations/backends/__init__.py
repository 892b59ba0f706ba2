"""Backends behind one interface (:class:`Backend`); :func:`load_backend` makes one from a
:class:`~fipo_integrations.spec.ModelSpec` (shared while its registry is open)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._deps import lazy_exports
from ..spec import BackendName, ModelSpec
from .base import Backend, GenerationParams
from .registry import BackendRegistry, build_backend, close_backends, load_backend, release_backend

if TYPE_CHECKING:
    from .hf import TransformersBackend
    from .llamacpp import LlamaCppBackend
    from .openai_compat import OpenAICompatibleBackend
    from .vllm_offline import VLLMBackend

__all__ = [
    "Backend",
    "BackendName",
    "BackendRegistry",
    "GenerationParams",
    "LlamaCppBackend",
    "OpenAICompatibleBackend",
    "TransformersBackend",
    "VLLMBackend",
    "build_backend",
    "close_backends",
    "load_backend",
    "make_backend",
    "release_backend",
]


def make_backend(model: str | Path | Backend | ModelSpec | None = None, **fields: Any) -> Backend:
    """A new backend (not shared; :func:`load_backend` gives the shared one) for a model.

    ``fields`` are those of :meth:`ModelSpec.from_options <fipo_integrations.spec.ModelSpec.from_options>`
    (``adapter``, ``base_url``, ``api_key``, ``backend``, ``device``, ``dtype``, ``quantization``,
    ``trust_remote_code``, ``batch_size``). ``backend="auto"`` picks the OpenAI-compatible endpoint when
    ``base_url`` is given and local transformers otherwise; ``"vllm"`` and ``"llamacpp"`` (GGUF files on
    llama.cpp, the ``llamacpp`` extra) must be asked for. A :class:`Backend` instance is returned as is.

    >>> make_backend("fipo-70b", base_url="http://localhost:8000/v1").model_id
    'openai:http://localhost:8000/v1#fipo-70b'
    """
    if isinstance(model, Backend):
        return model
    return build_backend(ModelSpec.from_options(model, **fields))


__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "TransformersBackend": f"{__name__}.hf",
        "OpenAICompatibleBackend": f"{__name__}.openai_compat",
        "LlamaCppBackend": f"{__name__}.llamacpp",
        "VLLMBackend": f"{__name__}.vllm_offline",
    },
)
