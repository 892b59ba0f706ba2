"""The guard and one or more optimizers on the held-out split of the POP seed dataset.

For each optimizer (``none`` = the gold chosen prompts of the dataset, ``base`` = embedded SmolLM2 with the
template and no adapter, a directory = a merged model, ``adapter:DIR`` = SmolLM2 + that LoRA adapter,
``default`` = what ``PromptOptimizer()`` loads) prints: how often the guard fell back to the original, how
often the raw model rewrite kept every placeholder, mean words, and seconds per prompt. The first rows show
the guard on the dataset's own chosen (should pass) and rejected (should often fail) prompts.

    python benchmarks/seed_heldout.py --optimizer base --optimizer adapter:fipo_integrations/adapters/fipo-smollm2-135m
    python benchmarks/seed_heldout.py --optimizer base --dump rewrites.jsonl   # keep every rewrite
    python benchmarks/seed_heldout.py --rescore rewrites.jsonl                 # re-apply today's guard, no model

``--rescore`` applies the current guard to rewrites saved with ``--dump`` (after a guard change, without
generating again); seconds per prompt are then left out.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = Path(__file__).resolve().parents[1] / "training" / "data" / "pop-seed"


def _load(split: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (SEED / f"{split}.jsonl").read_text().splitlines() if line.strip()]


@dataclass
class _Outcome:
    """What the summary needs of one rewrite (an OptimizationResult, or a rescored dump line)."""

    candidate: str
    optimized: str
    accepted: bool
    reason: str | None
    original_text: str
    guard_reasons: list[Any]

    @property
    def fell_back(self) -> bool:
        return not self.accepted  # as OptimizationResult.fell_back


def _rescored(path: Path) -> dict[str, list[tuple[str, _Outcome]]]:
    """Dumped rewrites per optimizer, with the current guard's verdicts: ``{spec: [(record id, outcome)]}``."""
    from fipo_integrations.guard import check_rewrite

    grouped: dict[str, list[tuple[str, _Outcome]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        saved = json.loads(line)
        candidate = saved.get("candidate") or ""
        verdict = check_rewrite(saved["original"], candidate, max_words=saved.get("max_words"))
        outcome = _Outcome(
            candidate=candidate,
            optimized=candidate if verdict.accepted else saved["original"],
            accepted=verdict.accepted,
            reason=None if verdict.accepted else f"guard: {verdict.reason}",
            original_text=saved["original"],
            guard_reasons=list(verdict.reasons),
        )
        grouped.setdefault(saved["optimizer"], []).append((saved["id"], outcome))
    return grouped


def _summary(spec: str, records: list[dict[str, str]], results: list[Any], seconds: float | None) -> dict[str, Any]:
    from fipo_integrations.guard import extract_placeholders

    templated = [(r, res) for r, res in zip(records, results, strict=True) if extract_placeholders(r["raw_prompt"])]
    kept_raw = sum(
        all(token in extract_placeholders(res.candidate or "") for token in extract_placeholders(r["raw_prompt"]))
        for r, res in templated
    )
    kept_final = all(
        all(t in extract_placeholders(res.optimized) for t in extract_placeholders(r["raw_prompt"]))
        for r, res in templated
    )
    row: dict[str, Any] = {
        "optimizer": spec,
        "n": len(records),
        "guard_accepts": sum(res.accepted for res in results) / len(results),
        "fallback_rate": sum(res.fell_back for res in results) / len(results),
        "raw_rewrites_keeping_placeholders": f"{kept_raw}/{len(templated)}",
        "final_prompts_keeping_placeholders": f"{len(templated)}/{len(templated)}" if kept_final else "LOST",
        "mean_words": sum(len(res.optimized.split()) for res in results) / len(results),
    }
    if seconds is not None:
        row["seconds_per_prompt"] = seconds / len(results)
    reasons: dict[str, int] = {}
    for res in results:
        # Guard rejections carry structured reasons; a judge verdict or an error is counted as one kind.
        codes = {r.code for r in getattr(res, "guard_reasons", [])}
        if not codes and res.reason:
            codes = {"judge" if "judge" in res.reason else "error"}
        for key in codes:
            reasons[key] = reasons.get(key, 0) + 1
    row["top_fallback_reasons"] = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:4])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--optimizer", action="append", default=[], help="base | default | DIR | adapter:DIR")
    parser.add_argument("--split", default="heldout", choices=["heldout", "train"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--dump", type=Path, default=None, help="write every rewrite and verdict here (JSONL)")
    parser.add_argument("--rescore", type=Path, default=None, help="re-apply the guard to a --dump file")
    args = parser.parse_args()

    from fipo_integrations import PromptOptimizer
    from fipo_integrations.guard import check_rewrite
    from fipo_integrations.templates import default_max_words

    records = _load(args.split)[: args.limit]
    rows: list[dict[str, object]] = []
    for field, label in (
        ("gpt4_optimized_prompt", "dataset chosen prompts"),
        ("chatgpt_optimized_prompt", "dataset rejected prompts"),
    ):
        accepted = sum(
            check_rewrite(r["raw_prompt"], r[field], max_words=default_max_words(r["raw_prompt"])).accepted
            for r in records
        )
        rows.append({"optimizer": label, "n": len(records), "guard_accepts": accepted / len(records)})

    for spec in args.optimizer:
        if spec == "base":
            optimizer = PromptOptimizer(
                "embedded:smollm2-135m-instruct", cache=False, max_new_tokens=args.max_new_tokens
            )
        elif spec == "default":
            optimizer = PromptOptimizer(cache=False, max_new_tokens=args.max_new_tokens)
        elif spec.startswith("adapter:"):
            optimizer = PromptOptimizer(
                "embedded:smollm2-135m-instruct",
                adapter=spec.split(":", 1)[1],
                cache=False,
                max_new_tokens=args.max_new_tokens,
            )
        else:
            optimizer = PromptOptimizer(spec, cache=False, max_new_tokens=args.max_new_tokens)
        started = time.perf_counter()
        results = optimizer.optimize_batch([r["raw_prompt"] for r in records])
        seconds = time.perf_counter() - started
        if args.dump is not None:
            with args.dump.open("a", encoding="utf-8") as handle:
                for record, result in zip(records, results, strict=True):
                    handle.write(json.dumps({"optimizer": spec, "id": record["id"], **result.to_dict()}) + "\n")
        rows.append(_summary(spec, records, results, seconds))

    if args.rescore is not None:
        by_id = {r["id"]: r for r in records}
        for spec, saved in _rescored(args.rescore).items():
            known = [(by_id[record_id], outcome) for record_id, outcome in saved if record_id in by_id]
            rows.append(_summary(f"{spec} (rescored)", [r for r, _ in known], [o for _, o in known], None))

    columns = list(dict.fromkeys(key for row in rows for key in row))
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        cells = [f"{row[c]:.2f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
