"""DSPy integration: the FIPO teleprompter, a GEPA instruction proposer and a local LM.

Nothing here imports dspy until one of the names is used (PEP 562), so ``import fipo_integrations.dspy``
stays cheap and a missing dspy raises :class:`~fipo_integrations.MissingDependencyError` naming the extra.

>>> from fipo_integrations.dspy import FIPO, FIPOProposer, LocalLM  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# litellm (imported by dspy) downloads a model price list from the internet at import time unless this is
# set; every dspy import in this package goes through here first, so no documented path touches the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_LAZY: dict[str, tuple[str, str]] = {
    "FIPO": ("fipo_integrations.dspy.teleprompter", "FIPO"),
    "FIPOTeleprompter": ("fipo_integrations.dspy.teleprompter", "FIPOTeleprompter"),
    "FIPOReport": ("fipo_integrations.dspy.report", "FIPOReport"),
    "PredictorReport": ("fipo_integrations.dspy.report", "PredictorReport"),
    "CandidateRecord": ("fipo_integrations.dspy.report", "CandidateRecord"),
    "PlainTextAdapter": ("fipo_integrations.dspy.adapter", "PlainTextAdapter"),
    "FIPOProposer": ("fipo_integrations.dspy.proposer", "FIPOProposer"),
    "LocalLM": ("fipo_integrations.dspy.lm", "LocalLM"),
    "BackendEngine": ("fipo_integrations.dspy.lm", "BackendEngine"),
}

__all__ = [
    "FIPO",
    "BackendEngine",
    "CandidateRecord",
    "FIPOProposer",
    "FIPOReport",
    "FIPOTeleprompter",
    "LocalLM",
    "PlainTextAdapter",
    "PredictorReport",
]

if TYPE_CHECKING:
    from .adapter import PlainTextAdapter
    from .lm import BackendEngine, LocalLM
    from .proposer import FIPOProposer
    from .report import CandidateRecord, FIPOReport, PredictorReport
    from .teleprompter import FIPO, FIPOTeleprompter


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'fipo_integrations.dspy' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
