"""A blind side-by-side read of rewrites of real user prompts the optimizer never trained on.

Step 1 draws ``--n`` prompts from the real user prompts in ``--prompts-dir`` (Dolly, Self-Instruct and Vicuna
evaluation prompts; ``../shared/data/prompts``), leaving out every prompt whose instruction appears in the
training data (POP seed v1 and v2) or in the guard's calibration sets, rewrites each with the optimizer, and
writes to ``--out``:

* ``rewrites.jsonl``: every prompt with the candidate, the final prompt, the guard's verdict and the time;
* ``blind.jsonl``: for each pair whose final prompt differs from the original, the two texts as ``first`` and
  ``second`` in a seeded random order (what the reader sees: nothing says which is the original);
* ``key.jsonl``: which of the two is the original (kept apart from the reader).

A reader (a person, or a reviewer who sees only ``blind.jsonl``) writes ``verdicts.jsonl``: one line
``{"id": ..., "better": "first" | "second" | "same", "note": "..."}`` per blind pair. Step 2 unblinds them:

    python benchmarks/blind_read.py draw --prompts-dir ../shared/data/prompts --n 40 --out runs/blind
    python benchmarks/blind_read.py score --out runs/blind     # reads runs/blind/verdicts.jsonl

and prints, for the final prompts (what a user gets), how many are better, the same or worse than the
original. Pairs where the guard kept the original count as "same" without being read.

To compare optimizers under one reader, draw the same prompts with each (``--ids`` names them; the ids of the
draws in docs/default-model.md are in ``benchmarks/data/blind-draws/``), then mix them into one blind file (opaque
ids, random order, a pair two optimizers both wrote is read once) and score per optimizer:

    python benchmarks/blind_read.py draw --ids benchmarks/data/blind-draws/fresh-5.txt --include-heldout --out runs/a
    python benchmarks/blind_read.py mix --out runs/ab --draw old=runs/a --draw new=runs/b   # give the reader
    # benchmarks/data/blind-draws/reviewer-brief.md and runs/ab/blind.jsonl, nothing else
    python benchmarks/blind_read.py score --out runs/ab      # reads runs/ab/verdicts.jsonl

``--include-heldout`` adds the held-out split of POP seed v1 (never trained on) to the pool, as ids
``pop-heldout/<record id>``; ``--prompts-file`` adds prompts written for a read (JSONL ``{"id", "prompt"}``, e.g.
``benchmarks/data/blind-draws/authored-6.jsonl``, written by a helper who saw no training data).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "training" / "data" / "pop-seed" / "heldout.jsonl"
TRAINING_DATA = [
    ROOT / "training" / "data" / "pop-seed" / "train.jsonl",
    HELDOUT,
    *sorted((ROOT / "training" / "data" / "pop-seed-v2" / "parts").glob("*.jsonl")),
]
CALIBRATION = sorted((ROOT / "benchmarks" / "data" / "guard-calibration").glob("*.jsonl"))


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _seen_texts() -> list[str]:
    seen: list[str] = []
    for path in [*TRAINING_DATA, *CALIBRATION]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                seen.extend(_norm(str(row.get(key, ""))) for key in ("raw_prompt", "original") if row.get(key))
    return seen


def load_prompts(folder: Path) -> list[dict[str, str]]:
    """Every prompt in ``folder`` as ``{"id", "source", "instruction", "prompt"}`` (instruction + its input)."""
    prompts: list[dict[str, str]] = []
    for name in ("dolly_eval.json", "self_instruct_eval.json"):
        path = folder / name
        if path.is_file():
            for index, row in enumerate(json.loads(path.read_text(encoding="utf-8"))):
                instruction = str(row.get("instruction", "")).strip()
                context = str(row.get("context", "") or "").strip()
                text = instruction + ("\n\n" + context if context else "")
                prompts.append(
                    {"id": f"{path.stem}/{index}", "source": path.stem, "instruction": instruction, "prompt": text}
                )
    vicuna = folder / "vicuna_eval.jsonl"
    if vicuna.is_file():
        for line in vicuna.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                text = str(row.get("text", "")).strip()
                prompts.append(
                    {"id": f"vicuna/{row.get('question_id')}", "source": "vicuna", "instruction": text, "prompt": text}
                )
    return [p for p in prompts if p["instruction"]]


def heldout_prompts() -> list[dict[str, str]]:
    """The raw prompts of POP seed v1's held-out split: written for the seed, never in a training run."""
    return [
        {
            "id": f"pop-heldout/{row['id']}",
            "source": "pop-heldout",
            "instruction": row["raw_prompt"],
            "prompt": row["raw_prompt"],
        }
        for row in _read(HELDOUT)
    ]


def file_prompts(paths: list[Path]) -> list[dict[str, str]]:
    """Prompts from JSONL files of ``{"id", "prompt"}`` lines (source: the file's stem)."""
    return [
        {"id": str(row["id"]), "source": path.stem, "instruction": str(row["prompt"]), "prompt": str(row["prompt"])}
        for path in paths
        for row in _read(path)
    ]


