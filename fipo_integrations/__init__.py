"""fipo-integrations: local FIPO prompt optimization for LangChain, DSPy and your own training runs.

Importing this package is cheap: torch, transformers, langchain-core and dspy load only when the object that
needs them is first used.

>>> import fipo_integrations
>>> fipo_integrations.__version__
'0.1.0'
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ._deps import lazy_exports

try:  # the version is stated once, in pyproject.toml
    __version__ = version("fipo-integrations")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

# Passive OpenMP waits unless the user chose otherwise: spinning OpenMP threads make CPU generation 20-40x
# slower on a busy machine. It must be set before torch loads its OpenMP runtime, hence here (torch is
# imported lazily, after this). See "Environment variables" in docs/runtime.md.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# module -> the names it defines; each name is imported on first access (PEP 562).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "engine": ("PromptOptimizer", "OptimizationResult", "OptimizationRequest"),
    "guard": ("GuardConfig", "check_rewrite"),
    "cache": ("RewriteCache",),
    "backends": ("Backend", "GenerationParams", "make_backend", "load_backend"),
    "spec": ("ModelSpec",),
    "_deps": ("MissingDependencyError",),
    "models": ("ModelNotAvailableError",),
    "langchain": ("FIPOOptimizer",),
    "dspy": ("FIPO", "FIPOTeleprompter", "FIPOProposer", "LocalLM"),
}
_LAZY = {name: f"{__name__}.{module}" for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *sorted(_LAZY)]

if TYPE_CHECKING:
    from ._deps import MissingDependencyError
    from .backends import Backend, GenerationParams, load_backend, make_backend
    from .cache import RewriteCache
    from .engine import OptimizationRequest, OptimizationResult, PromptOptimizer
    from .guard import GuardConfig, check_rewrite
    from .models import ModelNotAvailableError
    from .spec import ModelSpec


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
