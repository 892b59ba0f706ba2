"""POP (Prompt Optimization Preference) records: the typed schema, loading, validation and de-duplication.

The published POP dataset (Lu et al., arXiv 2402.11811) names its fields after the models that wrote them.
:class:`POPRecord` keeps those names (so files round-trip) and adds neutral aliases:

=============================  ===================  ===================================================
published field                alias                meaning
=============================  ===================  ===================================================
``raw_prompt``                 —                    the naive prompt a user wrote
``text003_response_based_raw`` ``naive_response``   a weak model's answer to the raw prompt (silver)
``gpt4_response_based_raw``    ``golden_response``  the answer we want (golden)
``chatgpt_optimized_prompt``   ``rejected_prompt``  the worse rewrite (rejected)
``gpt4_optimized_prompt``      ``chosen_prompt``    the better rewrite (chosen)
=============================  ===================  ===================================================

Input files may use either spelling; any other field (``task_kind``, ``source``, ``license`` ...) is kept in
:attr:`POPRecord.extra` and written back out.

>>> record = POPRecord.from_dict({"id": "1", "raw_prompt": "Add 2 and 3.", "chosen_prompt": "Add 2 and 3; "
...     "reply with the number only.", "rejected_prompt": "Add numbers."})
>>> record.chosen_prompt == record.gpt4_optimized_prompt
True
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fipo_integrations.validation import iter_jsonl

__all__ = [
    "ALIASES",
    "POP_FIELDS",
    "LoadReport",
    "POPRecord",
    "POPValidationError",
    "load_pop",
    "read_records",
    "resolve_data_paths",
    "write_pop_jsonl",
]

logger = logging.getLogger(__name__)

#: The published schema, in file order.
POP_FIELDS: tuple[str, ...] = (
    "id",
    "raw_prompt",
    "text003_response_based_raw",
    "gpt4_response_based_raw",
    "chatgpt_optimized_prompt",
    "gpt4_optimized_prompt",
)
#: Neutral alias -> published field.
ALIASES: dict[str, str] = {
    "naive_response": "text003_response_based_raw",
    "golden_response": "gpt4_response_based_raw",
    "rejected_prompt": "chatgpt_optimized_prompt",
    "chosen_prompt": "gpt4_optimized_prompt",
}
_SUFFIXES = (".jsonl", ".json", ".parquet")


class POPValidationError(ValueError):
    """A POP record or file is malformed; the message names the file and line (or item/row)."""


@dataclass
class POPRecord:
    """One prompt-optimization preference record (published field names; aliases as properties)."""

    id: str
    raw_prompt: str
    text003_response_based_raw: str = ""
    gpt4_response_based_raw: str = ""
    chatgpt_optimized_prompt: str = ""
    gpt4_optimized_prompt: str = ""
    #: Fields outside the schema (``task_kind``, ``source``, ``license`` ...), kept verbatim.
    extra: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------------------------------- aliases
    @property
    def naive_response(self) -> str:
        return self.text003_response_based_raw

    @property
    def golden_response(self) -> str:
        return self.gpt4_response_based_raw

    @property
    def rejected_prompt(self) -> str:
        return self.chatgpt_optimized_prompt

    @property
    def chosen_prompt(self) -> str:
        return self.gpt4_optimized_prompt

    # ------------------------------------------------------------------------------------- conversion
    @classmethod
    def from_dict(cls, data: dict[str, Any], *, require_chosen: bool = True) -> POPRecord:
        """Validate and build a record; raises :class:`ValueError` naming the offending field.

        ``id`` may be missing (a stable hash of the raw prompt is used). ``raw_prompt`` and, unless
        ``require_chosen=False`` (raw prompts for ``fipo pop build``), the chosen prompt must be non-empty.
        """
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object with the POP fields, got {type(data).__name__}")
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            name = ALIASES.get(key, key)
            if name in values and values[name] != value:
                raise ValueError(
                    f"field {name!r} is given twice (as {key!r} and its published name) with different values"
                )
            if name in POP_FIELDS:
                values[name] = value
            else:
                extra[key] = value
        for name in POP_FIELDS[1:]:
            value = values.get(name, "")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise ValueError(f"field {name!r} must be a string, got {type(value).__name__}: {value!r:.60}")
            values[name] = value
        if not values["raw_prompt"].strip():
            raise ValueError("field 'raw_prompt' is missing or empty; every record needs the naive prompt")
        if require_chosen and not values["gpt4_optimized_prompt"].strip():
            raise ValueError(
                "field 'gpt4_optimized_prompt' (alias 'chosen_prompt') is missing or empty; "
                "a training record needs the chosen rewrite (make one with `fipo pop build`)"
            )
        raw_id = values.get("id")
        if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
            raw_id = "pop-" + hashlib.sha1(values["raw_prompt"].encode("utf-8")).hexdigest()[:12]
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
            raise ValueError(f"field 'id' must be a string or an integer, got {type(raw_id).__name__}")
        values["id"] = str(raw_id)
        return cls(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """Published field names first, then the extra fields (the JSONL line layout)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in POP_FIELDS}
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data

    def dedup_key(self) -> str:
        """Records with the same normalised raw prompt and chosen rewrite are duplicates."""
        return " ".join(self.raw_prompt.lower().split()) + "\x00" + " ".join(self.chosen_prompt.lower().split())