def unseen(prompts: list[dict[str, str]]) -> list[dict[str, str]]:
    """The prompts whose instruction appears nowhere in the training or calibration data."""
    seen = _seen_texts()
    blob = "\n".join(seen)
    return [p for p in prompts if _norm(p["instruction"]) not in blob]


def draw(args: argparse.Namespace) -> int:
    from fipo_integrations import PromptOptimizer
    from fipo_integrations.guard import GuardConfig

    drawn_before = {row["id"] for path in args.exclude for row in _read(path / "rewrites.jsonl")}
    pool = (heldout_prompts() if args.include_heldout else []) + file_prompts(args.prompts_file)
    pool += unseen(load_prompts(args.prompts_dir))
    rng = random.Random(args.seed)
    if args.ids is not None:
        by_id = {p["id"]: p for p in pool}
        wanted = [line.strip() for line in args.ids.read_text(encoding="utf-8").splitlines() if line.strip()]
        missing = [i for i in wanted if i not in by_id]
        if missing:
            print(f"{len(missing)} ids of {args.ids} are not in the pool, e.g. {missing[:3]}", file=sys.stderr)
            return 2
        chosen = [by_id[i] for i in wanted]
    else:
        candidates = [p for p in pool if len(p["prompt"].split()) <= args.max_words and p["id"] not in drawn_before]
        chosen = rng.sample(candidates, min(args.n, len(candidates)))
        print(
            f"{len(candidates)} unseen prompts of at most {args.max_words} words; drew {len(chosen)}", file=sys.stderr
        )
    model = None if args.optimizer == "default" else args.optimizer
    guard = GuardConfig(scope=args.scope) if args.scope else None  # None: the optimizer's own default scope
    optimizer = PromptOptimizer(
        model, cache=False, exemplars=args.exemplars, guard=guard, stop_probability=args.stop_probability
    )
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    try:
        from tqdm import tqdm

        progress: Any = tqdm(chosen, desc="rewriting", unit="prompt")
    except ImportError:  # pragma: no cover
        progress = chosen
    for prompt in progress:
        started = time.perf_counter()
        result = optimizer.optimize(prompt["prompt"])
        rows.append(
            {
                **prompt,
                "candidate": result.candidate,
                "final": result.optimized,
                "accepted": result.accepted,
                "reason": result.reason,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    _write(args.out / "rewrites.jsonl", rows)
    blind, key = [], []
    for row in rows:
        if row["final"].strip() == row["prompt"].strip():
            continue
        original_first = rng.random() < 0.5
        first, second = (row["prompt"], row["final"]) if original_first else (row["final"], row["prompt"])
        blind.append({"id": row["id"], "first": first, "second": second})
        key.append({"id": row["id"], "original": "first" if original_first else "second"})
    _write(args.out / "blind.jsonl", blind)
    _write(args.out / "key.jsonl", key)
    accepted = sum(row["accepted"] for row in rows)
    seconds = sum(row["seconds"] for row in rows) / max(1, len(rows))
    where = args.out / "blind.jsonl"
    print(f"accepted {accepted}/{len(rows)}; {len(blind)} pairs to read in {where}; {seconds:.1f} s/prompt")
    return 0


def mix(args: argparse.Namespace) -> int:
    """One blind file for several draws of the same prompts: opaque ids, random order, identical pairs once."""
    rng = random.Random(args.seed)
    pairs: dict[tuple[str, str], str] = {}
    members = []
    for spec in args.draw:
        name, _, folder = spec.partition("=")
        if not name or not folder:
            print(f"--draw {spec!r}: expected NAME=DIR", file=sys.stderr)
            return 2
        for row in _read(Path(folder) / "rewrites.jsonl"):
            final = row["final"] if row["accepted"] else row["prompt"]
            pair = None
            if final.strip() != row["prompt"].strip():
                text = json.dumps([row["prompt"], final])
                pair = pairs.setdefault((row["prompt"], final), hashlib.sha256(text.encode()).hexdigest()[:10])
            members.append({"draw": name, "prompt_id": row["id"], "pair": pair})
    blind, key = [], []
    items = sorted(pairs.items(), key=lambda item: item[1])
    rng.shuffle(items)
    for (prompt, final), pair_id in items:
        original_first = rng.random() < 0.5
        first, second = (prompt, final) if original_first else (final, prompt)
        blind.append({"id": pair_id, "first": first, "second": second})
        key.append({"id": pair_id, "original": "first" if original_first else "second"})
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "blind.jsonl", blind)
    _write(args.out / "key.jsonl", key)
    _write(args.out / "members.jsonl", members)
    print(f"{len(blind)} pairs to read in {args.out / 'blind.jsonl'}")
    return 0


def _verdicts(folder: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]] | None:
    key = {row["id"]: row["original"] for row in _read(folder / "key.jsonl")}
    verdicts = {row["id"]: row for row in _read(folder / "verdicts.jsonl")}
    missing = sorted(set(key) - set(verdicts))
    if missing:
        print(f"verdicts.jsonl lacks {len(missing)} of the {len(key)} blind pairs, e.g. {missing[:3]}", file=sys.stderr)
        return None
    bad = [v for v in verdicts.values() if v.get("better") not in ("first", "second", "same")]
    if bad:
        print(
            f"{bad[0].get('id')}: 'better' must be first, second or same, got {bad[0].get('better')!r}", file=sys.stderr
        )
        return None
    return key, verdicts


