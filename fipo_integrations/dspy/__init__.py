"""DSPy integration: the FIPO teleprompter, a GEPA instruction proposer and a local LM.

Nothing here imports dspy until one of the names is used (PEP 562), so ``import fipo_integrations.dspy``
stays cheap and a missing dspy raises :class:`~fipo_integrations.MissingDependencyError` naming the extra.

>>> from fipo_integrations.dspy import FIPO, FIPOProposer, LocalLM  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._deps import lazy_exports

# litellm (imported by dspy) downloads a model price list from the internet at import time unless this is
# set; every dspy import in this package goes through here first, so no documented path touches the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_LAZY: dict[str, str] = {
    "FIPO": "fipo_integrations.dspy.teleprompter",
    "FIPOTeleprompter": "fipo_integrations.dspy.teleprompter",
    "FIPOReport": "fipo_integrations.dspy.report",
    "PredictorReport": "fipo_integrations.dspy.report",
    "CandidateRecord": "fipo_integrations.dspy.report",
    "PlainTextAdapter": "fipo_integrations.dspy.adapter",
    "FIPOProposer": "fipo_integrations.dspy.proposer",
    "LocalLM": "fipo_integrations.dspy.lm",
    "BackendEngine": "fipo_integrations.dspy.lm",
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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
