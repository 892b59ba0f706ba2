"""Evaluation harness (``fipo eval``): do optimized task instructions help *your* testing model?

Five benchmarks as in the FIPO paper (GSM8K and BBH by generation and exact match; PiQA, CosmosQA and MMLU
by option-letter log-probabilities), naive against one or more optimizers, several testing models, a
resumable per-item cache and a report with confidence intervals and paired significance tests.

>>> from fipo_integrations.evaluation import EvalConfig, run_evaluation
>>> config = EvalConfig(out_dir="eval-out", data_dir="data", limit=20)
>>> report = run_evaluation(config)  # doctest: +SKIP

Importing this package is cheap; models load when a run needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._deps import lazy_exports

_LAZY: dict[str, str] = {
    "EvalConfig": "fipo_integrations.evaluation.runner",
    "run_evaluation": "fipo_integrations.evaluation.runner",
    "load_benchmark": "fipo_integrations.evaluation.loaders",
    "BenchmarkData": "fipo_integrations.evaluation.data",
    "EvalItem": "fipo_integrations.evaluation.data",
    "TaskData": "fipo_integrations.evaluation.data",
    "make_testing_model": "fipo_integrations.evaluation.testing_models",
    "TestingModel": "fipo_integrations.evaluation.testing_models",
    "score_generation": "fipo_integrations.evaluation.scoring",
    "score_choice": "fipo_integrations.evaluation.scoring",
    "build_report": "fipo_integrations.evaluation.report",
}

__all__ = [
    "BenchmarkData",
    "EvalConfig",
    "EvalItem",
    "TaskData",
    "TestingModel",
    "build_report",
    "load_benchmark",
    "make_testing_model",
    "run_evaluation",
    "score_choice",
    "score_generation",
]

if TYPE_CHECKING:
    from .data import BenchmarkData, EvalItem, TaskData
    from .loaders import load_benchmark
    from .report import build_report
    from .runner import EvalConfig, run_evaluation
    from .scoring import score_choice, score_generation
    from .testing_models import TestingModel, make_testing_model


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