def _score_mixed(args: argparse.Namespace) -> int:
    read = _verdicts(args.out)
    if read is None:
        return 2
    key, verdicts = read
    table: dict[str, dict[str, int]] = {}
    for member in _read(args.out / "members.jsonl"):
        counts = table.setdefault(member["draw"], {"prompts": 0, "changed": 0, "better": 0, "same": 0, "worse": 0})
        counts["prompts"] += 1
        pair = member["pair"]
        if pair is None:
            counts["same"] += 1
            continue
        counts["changed"] += 1
        better = verdicts[pair]["better"]
        counts["same" if better == "same" else "worse" if better == key[pair] else "better"] += 1
    print("| draw | prompts | changed | better | same | worse |")
    print("|---|---|---|---|---|---|")
    for name, c in table.items():
        n = c["prompts"]
        print(
            f"| {name} | {n} | {c['changed']} | {c['better']} ({100 * c['better'] / n:.0f}%) | {c['same']} | "
            f"{c['worse']} ({100 * c['worse'] / n:.1f}%) |"
        )
    return 0


def score(args: argparse.Namespace) -> int:
    if (args.out / "members.jsonl").is_file():
        return _score_mixed(args)
    rows = _read(args.out / "rewrites.jsonl")
    read = _verdicts(args.out)
    if read is None:
        return 2
    key, verdicts = read
    if args.scope != "free":
        rows = _narrow(rows, args.scope)
    counts = {"better": 0, "same": 0, "worse": 0}
    for row in rows:
        if row["id"] not in key or not row["accepted"]:
            counts["same"] += 1  # the guard kept the original
            continue
        better = verdicts[row["id"]]["better"]
        counts["same" if better == "same" else "worse" if better == key[row["id"]] else "better"] += 1
    total = len(rows)
    accepted = sum(row["accepted"] for row in rows)
    print("| prompts | accepted | read blind | better | same | worse |")
    print("|---|---|---|---|---|---|")
    share = {name: f"{count} ({100 * count / total:.0f}%)" for name, count in counts.items()}
    print(f"| {total} | {accepted} | {len(key)} | {share['better']} | {share['same']} | {share['worse']} |")
    return 0


def _narrow(rows: list[dict[str, Any]], scope: str) -> list[dict[str, Any]]:
    """The rows as a stricter guard scope would have left them: what it rejects keeps the original."""
    from fipo_integrations.guard import GuardConfig, check_rewrite

    narrowed = []
    for row in rows:
        if row["accepted"] and not check_rewrite(row["prompt"], row["final"], config=GuardConfig(scope=scope)).accepted:
            row = {**row, "accepted": False, "final": row["prompt"]}
        narrowed.append(row)
    return narrowed


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("draw", help="draw unseen prompts, rewrite them, write the blind pairs")
    d.add_argument("--prompts-dir", type=Path, default=ROOT.parent / "shared" / "data" / "prompts")
    d.add_argument("--n", type=int, default=40)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--max-words", type=int, default=150, help="leave out longer prompts (time)")
    d.add_argument("--optimizer", default="default", help="a model spec for PromptOptimizer (default: the default)")
    d.add_argument("--exemplars", choices=["bundled"], help="show the bundled worked examples before each prompt")
    d.add_argument(
        "--exclude",
        type=Path,
        nargs="*",
        default=[],
        help="output folders of earlier draws whose prompts to leave out (a read fresh to what was tuned on)",
    )
    d.add_argument("--scope", choices=["free", "append"], help="the guard's scope (default: the optimizer's own)")
    d.add_argument(
        "--stop-probability",
        type=float,
        help="add nothing when the probability of adding nothing is at least this (default: the optimizer's own; "
        "1.0: off)",
    )
    d.add_argument("--ids", type=Path, help="a file of prompt ids, one a line: rewrite exactly these (no draw)")
    d.add_argument(
        "--include-heldout", action="store_true", help="add POP seed v1's held-out prompts (never trained on)"
    )
    d.add_argument(
        "--prompts-file",
        type=Path,
        action="append",
        default=[],
        help='add the prompts of a JSONL file of {"id", "prompt"} lines to the pool (repeatable)',
    )
    d.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("mix", help="one blind file for several draws of the same prompts")
    m.add_argument("--draw", action="append", required=True, metavar="NAME=DIR", help="a draw's output folder")
    m.add_argument("--seed", type=int, default=7)
    m.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("score", help="unblind verdicts.jsonl and print the counts")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument(
        "--scope",
        choices=["free", "append"],
        default="free",
        help="score as if the guard had had this scope: pairs it rejects count as the original kept (same)",
    )
    args = parser.parse_args(argv)
    return {"draw": draw, "mix": mix, "score": score}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
