"""Lazy imports of optional dependencies with errors that name the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingDependencyError", "require"]

#: Which extra of ``fipo-integrations`` provides each optional top-level module.
EXTRA_FOR_MODULE: dict[str, str] = {
    "langchain_core": "langchain",
    "dspy": "dspy",
    "trl": "train",
    "datasets": "train",
    "accelerate": "train",
    "vllm": "vllm",
    "torchao": "quantization",
    "llama_cpp": "llamacpp",
    "lm_eval": "eval",
    "matplotlib": "eval",
    "numpy": "eval",
    "peft": "train",
    "torch": "local",
    "transformers": "local",
    "gguf": "local",
    "safetensors": "local",
}


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""


def require(module: str, *, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    >>> require("json").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = EXTRA_FOR_MODULE.get(top)
        what = f" for {feature}" if feature else ""
        if extra == "local":
            hint = "pip install fipo-integrations (it depends on torch, transformers and gguf)"
        elif extra:
            hint = f"pip install 'fipo-integrations[{extra}]'"
        else:
            hint = f"pip install {top}"
        raise MissingDependencyError(
            f"The optional dependency {top!r} is needed{what} but could not be imported ({exc}). "
            f"Install it with: {hint}"
        ) from exc
