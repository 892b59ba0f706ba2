"""Build the optimizer's bundled pool of worked examples (``fipo_integrations/data/exemplars.jsonl``).

From the POP seed records written for this project (``source`` ``fipo-integrations-authored``: nothing from an
evaluation benchmark, a benchmark's training split or a public prompt collection), keep the pairs a small
model should imitate: a short naive prompt, a chosen rewrite that is concise (at most ``1.6 x`` the prompt's
words + 30) and that the guard accepts, without few-shot blocks (the runtime rewrites instructions, not
their examples). The result is deterministic.

    python -m training.build_exemplars            # rewrite the bundled file
    python -m training.build_exemplars --check    # exit 1 if the bundled file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fipo_integrations.exemplars import BUNDLED_EXEMPLARS
from fipo_integrations.guard import check_rewrite

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    ROOT / "training" / "data" / "pop-seed" / "train.jsonl",
    *sorted((ROOT / "training" / "data" / "pop-seed-v2" / "parts").glob("*.jsonl")),
]
AUTHORED = "fipo-integrations-authored"


def keep(row: dict[str, str]) -> bool:
    """Whether a POP record makes a good worked example (see the module docstring)."""
    raw, chosen = row["raw_prompt"], row["gpt4_optimized_prompt"]
    raw_words, chosen_words = len(raw.split()), len(chosen.split())
    if row.get("source") != AUTHORED or not 4 <= raw_words <= 80 or chosen_words > 1.6 * raw_words + 30:
        return False
    if raw.count("\nQ:") + raw.count("\nInput:") >= 2 or chosen.strip() == raw.strip():
        return False  # a few-shot block, or a no-op
    return check_rewrite(raw, chosen).accepted


def build() -> list[dict[str, str]]:
    rows = []
    for path in SOURCES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if keep(record):
                    rows.append(
                        {
                            "id": record["id"],
                            "task_kind": record.get("task_kind", ""),
                            "prompt": record["raw_prompt"],
                            "rewrite": record["gpt4_optimized_prompt"],
                            "license": record.get("license", "Apache-2.0"),
                        }
                    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the bundled file is up to date")
    parser.add_argument("--out", type=Path, default=BUNDLED_EXEMPLARS)
    args = parser.parse_args(argv)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in build())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date: run python -m training.build_exemplars", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"{text.count(chr(10))} worked examples written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
