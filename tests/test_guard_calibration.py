"""The guard keeps its rates on the untouched (test) split of the labelled calibration set.

The split is by a hash of the original prompt (``benchmarks/guard_calibration.py``); the guard's rules and
thresholds were fitted on the ``tune`` split only. The floors below are the rates measured on the test split
when the guard was calibrated. Issue 16 asks for 97% good accepted, 97% bad rejected and 90% per bad
category; the measured rates are lower (94.3%, 88.4%, weakest category 66.7%), so the floors keep what was
reached and the gap stays open.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("guard_calibration", ROOT / "benchmarks" / "guard_calibration.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def calibration() -> Any:
    return _benchmark()


def test_split_is_deterministic_and_keeps_each_original_on_one_side(calibration: Any) -> None:
    records = calibration.load_records()
    assert len(records) >= 1000
    sides: dict[str, set[str]] = {}
    for record in records:
        sides.setdefault(" ".join(record["original"].split()), set()).add(record["split"])
    assert all(len(side) == 1 for side in sides.values())
    share = sum(r["split"] == "tune" for r in records) / len(records)
    assert 0.5 < share < 0.7
    assert calibration.split_of("Summarize {text}") == calibration.split_of("Summarize  {text}")


def test_set_size_and_categories(calibration: Any) -> None:
    records = calibration.load_records()
    good = [r for r in records if r["label"] == "good"]
    bad = [r for r in records if r["label"] == "bad"]
    assert len(good) >= 500 and len(bad) >= 500
    assert sum(r["category"] == "paraphrase" for r in good) >= len(good) / 3
    assert any(r["source"].startswith("model:") for r in bad)


# Measured on the test split (see the module docstring); raise them when the guard improves. Without the
# optional embedding model the on-task check uses words only and accepts fewer strong paraphrases. Part gc4
# (2026-12-07: subtle dropped formats, options and labels, added tasks, tucked-in answers) made the split
# harder; on the earlier parts alone the guard went from 94.3% / 89.0% to 94.7% / 89.7% that day.
WITH_EMBEDDINGS = {"good_accepted": 0.94, "bad_rejected": 0.86, "category": 0.66}
WORDS_ONLY = {"good_accepted": 0.88, "bad_rejected": 0.87, "category": 0.66}


def test_rates_on_the_test_split(calibration: Any) -> None:
    from fipo_integrations.guard import similarity

    floors = WITH_EMBEDDINGS if similarity.available() else WORDS_ONLY
    result = calibration.evaluate([r for r in calibration.load_records() if r["split"] == "test"])
    assert result["good_accepted"] >= floors["good_accepted"], result["good_accepted"]
    assert result["bad_rejected"] >= floors["bad_rejected"], result["bad_rejected"]
    weak = {
        category: rate
        for (label, category), (_, rate) in result["categories"].items()
        if label == "bad" and rate < floors["category"]
    }
    assert weak == {}
