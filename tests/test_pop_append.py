"""Append records (training/append.py, `fipo pop append`) and their prefilled SFT (training: prefill)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fipo_integrations.cli import main
from fipo_integrations.guard.scope import continue_original
from training.append import BAD_KINDS, addition_problem, build_append_records, tokenize_prefilled
from training.config import TrainConfig
from training.pop import POPRecord, load_pop

ROOT = Path(__file__).resolve().parents[1]
APPEND = ROOT / "training" / "data" / "pop-append"
SOURCES = [
    ROOT / "training" / "data" / "pop-seed" / "train.jsonl",
    *sorted((ROOT / "training" / "data" / "pop-seed-v2" / "parts").glob("*.jsonl")),
]
HELDOUT = ROOT / "training" / "data" / "pop-seed" / "heldout.jsonl"
#: Words of the BIG-Bench Hard descriptions and the MMLU instruction line that must not reach training data.
FORBIDDEN = (
    "multiple choice questions (with answers) about",
    "dyck-n word",
    "sequence of swaps",
    "table of penguins",
    "navigation instructions",
)


def _source(**fields: Any) -> POPRecord:
    values: dict[str, Any] = {"id": "s1", "raw_prompt": "Is this review positive or negative? I loved it.", **fields}
    values.setdefault("gpt4_optimized_prompt", "x")
    return POPRecord(**values, extra={"task_kind": "classification", "license": "MIT"})


def _line(**fields: Any) -> dict[str, Any]:
    return {
        "id": "s1",
        "addition": "Reply with one word: positive or negative.",
        "bad_addition": "Answer positive, negative or mixed.",
        "bad_kind": "widened_labels",
        **fields,
    }


# ------------------------------------------------------------------------------------------- building records
def test_record_keeps_the_raw_prompt_and_appends_the_addition() -> None:
    report = build_append_records([_source(gpt4_response_based_raw="positive")], [_line()])
    (record,) = report.records
    raw = "Is this review positive or negative? I loved it."
    assert record.id == "append-s1" and record.raw_prompt == raw
    assert record.chosen_prompt == raw + " Reply with one word: positive or negative."
    assert record.rejected_prompt == raw + " Answer positive, negative or mixed."
    assert record.golden_response == "positive"
    assert record.extra["rejected_kind"] == "widened_labels" and record.extra["license"] == "MIT"
    assert "1 append records (0 with nothing to add), 0 dropped" in report.summary()


def test_empty_addition_keeps_the_raw_prompt_as_chosen() -> None:
    (record,) = build_append_records([_source()], [_line(addition="")]).records
    assert record.chosen_prompt == record.raw_prompt


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": "nope"}, "names no source record"),
        ({"bad_addition": ""}, "no bad addition"),
        ({"bad_kind": "rude"}, "bad_kind 'rude' is not one of"),
        ({"addition": "Answer in one sentence."}, "only caps the reply's length"),
        ({"addition": "Reply with one word: positive, negative or neutral."}, "neutral"),
        ({"addition": "Reply with " + "one word only " * 4 + "please."}, "words > 12"),
    ],
)
def test_lines_the_guard_would_reject_are_dropped_with_the_reason(fields: dict[str, Any], reason: str) -> None:
    report = build_append_records([_source()], [_line(**fields)])
    assert report.records == []
    assert len(report.dropped) == 1 and reason in report.dropped[0]


def test_an_addition_asking_for_the_question_back_is_dropped() -> None:
    source = _source(raw_prompt="Answer the question: is this review positive or negative? I loved it.")
    report = build_append_records([source], [_line(addition="Reply with the question only.")])
    assert report.records == [] and "asks for the question back" in report.dropped[0]


def test_a_repeated_id_is_dropped() -> None:
    report = build_append_records([_source()], [_line(), _line(addition="")])
    assert len(report.records) == 1 and "repeats an id" in report.dropped[0]


def test_a_header_line_builds_a_record_on_the_header_alone() -> None:
    raw = "Categorise each word.\nWord: violin -> Category: instrument\nWord: {word} -> Category:"
    source = _source(raw_prompt=raw, gpt4_response_based_raw="instrument")
    line = _line(
        header="Categorise each word.",
        addition="Give one category per word.",
        bad_addition="Reply with the words only.",
        bad_kind="question_back",
    )
    report = build_append_records([source], [line, _line(addition="", header=raw)])
    header, whole = report.records
    assert header.id == "append-s1-header" and header.raw_prompt == "Categorise each word."
    assert header.chosen_prompt == "Categorise each word. Give one category per word."
    assert header.golden_response == "" and header.extra["source"].startswith("header of the raw prompt")
    assert whole.id == "append-s1" and whole.raw_prompt == raw and whole.golden_response == "instrument"


def test_a_header_that_is_not_the_start_of_the_prompt_is_dropped() -> None:
    report = build_append_records([_source()], [_line(header="I loved it.")])
    assert report.records == [] and "not the exact start" in report.dropped[0]


def test_addition_problem_is_the_default_guards_append_scope() -> None:
    assert addition_problem("Name three primes", "Reply with a comma-separated list.") is None
    assert addition_problem("Name three primes", "Also explain why.") is not None


def test_cli_pop_append_writes_records_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "source.jsonl"
    source.write_text(json.dumps(_source().to_dict()) + "\n", encoding="utf-8")
    additions = tmp_path / "additions.jsonl"
    additions.write_text(json.dumps(_line()) + "\n" + json.dumps(_line(id="gone")) + "\n", encoding="utf-8")
    out = tmp_path / "append.jsonl"
    code = main(["pop", "append", "--source", str(source), "--additions", str(additions), "--output", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "1 append records" in printed and "dropped gone: names no source record" in printed
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["gpt4_optimized_prompt"].endswith("Reply with one word: positive or negative.")


def test_cli_pop_append_names_a_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "source.jsonl"
    source.write_text(json.dumps(_source().to_dict()) + "\n", encoding="utf-8")
    additions = tmp_path / "additions.jsonl"
    additions.write_text(json.dumps(_line()) + "\n{oops\n", encoding="utf-8")
    code = main(["pop", "append", "--source", str(source), "--additions", str(additions), "--output", "x.jsonl"])
    assert code != 0
    assert f"{additions}:2: not valid JSON" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ the shipped data
#: Each round of authored additions and the records `fipo pop append` built from it.
ROUNDS = [("additions.jsonl", "train.jsonl"), ("additions-2.jsonl", "train-2.jsonl")]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def shipped() -> list[dict[str, Any]]:
    return [row for _, records in ROUNDS for row in _jsonl(APPEND / records)]


@pytest.mark.parametrize(("additions", "records"), ROUNDS)
def test_shipped_records_rebuild_from_the_authored_additions(additions: str, records: str) -> None:
    """Each train file is exactly what `fipo pop append` makes of its additions: nothing edited by hand."""
    report = build_append_records(load_pop(SOURCES).records, _jsonl(APPEND / additions))
    assert report.dropped == []
    assert [record.to_dict() for record in report.records] == _jsonl(APPEND / records)


def test_shipped_records_quality(shipped: list[dict[str, Any]]) -> None:
    assert len(shipped) >= 900
    heldout = {json.loads(line)["id"] for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()}
    empty = 0
    for row in shipped:
        raw, addition = row["raw_prompt"], row["addition"]
        assert row["id"].removeprefix("append-").removesuffix("-header") not in heldout  # held-out stays unseen
        assert not any(phrase in raw.lower() for phrase in FORBIDDEN)
        assert row["gpt4_optimized_prompt"] == (continue_original(raw, addition) if addition else raw)
        assert row["chatgpt_optimized_prompt"] == continue_original(raw, row["bad_addition"])
        assert row["bad_addition"] != addition and row["rejected_kind"] in BAD_KINDS
        assert "{" not in addition and len(addition.split()) <= 12
        assert not any(phrase in (addition + row["bad_addition"]).lower() for phrase in FORBIDDEN)
        empty += not addition
    assert 0.1 <= empty / len(shipped) <= 0.4  # most prompts get a form; open ones keep nothing
    kinds = Counter(row["rejected_kind"] for row in shipped)
    assert set(kinds) == set(BAD_KINDS) and min(kinds.values()) >= 0.05 * len(shipped)
    additions = Counter(row["addition"] for row in shipped if row["addition"])
    assert additions.most_common(1)[0][1] <= 0.1 * len(shipped)  # written per prompt, not one stock sentence
    assert len({row["task_kind"] for row in shipped}) >= 12
    headers = [row for row in shipped if row["id"].endswith("-header")]
    assert len(headers) >= 100  # instructions whose items or examples follow, as few-shot use and DSPy show them
    assert all(not row["gpt4_response_based_raw"] for row in headers)
    # a header alone that names "multiple choice" and a subject is too close to the MMLU instruction line
    assert not any("multiple choice" in row["raw_prompt"].lower() for row in headers)


# ------------------------------------------------------------------------------------------ prefilled SFT rows
def test_prefilled_rows_train_only_the_continuation(tiny_chat_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_chat_model_dir))
    user = [{"role": "user", "content": "Improve: Name three primes."}]
    rows = [
        {
            "messages": [*user, {"role": "assistant", "content": "Name three primes.\nReply with a list."}],
            "raw_prompt": "Name three primes.",
        },
        {
            "messages": [*user, {"role": "assistant", "content": "List three primes."}],
            "raw_prompt": "Name three primes.",
        },
    ]
    out, skipped = tokenize_prefilled(rows, tokenizer)
    assert skipped == 1  # a full rewrite is not a continuation of the raw prompt
    (row,) = out
    prefix = tokenizer.apply_chat_template(
        [*user, {"role": "assistant", "content": "Name three primes."}], tokenize=False, continue_final_message=True
    )
    prompt_ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    assert row["input_ids"][: len(prompt_ids)] == prompt_ids  # the runtime's prefill, tokenized alone
    assert row["labels"][: len(prompt_ids)] == [-100] * len(prompt_ids)
    trained = tokenizer.decode([t for t in row["labels"] if t != -100])
    assert trained.startswith("\nReply with a list.") and "<|im_end|>" in trained


def test_prefill_is_sft_only() -> None:
    with pytest.raises(ValueError, match="stage 'sft' only"):
        TrainConfig(stage="ipo", model="m", data=["d"], prefill=True)


def test_prefill_training_runs_on_append_records(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    from training.trainers import train

    source = _source(id="s1")
    lines = [_line(), _line(id="s2", addition="")]
    records = build_append_records([source, _source(id="s2")], lines).records
    data = tmp_path / "append.jsonl"
    data.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records), encoding="utf-8")
    config = TrainConfig(
        stage="sft",
        model=str(tiny_chat_model_dir),
        data=[str(data)],
        output_dir=str(tmp_path / "run"),
        prefill=True,
        none_fraction=1.0,
        multiple_choice_fraction=0.0,
        max_steps=2,
        per_device_train_batch_size=2,
        save_steps=0,
        learning_rate=1e-2,
    )
    result = train(config)
    assert result.train_rows == 2 and len(result.losses) >= 1 and all(loss > 0 for loss in result.losses)
