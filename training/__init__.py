"""Offline training for FIPO optimizers: POP data, diversification, SFT / DPO / IPO / IPL fine-tuning.

Everything here runs on a laptop CPU (a tiny model, a few steps) and, unchanged, under ``accelerate launch``
on many GPUs. The runtime package never imports ``training``; ``training`` renders every prompt through
:mod:`fipo_integrations.templates`, so training data and inference always agree.

>>> from training import load_pop, diversify  # doctest: +SKIP
>>> records = load_pop("training/data/pop-seed/parts/*.jsonl").records  # doctest: +SKIP
>>> diversify(records, seed=0).stats["variants"]  # doctest: +SKIP
{'none': ..., 'silver': ..., 'golden': ..., 'both': ...}

Heavy modules (torch, trl, peft) load only when a trainer runs.
"""

from __future__ import annotations

from fipo_integrations._deps import lazy_exports

__all__ = [
    "BuildReport",
    "DiversifyResult",
    "IPLResult",
    "LoadReport",
    "POPRecord",
    "POPValidationError",
    "TeacherSpec",
    "TrainConfig",
    "TrainResult",
    "build_pop",
    "diversify",
    "export_merged",
    "load_config",
    "load_pop",
    "run_ipl",
    "train",
    "write_datasets",
]

_LAZY: dict[str, str] = {
    "BuildReport": "training.build",
    "TeacherSpec": "training.build",
    "build_pop": "training.build",
    "DiversifyResult": "training.diversify",
    "diversify": "training.diversify",
    "write_datasets": "training.diversify",
    "IPLResult": "training.ipl",
    "run_ipl": "training.ipl",
    "LoadReport": "training.pop",
    "POPRecord": "training.pop",
    "POPValidationError": "training.pop",
    "load_pop": "training.pop",
    "TrainConfig": "training.config",
    "load_config": "training.config",
    "TrainResult": "training.trainers",
    "export_merged": "training.trainers",
    "train": "training.trainers",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
