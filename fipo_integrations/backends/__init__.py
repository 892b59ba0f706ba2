"""Optimizer backends behind one interface (:class:`Backend`), and :func:`make_backend` to pick one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .base import Backend, GenerationParams

if TYPE_CHECKING:
    from .hf import TransformersBackend
    from .llamacpp import LlamaCppBackend
    from .openai_compat import OpenAICompatibleBackend
    from .vllm_offline import VLLMBackend

__all__ = [
    "Backend",
    "BackendName",
    "GenerationParams",
    "LlamaCppBackend",
    "OpenAICompatibleBackend",
    "TransformersBackend",
    "VLLMBackend",
    "make_backend",
]

BackendName = Literal["auto", "transformers", "openai", "vllm", "llamacpp"]
_BACKEND_NAMES = ("auto", "transformers", "openai", "vllm", "llamacpp")


def make_backend(
    model: str | Path | Backend | None = None,
    *,
    adapter: str | Path | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    backend: BackendName = "auto",
    device: str | None = None,
    trust_remote_code: bool = False,
    **options: Any,
) -> Backend:
    """Build a backend from a model spec.

    ``backend="auto"`` picks the OpenAI-compatible endpoint when ``base_url`` is given and local
    transformers otherwise; ``"vllm"`` and ``"llamacpp"`` (GGUF files on llama.cpp, the ``llamacpp`` extra)
    must be asked for. A :class:`Backend` instance is returned as is.
    """
    if isinstance(model, Backend):
        return model
    if backend not in _BACKEND_NAMES:
        raise ValueError(f"backend must be one of {_BACKEND_NAMES}, got {backend!r}")
    if backend == "openai" or (backend == "auto" and base_url is not None):
        if base_url is None:
            raise ValueError("backend='openai' needs base_url, e.g. base_url='http://localhost:8000/v1'")
        if adapter is not None:
            raise ValueError("adapter= is for local models; an endpoint serves its adapter itself")
        from .openai_compat import OpenAICompatibleBackend

        return OpenAICompatibleBackend(
            base_url, model=None if model is None else str(model), api_key=api_key, **options
        )
    if backend == "vllm":
        if model is None:
            raise ValueError("backend='vllm' needs model= (a local directory or hub id)")
        from .vllm_offline import VLLMBackend

        return VLLMBackend(model, adapter=adapter, trust_remote_code=trust_remote_code, **options)
    if backend == "llamacpp":
        from .llamacpp import LlamaCppBackend

        return LlamaCppBackend(model, adapter=adapter, **options)
    from .hf import TransformersBackend

    return TransformersBackend(model, adapter=adapter, device=device, trust_remote_code=trust_remote_code, **options)


def __getattr__(name: str) -> Any:
    if name == "TransformersBackend":
        from .hf import TransformersBackend

        return TransformersBackend
    if name == "OpenAICompatibleBackend":
        from .openai_compat import OpenAICompatibleBackend

        return OpenAICompatibleBackend
    if name == "LlamaCppBackend":
        from .llamacpp import LlamaCppBackend

        return LlamaCppBackend
    if name == "VLLMBackend":
        from .vllm_offline import VLLMBackend

        return VLLMBackend
    raise AttributeError(name)
