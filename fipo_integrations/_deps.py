"""Lazy imports of optional dependencies with errors that name the extra to install."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["MissingDependencyError", "lazy_exports", "require"]

#: The optional top-level modules each extra of ``fipo-integrations`` provides ("local": the core install).
_MODULES_OF_EXTRA: dict[str, tuple[str, ...]] = {
    "langchain": ("langchain_core",),
    "dspy": ("dspy",),
    "train": ("trl", "datasets", "accelerate"),
    "vllm": ("vllm",),
    "quantization": ("torchao",),
    "llamacpp": ("llama_cpp",),
    "eval": ("lm_eval", "matplotlib", "numpy"),
    "local": ("torch", "transformers", "gguf", "safetensors", "peft"),
}
#: Which extra provides each optional top-level module.
EXTRA_FOR_MODULE: dict[str, str] = {module: extra for extra, modules in _MODULES_OF_EXTRA.items() for module in modules}


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


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose names load on first use (PEP 562).

    ``exports`` maps each public name to the module that defines it; a loaded name is kept in the package.

    >>> getter, _ = lazy_exports("json", {"JSONDecoder": "json.decoder"})
    >>> getter("JSONDecoder").__name__
    'JSONDecoder'
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
