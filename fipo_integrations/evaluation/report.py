"""The evaluation report: accuracy with Wilson 95% CIs, paired differences against the naive prompts with the
exact McNemar test, and the weighted average over benchmarks as in the paper (weights = test-set sizes).

Written as ``report.json`` (everything), ``report.md`` (one table per testing model) and ``report.png``
(grouped bars with the CIs as error bars; needs matplotlib, the ``eval`` extra).

>>> report = build_report(
...     benchmarks=[("gsm8k", 100, 4, "data/gsm8k")],
...     models=[("m", "m")], sources=[("naive", None), ("default", "default")],
...     outcomes={("gsm8k", "m", "naive"): [True, False, False, True],
...               ("gsm8k", "m", "default"): [True, True, True, False]})
>>> row = report["results"][1]
>>> row["source"], row["accuracy"], row["vs_naive"]["difference"], row["vs_naive"]["p_value"]
('default', 0.75, 0.25, 1.0)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._deps import MissingDependencyError, require
from .stats import paired_difference, weighted_average, wilson_interval

__all__ = ["build_report", "render_chart", "render_markdown", "write_outputs"]

logger = logging.getLogger(__name__)

DISPLAY_NAMES = {"gsm8k": "GSM8K", "bbh": "BBH", "piqa": "PiQA", "cosmosqa": "CosmosQA", "mmlu": "MMLU"}
WEIGHTED = "weighted average"


def build_report(
    *,
    benchmarks: Sequence[tuple[str, int, int, str]],
    models: Sequence[tuple[str, str]],
    sources: Sequence[tuple[str, str | None]],
    outcomes: Mapping[tuple[str, str, str], Sequence[bool]],
    weights: str = "size",
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report dictionary.

    ``benchmarks`` are ``(name, test-set size, items scored, data source)``; ``outcomes`` maps
    ``(benchmark, model label, source label)`` to per-item correctness, in the same item order for every
    source (so the comparison with the naive source is paired). The first source is the baseline.
    """
    if not sources:
        raise ValueError("need at least one prompt source")
    baseline = sources[0][0]
    results: list[dict[str, Any]] = []
    averages: list[dict[str, Any]] = []
    for model, _ in models:
        for source, _ in sources:
            values, variances, diffs, diff_variances, bench_weights = [], [], [], [], []
            for name, size, _, _ in benchmarks:
                scores = list(outcomes[(name, model, source)])
                base = list(outcomes[(name, model, baseline)])
                n, correct = len(scores), sum(scores)
                low, high = wilson_interval(correct, n)
                accuracy = correct / n if n else 0.0
                row: dict[str, Any] = {
                    "benchmark": name,
                    "model": model,
                    "source": source,
                    "n": n,
                    "correct": correct,
                    "accuracy": accuracy,
                    "ci": [low, high],
                    "vs_naive": None,
                }
                diff = paired_difference(base, scores)
                if source != baseline:
                    row["vs_naive"] = {
                        "difference": diff.difference,
                        "ci": [diff.ci_low, diff.ci_high],
                        "gained": diff.gained,
                        "lost": diff.lost,
                        "p_value": diff.p_value,
                    }
                results.append(row)
                if n:
                    values.append(accuracy)
                    variances.append(accuracy * (1 - accuracy) / n)
                    diffs.append(diff.difference)
                    diff_variances.append(diff.variance)
                    bench_weights.append(float(size if weights == "size" else 1))
            if not values:
                continue
            average = weighted_average(values, variances, bench_weights)
            entry: dict[str, Any] = {
                "model": model,
                "source": source,
                "accuracy": average.value,
                "ci": [max(0.0, average.ci_low), min(1.0, average.ci_high)],
                "vs_naive": None,
            }
            if source != baseline:
                delta = weighted_average(diffs, diff_variances, bench_weights)
                entry["vs_naive"] = {
                    "difference": delta.value,
                    "ci": [delta.ci_low, delta.ci_high],
                    "p_value": delta.p_value,
                }
            averages.append(entry)
    return {
        "config": dict(config or {}),
        "weights": weights,
        "benchmarks": [
            {
                "name": name,
                "size": size,
                "evaluated": evaluated,
                "source": where,
                "weight": size if weights == "size" else 1,
            }
            for name, size, evaluated, where in benchmarks
        ],
        "models": [{"label": label, "key": key} for label, key in models],
        "sources": [{"label": label, "spec": spec} for label, spec in sources],
        "baseline": baseline,
        "results": results,
        "weighted_average": averages,
    }


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _acc(entry: Mapping[str, Any]) -> str:
    low, high = entry["ci"]
    return f"{_pct(entry['accuracy'])} [{_pct(low)}, {_pct(high)}]"


