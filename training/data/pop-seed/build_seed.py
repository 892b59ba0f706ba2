"""Build the POP seed dataset from its authored parts.

The parts (``parts/*.jsonl``) hold hand-written records in the POP schema with an empty weak response.
This script fills ``text003_response_based_raw`` with what the embedded SmolLM2-135M-Instruct actually
answers to each raw prompt (greedy, batched; resumable through ``weak_responses.jsonl``), then writes
``train.jsonl`` and ``heldout.jsonl`` (a fixed 10% split by a hash of the id).

    python training/data/pop-seed/build_seed.py            # fill missing weak responses, write the splits
    python training/data/pop-seed/build_seed.py --no-generate   # only re-split (fails if responses missing)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WEAK_FIELD = "text003_response_based_raw"
HELDOUT_PERCENT = 10


def is_heldout(record_id: str) -> bool:
    """The fixed 10% held-out split: a record is held out when its id hashes into the first 10 buckets."""
    return int(hashlib.sha256(record_id.encode("utf-8")).hexdigest(), 16) % 100 < HELDOUT_PERCENT


def load_parts(parts_dir: Path) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    for path in sorted(parts_dir.glob("*.jsonl")):
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SystemExit(f"{path}:{line_number}: not valid JSON ({exc.msg})") from exc
    return records


def prompt_key(record: dict[str, str]) -> str:
    """Weak responses are keyed by id and raw prompt, so an edited prompt gets a fresh response."""
    digest = hashlib.sha256(record["raw_prompt"].encode("utf-8")).hexdigest()[:16]
    return f"{record['id']}:{digest}"


def load_weak(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    weak: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            weak[item["key"]] = item["response"]
    return weak


def generate_weak(records: list[dict[str, str]], weak_path: Path, batch_size: int, max_new_tokens: int) -> None:
    from tqdm.auto import tqdm

    from fipo_integrations.backends import GenerationParams
    from fipo_integrations.backends.hf import TransformersBackend

    done = load_weak(weak_path)
    todo = [r for r in records if prompt_key(r) not in done]
    if not todo:
        return
    backend = TransformersBackend("embedded:smollm2-135m-instruct", batch_size=batch_size)
    params = GenerationParams(max_new_tokens=max_new_tokens)
    with weak_path.open("a", encoding="utf-8") as out, tqdm(total=len(todo), desc="weak responses") as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            replies = backend.generate([[{"role": "user", "content": r["raw_prompt"]}] for r in chunk], params)
            for record, reply in zip(chunk, replies, strict=True):
                out.write(json.dumps({"key": prompt_key(record), "response": reply[0]}, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
            bar.update(len(chunk))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=Path, default=HERE / "parts")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--no-generate", action="store_true", help="do not run the model for missing responses")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    args = parser.parse_args(argv)
    records = load_parts(args.parts)
    ids = [r["id"] for r in records]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate ids across parts")
    weak_path = args.out / "weak_responses.jsonl"
    if not args.no_generate:
        generate_weak(records, weak_path, args.batch_size, args.max_new_tokens)
    weak = load_weak(weak_path)
    missing = [r["id"] for r in records if prompt_key(r) not in weak]
    if missing:
        raise SystemExit(
            f"{len(missing)} records have no weak response yet (first: {missing[0]}); run without --no-generate"
        )
    train: list[dict[str, str]] = []
    heldout: list[dict[str, str]] = []
    for record in records:
        full = {**record, WEAK_FIELD: weak[prompt_key(record)]}
        (heldout if is_heldout(record["id"]) else train).append(full)
    for name, rows in (("train.jsonl", train), ("heldout.jsonl", heldout)):
        with (args.out / name).open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(records)} records: {len(train)} train, {len(heldout)} held out", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
