"""Worked examples shown before the user's prompt: selection, chat turns, bad input, the bundled pool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fipo_integrations import PromptOptimizer
from fipo_integrations.exemplars import BUNDLED_EXEMPLARS, Exemplar, ExemplarPool
from fipo_integrations.testing import ScriptedBackend

ROOT = Path(__file__).resolve().parents[1]

POOL = [
    Exemplar("Classify the review as positive or negative: {review}", "Label {review} ... Reply with one word.", "cls"),
    Exemplar("Classify the email as spam or not spam.", "Is this email spam? Reply with spam or not spam.", "cls"),
    Exemplar("Translate to German: {text}", "Translate {text} into German. Reply with the translation only.", "tr"),
    Exemplar("Write a haiku about autumn.", "Write one haiku (5-7-5 syllables) about autumn.", "creative"),
]


def test_the_most_similar_examples_are_chosen_one_per_task_kind_first() -> None:
    pool = ExemplarPool(POOL, k=2)
    chosen = pool.select("Classify the tweet as positive or negative.")
    assert chosen[0] is POOL[0]  # most words shared
    assert chosen[1].task_kind != "cls"  # the second classification example waits for another kind
    assert ExemplarPool(POOL, k=3).select("Classify the tweet as positive or negative.")[:1] == [POOL[0]]
    assert ExemplarPool(POOL, k=0).select("anything") == []


def test_examples_become_earlier_chat_turns_most_similar_last() -> None:
    pool = ExemplarPool(POOL, k=2)
    rendered = [{"role": "user", "content": "THE PROMPT"}]
    messages = pool.messages("Translate to French: {sentence}", rendered)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[-1] == rendered[0]
    assert messages[-2]["content"] == POOL[2].rewrite  # the translation example sits next to the prompt
    assert "Translate to German: {text}" in messages[-3]["content"]


def test_the_optimizer_shows_the_examples_and_guards_as_usual() -> None:
    backend = ScriptedBackend(lambda prompt: prompt + " Reply with the label only.")
    optimizer = PromptOptimizer(backend, cache=False, exemplars=ExemplarPool(POOL, k=2))
    result = optimizer.optimize("Classify the comment as toxic or not toxic: {comment}")
    assert result.accepted, result.reason
    conversation = backend.calls[0][0]
    assert len(conversation) == 5 and conversation[1]["role"] == "assistant"
    plain = PromptOptimizer(ScriptedBackend(lambda p: p), cache=False)
    plain.optimize("Classify the comment as toxic or not toxic: {comment}")
    assert len(plain.backend.calls[0][0]) == 1  # type: ignore[attr-defined]


def test_bad_input_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ExemplarPool.from_jsonl(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1 needs string fields prompt and rewrite"):
        ExemplarPool.from_jsonl(bad)
    bad.write_text("not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="is not a JSON object"):
        ExemplarPool.from_jsonl(bad)
    with pytest.raises(ValueError, match="empty prompt or rewrite"):
        ExemplarPool([Exemplar("", "x")])
    with pytest.raises(ValueError, match="non-negative"):
        ExemplarPool(POOL, k=-1)
    with pytest.raises(TypeError, match="ExemplarPool, 'bundled' or None"):
        PromptOptimizer(ScriptedBackend(lambda p: p), cache=False, exemplars="mine")  # type: ignore[arg-type]


def test_pop_records_load_as_examples(tmp_path: Path) -> None:
    path = tmp_path / "pop.jsonl"
    path.write_text(json.dumps({"raw_prompt": "Sum 2 and 3.", "gpt4_optimized_prompt": "What is 2 + 3?"}) + "\n")
    assert ExemplarPool.from_jsonl(path).exemplars == [Exemplar("Sum 2 and 3.", "What is 2 + 3?")]


def test_the_bundled_pool_is_authored_seed_data_only() -> None:
    """Every bundled example is a POP seed record written for this project (no benchmark or public prompt)."""
    pool = ExemplarPool.bundled()
    assert len(pool.exemplars) >= 500
    sources: dict[str, str] = {}
    for path in [ROOT / "training/data/pop-seed/train.jsonl", *(ROOT / "training/data/pop-seed-v2/parts").glob("*")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            sources[record["id"]] = record["source"]
    for line in BUNDLED_EXEMPLARS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert sources[row["id"]] == "fipo-integrations-authored", row["id"]