def _delta(entry: Mapping[str, Any]) -> tuple[str, str]:
    delta = entry["vs_naive"]
    if delta is None:
        return "", ""
    low, high = delta["ci"]
    text = f"{100 * delta['difference']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"
    p = delta["p_value"]
    return text, ("<0.001" if p < 0.001 else f"{p:.3f}")


def render_markdown(report: Mapping[str, Any]) -> str:
    """One table per testing model: accuracy (%) with 95% CI per source, Δ vs naive (points) and p."""
    sources = [source["label"] for source in report["sources"]]
    baseline = report["baseline"]
    others = [label for label in sources if label != baseline]
    weight_note = "test-set sizes" if report["weights"] == "size" else "equal"
    lines = [
        "# FIPO evaluation",
        "",
        f"Accuracy in % with Wilson 95% CI; Δ = optimized − {baseline} in points with a paired 95% CI; "
        f"p = exact McNemar test (weighted average: normal approximation). Weights: {weight_note}.",
    ]
    header = ["Benchmark", "n", "weight", f"{baseline}"]
    for label in others:
        header += [label, f"Δ {label}", "p"]
    for model in report["models"]:
        label = model["label"]
        lines += ["", f"## {label}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for bench in report["benchmarks"]:
            rows = {
                row["source"]: row
                for row in report["results"]
                if row["model"] == label and row["benchmark"] == bench["name"]
            }
            cells = [DISPLAY_NAMES.get(bench["name"], bench["name"]), str(rows[baseline]["n"]), str(bench["weight"])]
            cells.append(_acc(rows[baseline]))
            for source in others:
                cells += [_acc(rows[source]), *_delta(rows[source])]
            lines.append("| " + " | ".join(cells) + " |")
        averages = {entry["source"]: entry for entry in report["weighted_average"] if entry["model"] == label}
        if baseline in averages:
            cells = ["**Weighted avg**", "", "", _acc(averages[baseline])]
            for source in others:
                cells += [_acc(averages[source]), *_delta(averages[source])]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_chart(report: Mapping[str, Any], path: str | Path) -> Path:
    """Grouped bar chart (one panel per testing model, one bar per prompt source, CI error bars) as PNG."""
    matplotlib = require("matplotlib", feature="the evaluation chart")
    matplotlib.use("Agg")
    pyplot = require("matplotlib.pyplot", feature="the evaluation chart")
    models = [model["label"] for model in report["models"]]
    sources = [source["label"] for source in report["sources"]]
    names = [bench["name"] for bench in report["benchmarks"]]
    groups = [DISPLAY_NAMES.get(name, name) for name in names] + ["Weighted avg"]
    width = 0.8 / max(1, len(sources))
    figure, axes = pyplot.subplots(
        1, len(models), figsize=(max(6.0, 1.3 * len(groups)) * len(models), 4.2), squeeze=False, sharey=True
    )
    for axis, model in zip(axes[0], models, strict=True):
        for position, source in enumerate(sources):
            entries = [
                next(r for r in report["results"] if (r["model"], r["source"], r["benchmark"]) == (model, source, name))
                for name in names
            ]
            average = [e for e in report["weighted_average"] if (e["model"], e["source"]) == (model, source)]
            entries += average
            heights = [100 * entry["accuracy"] for entry in entries]
            errors = [
                [max(0.0, 100 * (entry["accuracy"] - entry["ci"][0])) for entry in entries],
                [max(0.0, 100 * (entry["ci"][1] - entry["accuracy"])) for entry in entries],
            ]
            xs = [index + (position - (len(sources) - 1) / 2) * width for index in range(len(entries))]
            axis.bar(xs, heights, width, yerr=errors, capsize=3, label=source)
        axis.set_title(model)
        axis.set_xticks(range(len(groups)))
        axis.set_xticklabels(groups, rotation=20)
        axis.set_ylim(0, 100)
        axis.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][-1].legend(title="prompt")
    figure.tight_layout()
    target = Path(path)
    figure.savefig(target, dpi=120)
    pyplot.close(figure)
    return target


def write_outputs(report: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """Write ``report.json``, ``report.md`` and ``report.png`` (skipped with a warning without matplotlib)."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(report)
    paths = {
        "json": str(directory / "report.json"),
        "markdown": str(directory / "report.md"),
        "chart": None,
        "instructions": str(directory / "instructions.json"),
        "results": str(directory / "results.jsonl"),
    }
    try:
        paths["chart"] = str(render_chart(report, directory / "report.png"))
    except MissingDependencyError as exc:
        logger.warning("no chart: %s", exc)
    report = {**report, "paths": paths}
    (directory / "report.md").write_text(markdown, encoding="utf-8")
    (directory / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {**report, "markdown": markdown}
