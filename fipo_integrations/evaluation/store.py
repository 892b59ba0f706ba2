"""The per-item result cache that makes ``fipo eval`` resumable.

One JSON record per scored item, appended to ``results.jsonl`` in the output directory and flushed after
every batch. The key hashes what determines the result: benchmark, item, testing model, the exact prompt
(so the instruction and the few-shot examples) and the scoring settings. The prompt source is recorded but
not part of the key: an optimizer that kept the naive instruction reuses the naive results. A rerun loads
the file and skips every item it finds; a torn last line (a killed run) is ignored.

>>> import tempfile, pathlib
>>> store = ResultStore(pathlib.Path(tempfile.mkdtemp()) / "results.jsonl")
>>> key = result_key("gsm8k", "gsm8k/test/0", "model", "prompt", {"scoring": "generate"})
>>> store.add([{"key": key, "correct": True}]); store.get(key)["correct"]
True
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["ResultStore", "result_key", "text_hash"]

logger = logging.getLogger(__name__)

#: Bump when the meaning of a stored record changes; older records are then ignored.
RESULT_SCHEMA = 1


def text_hash(text: str) -> str:
    """A short SHA-256 of ``text`` (instruction and prompt hashes in records)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def result_key(benchmark: str, item_id: str, model_key: str, prompt: str, settings: dict[str, Any]) -> str:
    """The cache key of one scored item."""
    payload = json.dumps(
        {
            "schema": RESULT_SCHEMA,
            "benchmark": benchmark,
            "item": item_id,
            "model": model_key,
            "prompt": text_hash(prompt),
            "settings": settings,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResultStore:
    """Append-only JSONL of item results, indexed by ``record["key"]`` in memory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        skipped = 0
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    skipped += 1  # a line torn by a killed run: that item is simply scored again
                    continue
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    self.records[record["key"]] = record
        if skipped:
            logger.warning("ignored %d unreadable line(s) in %s; those items will be scored again", skipped, self.path)

    def __contains__(self, key: object) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """Append records and flush them to disk."""
        batch = list(records)
        if not batch:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = self.path.is_file() and self.path.stat().st_size > 0 and not self._ends_with_newline()
        with self.path.open("a", encoding="utf-8") as handle:
            if needs_newline:
                handle.write("\n")
            for record in batch:
                if not isinstance(record.get("key"), str):
                    raise ValueError(f"a result record needs a string 'key', got {record.get('key')!r}")
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                self.records[record["key"]] = record
            handle.flush()

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as handle:
            handle.seek(-1, 2)
            return handle.read(1) == b"\n"
