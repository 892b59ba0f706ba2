"""How an optimizer's guard treats the evaluation instructions: accepted, changed, and what was added.

Loads the dev splits' task instructions as ``fipo eval`` does (every task, or with ``--limit`` only the tasks of
that draw, the same draw as ``fipo eval --limit N --seed S``), rewrites each distinct instruction once with each
``--optimizer`` and prints one row per instruction and a summary row per optimizer:

    python benchmarks/eval_instructions.py --data-dir ../shared/data --limit 28 --optimizer default \\
        --optimizer new=fipo_integrations/adapters/fipo-qwen2.5-coder-0.5b

An optimizer is ``[LABEL=]SPEC`` as in ``fipo eval`` (``default``, a model or adapter directory, ``embedded:NAME``).
"Accepted" is the guard's verdict (an unchanged instruction the guard accepted counts: the optimizer judged it
complete); "changed" counts instructions whose final text differs from the naive one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ("gsm8k", "bbh", "piqa", "cosmosqa", "mmlu")


def instructions(data_dir: Path, benchmarks: list[str], limit: int | None, seed: int) -> list[tuple[str, str]]:
    """``(benchmark/task, instruction)`` for every task used (all tasks without ``limit``), sorted as fipo eval."""
    from fipo_integrations.evaluation.data import select_items
    from fipo_integrations.evaluation.loaders import load_benchmark

    found: dict[tuple[str, str], str] = {}
    for name in benchmarks:
        data = load_benchmark(name, data_dir)
        tasks = {task.task: task for task in data.tasks}
        used = {item.task for item in select_items(data, limit, seed)} if limit else set(tasks)
        for task in sorted(used):
            found[(name, task)] = tasks[task].instruction
    return [(f"{bench}/{task}", text) for (bench, task), text in sorted(found.items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--benchmark", action="append", choices=BENCHMARKS, help="default: all five")
    parser.add_argument("--limit", type=int, default=None, help="only the tasks of fipo eval's --limit draw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimizer", action="append", required=True, metavar="[LABEL=]SPEC")
    parser.add_argument("--json", type=Path, help="also write every rewrite here")
    args = parser.parse_args(argv)
    from fipo_integrations.evaluation.optimizers import optimize_instructions, parse_sources

    rows = instructions(args.data_dir, args.benchmark or list(BENCHMARKS), args.limit, args.seed)
    texts = [text for _, text in rows]
    sources = [source for source in parse_sources(args.optimizer) if not source.naive]
    summary: list[str] = []
    dump: dict[str, list[dict[str, object]]] = {}
    for source in sources:
        rewrites = optimize_instructions(source, texts, cache=False)
        print(f"\n## {source.label}\n\n| task | accepted | added or why kept |\n|---|---|---|")
        accepted = changed = 0
        dump[source.label] = []
        for name, text in rows:
            rewrite = rewrites[text]
            added = rewrite.optimized[len(text) :].strip() if rewrite.optimized.startswith(text) else rewrite.optimized
            accepted += rewrite.accepted
            changed += rewrite.optimized != text
            shown = added if rewrite.optimized != text else (rewrite.reason or "unchanged")
            print(f"| {name} | {'yes' if rewrite.accepted else 'no'} | {shown[:90].replace('|', '/')} |")
            dump[source.label].append({"task": name, **rewrite.to_dict()})
        summary.append(f"| {source.label} | {len(rows)} | {accepted} ({accepted / len(rows):.0%}) | {changed} |")
    print("\n| optimizer | instructions | accepted | changed |\n|---|---|---|---|")
    print("\n".join(summary))
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