@dataclass
class LoadReport:
    """What :func:`load_pop` read: the records and what it dropped."""

    records: list[POPRecord]
    files: list[str]
    invalid: int = 0
    duplicates: int = 0
    #: ``file:line: message`` for every invalid record (when ``skip_invalid``).
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.records)} records from {len(self.files)} source(s); "
            f"{self.invalid} invalid skipped, {self.duplicates} duplicates removed"
        )


def resolve_data_paths(sources: str | Path | Sequence[str | Path]) -> list[str]:
    """Expand globs and directories into files; names that match no local path are kept (dataset names).

    >>> resolve_data_paths([])
    []
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    resolved: list[str] = []
    for source in sources:
        text = str(source)
        path = Path(text).expanduser()
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not found:
                raise FileNotFoundError(f"directory {text!r} holds no {', '.join(_SUFFIXES)} files")
            resolved.extend(found)
        elif path.is_file():
            resolved.append(str(path))
        elif glob.has_magic(text):
            found = sorted(glob.glob(str(path), recursive=True))
            if not found:
                raise FileNotFoundError(f"the pattern {text!r} matches no file; check the path (quote the glob)")
            resolved.extend(found)
        else:
            resolved.append(text)
    return resolved


def _iter_json_items(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, parsed item) for each record of a JSON, JSONL or parquet file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - pyarrow comes with datasets
            raise POPValidationError(f"{path}: reading parquet needs pyarrow: pip install pyarrow") from exc
        for row, item in enumerate(pq.read_table(path).to_pylist(), 1):
            yield f"{path}: row {row}", item
        return
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        stripped = text.lstrip()
        if stripped.startswith("[") or stripped.startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None  # maybe JSON lines saved as .json
            if parsed is not None:
                if isinstance(parsed, dict):
                    items = next(
                        (parsed[k] for k in ("data", "records", "train") if isinstance(parsed.get(k), list)), None
                    )
                    parsed = items if items is not None else [parsed]
                if not isinstance(parsed, list):
                    raise POPValidationError(f"{path}: expected a JSON list of records, got {type(parsed).__name__}")
                for index, item in enumerate(parsed, 1):
                    yield f"{path}: item {index}", item
                return
    for line_number, item in iter_jsonl(text, str(path), error=POPValidationError):
        yield f"{path}:{line_number}", item


def _iter_hub_items(name: str, split: str) -> Iterator[tuple[str, Any]]:
    from fipo_integrations._deps import require

    datasets = require("datasets", feature="loading a POP dataset by name")
    try:
        dataset = datasets.load_dataset(name, split=split)
    except Exception as exc:
        raise FileNotFoundError(
            f"{name!r} is neither a local file, directory or glob nor a dataset that could be loaded ({exc}). "
            "Pass a .jsonl/.json/.parquet path, or a `datasets` name when online "
            "(e.g. Junrulu/Prompt_Preference_Dataset)."
        ) from exc
    for row, item in enumerate(dataset, 1):
        yield f"{name}[{split}]: row {row}", dict(item)


def read_records(sources: str | Path | Sequence[str | Path], *, split: str = "train") -> Iterator[tuple[str, Any]]:
    """Yield ``(location, raw item)`` from files, globs, directories or `datasets` names, in order."""
    for source in resolve_data_paths(sources):
        path = Path(source)
        if path.is_file():
            yield from _iter_json_items(path)
        else:
            yield from _iter_hub_items(source, split)


def load_pop(
    sources: str | Path | Sequence[str | Path],
    *,
    skip_invalid: bool = False,
    require_chosen: bool = True,
    split: str = "train",
) -> LoadReport:
    """Load, validate and de-duplicate POP records.

    A malformed record raises :class:`POPValidationError` naming ``file:line`` unless ``skip_invalid``,
    which counts it in the report instead. Duplicates (same id, or same raw prompt and chosen rewrite) are
    removed, keeping the first. No record at all is an error.

    >>> load_pop("tests/fixtures/training/pop_small.jsonl").records[0].id  # doctest: +SKIP
    'pop-001'
    """
    files = resolve_data_paths(sources)
    if not files:
        raise POPValidationError("no data given: pass POP files (.jsonl, .json, .parquet), globs or a dataset name")
    report = LoadReport(records=[], files=files)
    seen_ids: set[str] = set()
    seen_keys: set[str] = set()
    for location, item in read_records(files, split=split):
        try:
            record = POPRecord.from_dict(item, require_chosen=require_chosen)
        except ValueError as exc:
            message = f"{location}: {exc}"
            if not skip_invalid:
                raise POPValidationError(f"{message} (pass --skip-invalid to skip such records)") from exc
            report.invalid += 1
            report.errors.append(message)
            logger.warning("skipping invalid record: %s", message)
            continue
        key = record.dedup_key()
        if record.id in seen_ids or key in seen_keys:
            report.duplicates += 1
            continue
        seen_ids.add(record.id)
        seen_keys.add(key)
        report.records.append(record)
    if not report.records:
        detail = f" ({report.invalid} invalid records were skipped)" if report.invalid else ""
        raise POPValidationError(f"no POP records found in {', '.join(files)}{detail}; the dataset is empty")
    logger.info("loaded %s", report.summary())
    return report


def write_pop_jsonl(records: Iterable[POPRecord], path: str | Path) -> int:
    """Write records as JSON lines (published field names); returns how many were written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with target.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count
