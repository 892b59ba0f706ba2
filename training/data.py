"""Training rows from any supported input: POP records (diversified on the fly) or prepared datasets.

Formats (``data_format``; ``auto`` looks at the first record):

* ``pop`` — POP records (published or alias field names); diversified with the config's seed, so every
  process of a distributed run builds the same rows without sharing files.
* ``sft`` — rows with chat ``messages`` whose last turn is the assistant's (``sft.jsonl``).
* ``preference`` — rows with ``prompt``/``chosen``/``rejected`` (``dpo.jsonl``), messages or plain strings.
* ``ipl`` — preference rows with the IPL fields (``ipl.jsonl``).

>>> to_trl_rows([{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}],
...             preference=False)[0]["completion"]
[{'role': 'assistant', 'content': 'a'}]
"""

from __future__ import annotations

import logging
from typing import Any

from .config import TrainConfig
from .diversify import diversify_with, ipl_rows, preference_rows, sft_rows
from .pop import ALIASES, POPValidationError, load_pop, read_records

__all__ = ["detect_format", "load_training_rows", "to_trl_rows"]

logger = logging.getLogger(__name__)


def detect_format(item: Any) -> str:
    """``pop``, ``sft``, ``preference`` or ``ipl`` for one raw record."""
    if not isinstance(item, dict):
        raise POPValidationError(f"expected a JSON object, got {type(item).__name__}")
    keys = set(item)
    if "messages" in keys:
        return "sft"
    if {"prompt", "chosen", "rejected"} <= keys:
        return "ipl" if "kind" in keys and "silver_prompt" in keys else "preference"
    if "raw_prompt" in keys or keys & set(ALIASES) or "gpt4_optimized_prompt" in keys:
        return "pop"
    raise POPValidationError(
        f"cannot tell the data format from the fields {sorted(keys)}; expected POP fields (raw_prompt, "
        "gpt4_optimized_prompt ...), 'messages' (SFT) or prompt/chosen/rejected (DPO/IPO)"
    )


def _check_messages(value: Any, location: str, name: str) -> None:
    if isinstance(value, str):
        if not value.strip():
            raise POPValidationError(f"{location}: field {name!r} is empty")
        return
    if not isinstance(value, list) or not value:
        raise POPValidationError(f"{location}: field {name!r} must be a string or a non-empty list of messages")
    for message in value:
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise POPValidationError(f"{location}: field {name!r} must hold {{'role': str, 'content': str}} messages")


def _read_prepared(config: TrainConfig, fmt: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    invalid = 0
    for location, item in read_records(config.data):
        try:
            found = detect_format(item)
            if found != fmt and not (fmt in ("preference", "ipl") and found in ("preference", "ipl")):
                raise POPValidationError(f"{location}: a {found!r} record in a {fmt!r} dataset")
            if fmt == "sft":
                _check_messages(item["messages"], location, "messages")
                if item["messages"][-1].get("role") != "assistant":
                    raise POPValidationError(f"{location}: the last message must be the assistant's (the target)")
            else:
                for name in ("prompt", "chosen", "rejected"):
                    _check_messages(item[name], location, name)
        except POPValidationError as exc:
            if not config.skip_invalid:
                raise POPValidationError(f"{exc} (pass --skip-invalid to skip such records)") from exc
            invalid += 1
            logger.warning("skipping invalid row: %s", exc)
            continue
        rows.append(item)
    if invalid:
        logger.warning("skipped %d invalid rows", invalid)
    if not rows:
        raise POPValidationError(f"no training rows in {', '.join(config.data)}; the dataset is empty")
    return rows


def load_training_rows(config: TrainConfig) -> list[dict[str, Any]]:
    """Rows for ``config.stage``: SFT rows (``messages``) or preference rows (``prompt``/``chosen``/...)."""
    if not config.data:
        raise ValueError("no training data: pass --data FILE... (POP records or a diversified dataset)")
    fmt: str = config.data_format
    if fmt == "auto":
        first = next(iter(read_records(config.data)), None)
        if first is None:
            raise POPValidationError(f"no records in {', '.join(config.data)}; the dataset is empty")
        fmt = detect_format(first[1])
    if fmt == "pop":
        report = load_pop(config.data, skip_invalid=config.skip_invalid)
        logger.info("%s", report.summary())
        result = diversify_with(report.records, config)
        if config.stage == "sft":
            return sft_rows(result)
        return ipl_rows(result) if config.stage == "ipl" else preference_rows(result)
    rows = _read_prepared(config, fmt)
    if config.stage == "sft" and fmt != "sft":
        logger.info("SFT on a preference dataset: training on prompt + chosen")
    elif config.stage != "sft" and fmt == "sft":
        raise ValueError(
            f"stage {config.stage!r} needs preference rows (prompt/chosen/rejected) but {config.data} holds SFT "
            "rows; pass the dpo.jsonl / ipl.jsonl written by `fipo pop diversify`, or POP records"
        )
    return rows


def _as_messages(value: Any, role: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in value]


def to_trl_rows(rows: list[dict[str, Any]], *, preference: bool) -> list[dict[str, Any]]:
    """Keep only the columns trl reads, in its conversational formats.

    SFT rows become prompt-completion pairs, so the loss covers only the rewrite, not the meta-prompt.
    """
    converted: list[dict[str, Any]] = []
    for row in rows:
        if preference:
            converted.append(
                {
                    "prompt": _as_messages(row["prompt"], "user"),
                    "chosen": _as_messages(row["chosen"], "assistant"),
                    "rejected": _as_messages(row["rejected"], "assistant"),
                }
            )
        elif "messages" in row:
            messages = _as_messages(row["messages"], "user")
            converted.append({"prompt": messages[:-1], "completion": messages[-1:]})
        else:
            converted.append(
                {"prompt": _as_messages(row["prompt"], "user"), "completion": _as_messages(row["chosen"], "assistant")}
            )
    return converted
