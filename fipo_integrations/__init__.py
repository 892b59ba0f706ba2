"""fipo-integrations: local FIPO prompt optimization for LangChain, DSPy and your own training runs.

Importing this package is cheap: torch, transformers, langchain-core and dspy load only when the object that
needs them is first used.

>>> import fipo_integrations
>>> fipo_integrations.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Passive OpenMP waits unless the user chose otherwise: spinning OpenMP threads make CPU generation 20-40x
# slower on a busy machine. It must be set before torch loads its OpenMP runtime, hence here (torch is
# imported lazily, after this). See "Environment variables" in docs/runtime.md.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# name -> (module, attribute); resolved on first access (PEP 562).
_LAZY: dict[str, tuple[str, str]] = {
    "PromptOptimizer": ("fipo_integrations.engine", "PromptOptimizer"),
    "OptimizationResult": ("fipo_integrations.engine", "OptimizationResult"),
    "OptimizationRequest": ("fipo_integrations.engine", "OptimizationRequest"),
    "GuardConfig": ("fipo_integrations.guard", "GuardConfig"),
    "check_rewrite": ("fipo_integrations.guard", "check_rewrite"),
    "RewriteCache": ("fipo_integrations.cache", "RewriteCache"),
    "Backend": ("fipo_integrations.backends", "Backend"),
    "GenerationParams": ("fipo_integrations.backends", "GenerationParams"),
    "make_backend": ("fipo_integrations.backends", "make_backend"),
    "MissingDependencyError": ("fipo_integrations._deps", "MissingDependencyError"),
    "ModelNotAvailableError": ("fipo_integrations.models", "ModelNotAvailableError"),
    "FIPOOptimizer": ("fipo_integrations.langchain", "FIPOOptimizer"),
    "FIPO": ("fipo_integrations.dspy", "FIPO"),
    "FIPOTeleprompter": ("fipo_integrations.dspy", "FIPOTeleprompter"),
    "FIPOProposer": ("fipo_integrations.dspy", "FIPOProposer"),
    "LocalLM": ("fipo_integrations.dspy", "LocalLM"),
}

__all__ = ["__version__", *sorted(_LAZY)]

if TYPE_CHECKING:
    from ._deps import MissingDependencyError
    from .backends import Backend, GenerationParams, make_backend
    from .cache import RewriteCache
    from .engine import OptimizationRequest, OptimizationResult, PromptOptimizer
    from .guard import GuardConfig, check_rewrite
    from .models import ModelNotAvailableError


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'fipo_integrations' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
