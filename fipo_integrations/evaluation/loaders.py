"""Read the five benchmarks from their original file formats (or from the Hugging Face hub when online).

``data_dir`` holds one folder per benchmark::

    gsm8k/     test*.jsonl (+ train.jsonl for the few-shot examples)  {"question", "answer": "... #### N"}
    bbh/       TASK.json, one per task                                 {"examples": [{"input", "target"}]}
    piqa/      SPLIT.jsonl + SPLIT-labels.lst                          {"goal", "sol1", "sol2"}; 0/1 a line
    cosmosqa/  SPLIT.csv                                               id,context,question,answer0..3,label
    mmlu/      test/SUBJECT_test.csv, dev/SUBJECT_dev.csv              headerless question,A,B,C,D,answer

Few-shot examples come from GSM8K train and MMLU dev; for BBH, PiQA and CosmosQA they are the first items of
the split, which are then left out of scoring.

>>> from pathlib import Path
>>> data = load_benchmark("piqa", Path("tests/fixtures/evaluation"))  # doctest: +SKIP
>>> data.tasks[0].items[0].target  # doctest: +SKIP
'B'
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._deps import require
from ..validation import iter_jsonl
from .data import BENCHMARK_SPECS, OPTION_LETTERS, BenchmarkData, EvalItem, TaskData, choice_item
from .instructions import BBH_TASK_DESCRIPTIONS, naive_instruction

__all__ = ["DataFormatError", "load_benchmark", "parse_gsm8k_answer"]

Row = dict[str, Any]


class DataFormatError(ValueError):
    """A benchmark file is missing or does not have the expected format."""


# ------------------------------------------------------------------------------------------------ readers
def _read_jsonl(path: Path) -> list[Row]:
    rows = []
    for number, row in iter_jsonl(path.read_text(encoding="utf-8"), str(path), error=DataFormatError):
        if not isinstance(row, dict):
            raise DataFormatError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def _require_fields(rows: Sequence[Row], fields: Iterable[str], where: Path | str) -> None:
    for number, row in enumerate(rows, 1):
        missing = [name for name in fields if name not in row]
        if missing:
            raise DataFormatError(f"{where}: record {number} lacks {missing}; it has {sorted(row)}")


def _pick(folder: Path, patterns: Sequence[str], what: str) -> Path:
    """The first file matching ``patterns`` (in order of preference)."""
    if not folder.is_dir():
        raise DataFormatError(
            f"no folder {folder} for {what}; --data-dir must hold one folder per benchmark "
            "(gsm8k/, bbh/, piqa/, cosmosqa/, mmlu/), see docs/evaluation.md"
        )
    for pattern in patterns:
        found = sorted(path for path in folder.glob(pattern) if path.is_file())
        if found:
            return found[0]
    raise DataFormatError(f"no {what} file in {folder} (looked for {', '.join(patterns)})")


# ------------------------------------------------------------------------------------------------ GSM8K
_CALCULATOR = re.compile(r"<<[^>]*>>")


def parse_gsm8k_answer(answer: str) -> tuple[str, str]:
    """``(rationale on one line, final number)`` of a GSM8K answer ending with ``#### N``.

    >>> parse_gsm8k_answer("16 - 3 = <<16-3=13>>13 eggs.\\nSo 13 * 2 = $<<13*2=26>>26\\n#### 26")
    ('16 - 3 = 13 eggs. So 13 * 2 = $26', '26')
    """
    rationale, separator, final = answer.rpartition("####")
    if not separator:
        raise DataFormatError(f"GSM8K answer does not end with '#### N': {answer[-80:]!r}")
    lines = [line.strip() for line in _CALCULATOR.sub("", rationale).splitlines() if line.strip()]
    return " ".join(lines), final.strip().replace(",", "")


def build_gsm8k(test_rows: Sequence[Row], train_rows: Sequence[Row], shots: int, source: str) -> BenchmarkData:
    def item(row: Row, index: int, split: str) -> EvalItem:
        rationale, number = parse_gsm8k_answer(str(row["answer"]))
        return EvalItem(
            "gsm8k",
            "gsm8k",
            f"gsm8k/{split}/{index}",
            f"Q: {str(row['question']).strip()}\nA:",
            number,
            f"{rationale} The answer is {number}.".strip(),
        )

    items = [item(row, index, "test") for index, row in enumerate(test_rows)]
    if train_rows:
        demos = [item(row, index, "train") for index, row in enumerate(train_rows[:shots])]
    else:  # no train split: the first test items become the examples and are not scored
        demos, items = items[:shots], items[shots:]
    task = TaskData("gsm8k", "gsm8k", naive_instruction("gsm8k", "gsm8k"), demos, items)
    return BenchmarkData("gsm8k", [task], source)


def _gsm8k_from_dir(folder: Path, shots: int) -> BenchmarkData:
    test = _pick(folder, ["test.jsonl", "test*.jsonl"], "GSM8K test")
    train_path = folder / "train.jsonl"
    train = _read_jsonl(train_path) if train_path.is_file() else []
    test_rows = _read_jsonl(test)
    _require_fields(test_rows, ["question", "answer"], test)
    _require_fields(train[:shots], ["question", "answer"], train_path)
    return build_gsm8k(test_rows, train, shots, str(folder))


# ------------------------------------------------------------------------------------------------ BBH
def build_bbh(tasks: Mapping[str, Sequence[Row]], shots: int, source: str) -> BenchmarkData:
    data = []
    for name in sorted(tasks):
        items = [
            EvalItem(
                "bbh",
                name,
                f"bbh/{name}/{index}",
                f"Q: {str(row['input']).strip()}\nA:",
                str(row["target"]).strip(),
                str(row["target"]).strip(),
            )
            for index, row in enumerate(tasks[name])
        ]
        data.append(TaskData("bbh", name, naive_instruction("bbh", name), items[:shots], items[shots:]))
    return BenchmarkData("bbh", data, source)


def _bbh_from_dir(folder: Path, shots: int) -> BenchmarkData:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise DataFormatError(f"no BBH task files (TASK.json) in {folder}")
    tasks: dict[str, list[Row]] = {}
    for path in files:
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}: not valid JSON ({exc.msg})") from exc
        if not isinstance(content, dict) or not isinstance(content.get("examples"), list):
            raise DataFormatError(f"{path}: expected {{'examples': [{{'input', 'target'}}, ...]}}")
        _require_fields(content["examples"], ["input", "target"], path)
        tasks[path.stem] = content["examples"]
    return build_bbh(tasks, shots, str(folder))


# ------------------------------------------------------------------------------------------------ PiQA
def build_piqa(rows: Sequence[Row], labels: Sequence[int], shots: int, source: str) -> BenchmarkData:
    if len(rows) != len(labels):
        raise DataFormatError(f"{source}: {len(rows)} PiQA records but {len(labels)} labels")
    items = []
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        if label not in (0, 1):
            raise DataFormatError(f"{source}: PiQA label {index + 1} is {label!r}; allowed: 0 or 1")
        stem = f"Goal: {str(row['goal']).strip()}"
        items.append(choice_item("piqa", "piqa", f"piqa/{index}", stem, [row["sol1"], row["sol2"]], label))
    task = TaskData("piqa", "piqa", naive_instruction("piqa", "piqa"), items[:shots], items[shots:])
    return BenchmarkData("piqa", [task], source)


def _piqa_from_dir(folder: Path, shots: int) -> BenchmarkData:
    records = _pick(folder, ["valid*.jsonl", "dev*.jsonl", "test*.jsonl", "*.jsonl"], "PiQA")
    labels_path = records.with_name(f"{records.stem}-labels.lst")
    if not labels_path.is_file():
        raise DataFormatError(f"PiQA labels {labels_path} not found (one 0/1 label a line, beside {records.name})")
    rows = _read_jsonl(records)
    _require_fields(rows, ["goal", "sol1", "sol2"], records)
    try:
        labels = [int(line) for line in labels_path.read_text(encoding="utf-8").split()]
    except ValueError as exc:
        raise DataFormatError(f"{labels_path}: labels must be integers 0 or 1 ({exc})") from exc
    return build_piqa(rows, labels, shots, str(folder))


# ------------------------------------------------------------------------------------------------ CosmosQA
def build_cosmosqa(rows: Sequence[Row], shots: int, source: str) -> BenchmarkData:
    items = []
    for index, row in enumerate(rows):
        try:
            label = int(row["label"])
        except (TypeError, ValueError) as exc:
            raise DataFormatError(f"{source}: CosmosQA row {index + 1} has label {row['label']!r}") from exc
        if not 0 <= label <= 3:
            raise DataFormatError(f"{source}: CosmosQA row {index + 1} has label {label}; allowed: 0-3")
        stem = f"Context: {str(row['context']).strip()}\nQuestion: {str(row['question']).strip()}"
        options = [str(row[f"answer{i}"]) for i in range(4)]
        items.append(choice_item("cosmosqa", "cosmosqa", f"cosmosqa/{index}", stem, options, label))
    task = TaskData("cosmosqa", "cosmosqa", naive_instruction("cosmosqa", "cosmosqa"), items[:shots], items[shots:])
    return BenchmarkData("cosmosqa", [task], source)


def _cosmosqa_from_dir(folder: Path, shots: int) -> BenchmarkData:
    path = _pick(folder, ["valid*.csv", "dev*.csv", "test*.csv", "*.csv"], "CosmosQA")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    _require_fields(rows, ["context", "question", "answer0", "answer1", "answer2", "answer3", "label"], path)
    return build_cosmosqa(rows, shots, str(folder))


# ------------------------------------------------------------------------------------------------ MMLU
def _mmlu_item(row: Sequence[str], subject: str, index: int, split: str, where: str) -> EvalItem:
    if len(row) != 6 or row[5].strip() not in ("A", "B", "C", "D"):
        raise DataFormatError(f"{where}: row {index + 1} should be question,A,B,C,D,answer(A-D); got {row!r}")
    label = OPTION_LETTERS.index(row[5].strip())
    return choice_item("mmlu", subject, f"mmlu/{subject}/{split}/{index}", row[0], row[1:5], label)


def build_mmlu(
    subjects: Mapping[str, tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]]],
    shots: int,
    source: str,
    *,
    shared_instruction: bool = False,
) -> BenchmarkData:
    """``subjects`` maps a subject to ``(test rows, dev rows)``; rows are ``[question, A, B, C, D, answer]``."""
    tasks = []
    for subject in sorted(subjects):
        test_rows, dev_rows = subjects[subject]
        items = [_mmlu_item(row, subject, i, "test", source) for i, row in enumerate(test_rows)]
        if dev_rows:
            demos = [_mmlu_item(row, subject, i, "dev", source) for i, row in enumerate(dev_rows[:shots])]
        else:
            demos, items = items[:shots], items[shots:]
        instruction = naive_instruction("mmlu", subject, mmlu_shared=shared_instruction)
        tasks.append(TaskData("mmlu", subject, instruction, demos, items))
    return BenchmarkData("mmlu", tasks, source)


def _read_headerless_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle) if row]


def _mmlu_from_dir(folder: Path, shots: int, shared_instruction: bool) -> BenchmarkData:
    test_dir = folder / "test"
    files = sorted(test_dir.glob("*_test.csv")) if test_dir.is_dir() else []
    if not files:
        raise DataFormatError(f"no MMLU test files ({test_dir}/SUBJECT_test.csv)")
    subjects = {}
    for path in files:
        subject = path.name[: -len("_test.csv")]
        dev = folder / "dev" / f"{subject}_dev.csv"
        subjects[subject] = (_read_headerless_csv(path), _read_headerless_csv(dev) if dev.is_file() else [])
    return build_mmlu(subjects, shots, str(folder), shared_instruction=shared_instruction)


# ------------------------------------------------------------------------------------------------ hub
#: Hub datasets used when no ``data_dir`` is given (needs network access and ``datasets``).
HUB_DATASETS = {
    "gsm8k": "openai/gsm8k",
    "bbh": "lukaemon/bbh",
    "piqa": "ybisk/piqa",
    "cosmosqa": "allenai/cosmos_qa",
    "mmlu": "cais/mmlu",
}


def _from_hub(name: str, shots: int, shared_instruction: bool) -> BenchmarkData:
    datasets = require("datasets", feature="loading benchmarks from the Hugging Face hub (or pass --data-dir)")
    load: Callable[..., Any] = datasets.load_dataset
    hub_id = HUB_DATASETS[name]
    source = f"hub:{hub_id}"
    if name == "gsm8k":
        splits = load(hub_id, "main")
        return build_gsm8k(list(splits["test"]), list(splits["train"]), shots, source)
    if name == "bbh":
        return build_bbh(
            {task: list(load(hub_id, task, split="test")) for task in BBH_TASK_DESCRIPTIONS}, shots, source
        )
    if name == "piqa":
        rows = list(load(hub_id, split="validation"))
        return build_piqa(rows, [int(row["label"]) for row in rows], shots, source)
    if name == "cosmosqa":
        return build_cosmosqa(list(load(hub_id, split="validation")), shots, source)
    splits = load(hub_id, "all")
    subjects: dict[str, tuple[list[list[str]], list[list[str]]]] = {}
    for split, position in (("test", 0), ("dev", 1)):
        for row in splits[split]:
            entry = subjects.setdefault(str(row["subject"]), ([], []))
            entry[position].append([row["question"], *row["choices"], OPTION_LETTERS[int(row["answer"])]])
    return build_mmlu(subjects, shots, source, shared_instruction=shared_instruction)


def load_benchmark(
    name: str,
    data_dir: str | Path | None = None,
    *,
    shots: int | None = None,
    mmlu_shared_instruction: bool = False,
) -> BenchmarkData:
    """Load benchmark ``name`` from ``data_dir/name/`` (original formats) or, without ``data_dir``, the hub.

    ``shots`` overrides the paper's default number of few-shot examples.
    """
    if name not in BENCHMARK_SPECS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARK_SPECS)}")
    k = BENCHMARK_SPECS[name].shots if shots is None else shots
    if k < 0:
        raise ValueError(f"shots must be >= 0, got {k}")
    if data_dir is None:
        return _from_hub(name, k, mmlu_shared_instruction)
    folder = Path(data_dir).expanduser() / name
    if name == "gsm8k":
        return _gsm8k_from_dir(folder, k)
    if name == "bbh":
        return _bbh_from_dir(folder, k)
    if name == "piqa":
        return _piqa_from_dir(folder, k)
    if name == "cosmosqa":
        return _cosmosqa_from_dir(folder, k)
    return _mmlu_from_dir(folder, k, mmlu_shared_instruction)
