"""The guard on its labelled calibration set: acceptance of good rewrites, rejection of bad ones.

The set (``benchmarks/data/guard-calibration/*.jsonl``) is split deterministically by a hash of the
``original`` text, so one original never lands on both sides: about 60% ``tune`` (the only part the
guard's rules and thresholds were fitted on) and 40% ``test`` (reported, never tuned on). Per split it
prints, per category, how many records there are and the share the guard got right (accepted for good,
rejected for bad), the overall rates, and the cost per rewrite.

    python benchmarks/guard_calibration.py                  # both splits
    python benchmarks/guard_calibration.py --split tune --errors 30   # show mistakes on the tune split
    FIPO_GUARD_EMBEDDINGS=0 python benchmarks/guard_calibration.py    # words only (no embedding model)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data" / "guard-calibration"
TUNE_SHARE = 60  # percent of originals in the tune split


def split_of(original: str) -> str:
    """``"tune"`` or ``"test"``, from a hash of the whitespace-normalised original."""
    digest = hashlib.sha256(" ".join(original.split()).encode("utf-8")).hexdigest()
    return "tune" if int(digest[:8], 16) % 100 < TUNE_SHARE else "test"


def load_records(data_dir: Path = DATA_DIR) -> list[dict[str, Any]]:
    records = []
    for path in sorted(data_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                record["split"] = split_of(record["original"])
                records.append(record)
    return records


def evaluate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Verdict per record plus rates per category and overall; ``ms`` is the guard's cost per rewrite."""
    from fipo_integrations.guard import check_rewrite

    check_rewrite("Warm up the guard {x}.", "Warm up the guard now {x}.")  # loads the embedding model once
    rows = []
    times = []
    for record in records:
        started = time.perf_counter()
        verdict = check_rewrite(
            record["original"],
            record["rewrite"],
            silver_response=record.get("silver_response"),
            golden_response=record.get("golden_response"),
        )
        times.append((time.perf_counter() - started) * 1000)
        correct = verdict.accepted if record["label"] == "good" else not verdict.accepted
        rows.append({**record, "accepted": verdict.accepted, "correct": correct, "reason": verdict.reason})
    by_category: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for row in rows:
        by_category[(row["label"], row["category"])].append(row["correct"])
    good = [r["correct"] for r in rows if r["label"] == "good"]
    bad = [r["correct"] for r in rows if r["label"] == "bad"]
    return {
        "rows": rows,
        "categories": {key: (len(v), sum(v) / len(v)) for key, v in sorted(by_category.items())},
        "good_accepted": sum(good) / len(good) if good else float("nan"),
        "bad_rejected": sum(bad) / len(bad) if bad else float("nan"),
        "n_good": len(good),
        "n_bad": len(bad),
        "ms_mean": statistics.fmean(times) if times else 0.0,
        "ms_p95": sorted(times)[int(0.95 * (len(times) - 1))] if times else 0.0,
    }


def print_report(name: str, result: dict[str, Any]) -> None:
    print(f"\n== {name}: {result['n_good']} good, {result['n_bad']} bad ==")
    print(f"{'label':<5} {'category':<22} {'n':>4}  {'right':>6}")
    for (label, category), (n, rate) in result["categories"].items():
        what = "accepted" if label == "good" else "rejected"
        print(f"{label:<5} {category:<22} {n:>4}  {rate:>6.1%} {what}")
    print(f"good accepted: {result['good_accepted']:.1%}   bad rejected: {result['bad_rejected']:.1%}")
    bad_rates = [(rate, cat) for (label, cat), (_, rate) in result["categories"].items() if label == "bad"]
    if bad_rates:
        worst = min(bad_rates)
        print(f"weakest bad category: {worst[1]} {worst[0]:.1%}")
    print(f"cost per rewrite: {result['ms_mean']:.1f} ms mean, {result['ms_p95']:.1f} ms p95")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["tune", "test", "all", "both"], default="both")
    parser.add_argument("--errors", type=int, default=0, help="print up to N mistakes per split")
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    records = load_records(args.data)
    splits = {"both": ["tune", "test"], "all": ["all"]}.get(args.split, [args.split])
    for split in splits:
        chosen = records if split == "all" else [r for r in records if r["split"] == split]
        if not chosen:
            print(f"{split}: no records")
            continue
        result = evaluate(chosen)
        print_report(split, result)
        mistakes = [row for row in result["rows"] if not row["correct"]]
        for row in mistakes[: args.errors]:
            print(f"\n[{row['id']}] {row['label']}/{row['category']} -> {row['reason']}")
            print(f"  O: {row['original'][:300]!r}")
            print(f"  R: {row['rewrite'][:300]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
