"""Quality checks of the POP seed v2 records in training/data/pop-seed-v2/parts/."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = sorted((ROOT / "training" / "data" / "pop-seed-v2" / "parts").glob("*.jsonl"))
FIELDS = {
    "id",
    "task_kind",
    "task",
    "raw_prompt",
    "text003_response_based_raw",
    "gpt4_response_based_raw",
    "gpt4_optimized_prompt",
    "chatgpt_optimized_prompt",
    "rejected_kind",
    "source",
    "license",
}
REJECTED_KINDS = {
    "meta_echo",
    "verbose_scaffold",
    "invented_content",
    "answers_task",
    "drift",
    "noop_copy",
    "dropped_constraint",
    "request_for_input",
    "chat_preamble",
}
SOURCES = re.compile(
    r"^(gsm8k-train:\d+|mmlu-(dev|val):[a-z_]+:\d+|dolly-eval:\d+|self-instruct-eval:\S+|vicuna-eval:\d+|"
    r"fipo-integrations-authored)$"
)
PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{[^{}\n]+\}")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
#: Words of the BIG-Bench Hard descriptions and the MMLU instruction line that must not reach training data.
FORBIDDEN = (
    "multiple choice questions (with answers) about",
    "dyck-n word",
    "ruins' the input movie",
    "artificially constructed sentence relating to sports",
    "table of penguins",
    "sequence of swaps",
    "random boolean function expressed as a word problem",
    "navigation instructions, determine whether one would end up back at the starting point",
)


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.fixture(scope="module")
def records() -> list[dict[str, str]]:
    rows = []
    for part in PARTS:
        for number, line in enumerate(part.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                row["_where"] = f"{part.name}:{number}"
                rows.append(row)
    return rows


def test_schema_ids_kinds_and_sources(records: list[dict[str, str]]) -> None:
    assert len(records) >= 2400
    assert len({r["id"] for r in records}) == len(records)
    for record in records:
        assert set(record) - {"_where"} == FIELDS, record["_where"]
        assert record["rejected_kind"] in REJECTED_KINDS, record["_where"]
        assert SOURCES.match(record["source"]), record["_where"]
        assert record["text003_response_based_raw"] == "", record["_where"]
        assert all(record[f].strip() for f in ("raw_prompt", "gpt4_optimized_prompt", "chatgpt_optimized_prompt"))
    kinds = Counter(r["rejected_kind"] for r in records)
    assert min(kinds.values()) >= 0.05 * len(records), kinds
    assert len({r["task"] for r in records}) >= 1000


def test_no_duplicates_within_or_against_v1_and_the_guard_set(records: list[dict[str, str]]) -> None:
    raws = Counter(_normalised(r["raw_prompt"]) for r in records)
    assert [raw for raw, count in raws.items() if count > 1] == []
    v1 = ROOT / "training" / "data" / "pop-seed"
    others = {
        _normalised(json.loads(line)["raw_prompt"])
        for name in ("train.jsonl", "heldout.jsonl")
        for line in (v1 / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    for path in (ROOT / "benchmarks" / "data" / "guard-calibration").glob("*.jsonl"):
        others |= {_normalised(json.loads(line)["original"]) for line in path.read_text(encoding="utf-8").splitlines()}
    assert sorted(set(raws) & others) == []


def test_chosen_keeps_placeholders_and_numbers_and_is_no_copy(records: list[dict[str, str]]) -> None:
    for record in records:
        raw, chosen = record["raw_prompt"], record["gpt4_optimized_prompt"]
        for placeholder in PLACEHOLDER.findall(raw):
            assert placeholder in chosen, (record["_where"], placeholder)
        for number in set(NUMBER.findall(raw)):
            assert number in chosen, (record["_where"], number)
        assert _normalised(chosen) != _normalised(raw), record["_where"]


def test_chosen_prompts_stay_concise(records: list[dict[str, str]]) -> None:
    """Chosen prompts add at most ~100 words of instruction to what the raw prompt carries."""
    for record in records:
        grown = len(record["gpt4_optimized_prompt"].split()) - len(record["raw_prompt"].split())
        assert grown <= 100, (record["_where"], grown)


def test_evaluation_instructions_stay_unseen(records: list[dict[str, str]]) -> None:
    for record in records:
        text = " ".join(record[f] for f in ("raw_prompt", "gpt4_optimized_prompt", "chatgpt_optimized_prompt")).lower()
        for phrase in FORBIDDEN:
            assert phrase not in text, (record["_where"], phrase)
