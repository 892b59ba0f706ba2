"""The DSPy programs of ``benchmarks/dspy_optimizers.py``: data splits, naive instructions and metrics.

Three zero-shot programs (an instruction and no demos, so the instruction is what the optimizers change),
each with train / validation / held-back splits drawn from development data under ``--data-dir``
(``../shared/data``); never from ``gsm8k/test_dev.jsonl``, ``mmlu/test`` or the PiQA / CosmosQA files:

- ``gsm8k``: a math word problem, numeric answer (``dspy.ChainOfThought``), all splits from GSM8K train;
- ``bbh``: a BIG-Bench Hard task with a fixed answer format, exact match as BBH scores it (default
  ``boolean_expressions``: the answer is ``True`` or ``False`` alone), all splits from that task's items;
- ``mmlu``: multiple choice with the label set A-D, the reply must be the letter; train and validation from
  MMLU ``dev/``, held back from MMLU ``val/``.

Each metric returns a bool; :func:`feedback_metric` wraps one for GEPA (score plus a sentence saying what was
expected).
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LETTERS = "ABCD"


@dataclass
class Program:
    """A benchmark program: how to build it, its naive instruction, its metric and its data splits."""

    name: str
    signature: str
    instruction: str
    chain_of_thought: bool
    metric: Callable[..., bool]
    train: list[Any]
    val: list[Any]
    test: list[Any]
    source: str

    def build(self, dspy: Any) -> Any:
        signature = dspy.Signature(self.signature, instructions=self.instruction)
        return dspy.ChainOfThought(signature) if self.chain_of_thought else dspy.Predict(signature)


def _field(prediction: Any, name: str) -> str:
    value = getattr(prediction, name, None)
    return "" if value is None else str(value)


# --- GSM8K -------------------------------------------------------------------------------------------------


def _last_number(text: str) -> str | None:
    numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)
    if not numbers:
        return None
    value = numbers[-1].replace(",", "")
    return value[:-2] if value.endswith(".0") else value


def gsm8k_metric(example: Any, prediction: Any, trace: Any = None, *args: Any, **kwargs: Any) -> bool:
    """The last number of the answer equals the reference (commas and a trailing ``.0`` ignored)."""
    return _last_number(_field(prediction, "answer")) == example.answer


def _gsm8k(dspy: Any, data_dir: Path, rng: random.Random, sizes: tuple[int, int, int]) -> Program:
    path = data_dir / "gsm8k" / "train.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = rng.sample(rows, sum(sizes))
    examples = [
        dspy.Example(
            question=row["question"], answer=row["answer"].split("####")[-1].strip().replace(",", "")
        ).with_inputs("question")
        for row in chosen
    ]
    train, val, test = _split(examples, sizes)
    return Program(
        "gsm8k",
        "question -> answer",
        "Solve the math word problem.",
        True,
        gsm8k_metric,
        train,
        val,
        test,
        f"GSM8K train ({path.name})",
    )


# --- BBH ---------------------------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    return text.strip().strip("*`'\" ").rstrip(".").strip().lower()


def exact_metric(example: Any, prediction: Any, trace: Any = None, *args: Any, **kwargs: Any) -> bool:
    """BBH's exact match: the whole answer equals the target (case, surrounding spaces, quotes and a final
    period ignored)."""
    return _normalise(_field(prediction, "answer")) == _normalise(example.answer)


BBH_INSTRUCTIONS = {
    "date_understanding": "Answer the question about dates.",
    "sports_understanding": "Say whether the sentence is plausible.",
    "boolean_expressions": "Evaluate the boolean expression.",
    "object_counting": "Count the objects.",
}


def _bbh(dspy: Any, data_dir: Path, rng: random.Random, sizes: tuple[int, int, int], task: str) -> Program:
    if task not in BBH_INSTRUCTIONS:
        raise ValueError(f"--bbh-task must be one of {sorted(BBH_INSTRUCTIONS)}, got {task!r}")
    path = data_dir / "bbh" / f"{task}.json"
    items = json.loads(path.read_text(encoding="utf-8"))["examples"]
    if sum(sizes) > len(items):
        raise ValueError(f"{path} has {len(items)} items; the splits ask for {sum(sizes)}")
    examples = [
        dspy.Example(question=item["input"], answer=item["target"]).with_inputs("question")
        for item in rng.sample(items, sum(sizes))
    ]
    train, val, test = _split(examples, sizes)
    return Program(
        f"bbh:{task}",
        "question -> answer",
        BBH_INSTRUCTIONS[task],
        False,
        exact_metric,
        train,
        val,
        test,
        f"BBH {task}",
    )


# --- MMLU --------------------------------------------------------------------------------------------------


def letter_metric(example: Any, prediction: Any, trace: Any = None, *args: Any, **kwargs: Any) -> bool:
    """The answer is the correct letter alone (``B``, ``(B)`` or ``B.``); anything longer is wrong."""
    return _field(prediction, "answer").strip().strip("().*: ").upper() == example.answer


def _mmlu_rows(directory: Path, suffix: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(directory.glob(f"*_{suffix}.csv")):
        subject = path.name[: -len(f"_{suffix}.csv")].replace("_", " ")
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if len(row) == 6 and row[5].strip() in LETTERS:
                    rows.append({"subject": subject, "question": row[0], "options": row[1:5], "answer": row[5]})
    if not rows:
        raise FileNotFoundError(f"no MMLU *_{suffix}.csv files under {directory}; pass --data-dir ../shared/data")
    return rows


def _mmlu(dspy: Any, data_dir: Path, rng: random.Random, sizes: tuple[int, int, int]) -> Program:
    def example(row: dict[str, Any]) -> Any:
        choices = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, row["options"], strict=True))
        return dspy.Example(question=row["question"], choices=choices, answer=row["answer"]).with_inputs(
            "question", "choices"
        )

    pool = rng.sample(_mmlu_rows(data_dir / "mmlu" / "dev", "dev"), sizes[0] + sizes[1])
    test = rng.sample(_mmlu_rows(data_dir / "mmlu" / "val", "val"), sizes[2])
    return Program(
        "mmlu",
        "question, choices -> answer",
        "Answer the multiple-choice question.",
        False,
        letter_metric,
        [example(r) for r in pool[: sizes[0]]],
        [example(r) for r in pool[sizes[0] :]],
        [example(r) for r in test],
        "MMLU dev (train, val), MMLU val (held back)",
    )


def _split(examples: list[Any], sizes: tuple[int, int, int]) -> tuple[list[Any], list[Any], list[Any]]:
    train_size, val_size, _ = sizes
    return examples[:train_size], examples[train_size : train_size + val_size], examples[train_size + val_size :]


def load_program(
    dspy: Any, name: str, data_dir: Path, *, seed: int, sizes: tuple[int, int, int], bbh_task: str
) -> Program:
    """The program ``name`` (``gsm8k``, ``bbh``, ``mmlu``) with disjoint (train, val, held-back) splits."""
    rng = random.Random(f"{seed}:{name}")
    if name == "gsm8k":
        return _gsm8k(dspy, data_dir, rng, sizes)
    if name == "bbh":
        return _bbh(dspy, data_dir, rng, sizes, bbh_task)
    if name == "mmlu":
        return _mmlu(dspy, data_dir, rng, sizes)
    raise ValueError(f"unknown program {name!r}; choose from gsm8k, bbh, mmlu")


def feedback_metric(dspy: Any, metric: Callable[..., bool]) -> Callable[..., Any]:
    """``metric`` as GEPA wants it: a score and a feedback sentence that states the expected answer."""

    def gepa_metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
        correct = metric(gold, pred)
        answer = _field(pred, "answer")
        if correct:
            feedback = f"Correct: the expected answer is {gold.answer!r}."
        else:
            feedback = (
                f"Wrong: the expected answer is {gold.answer!r}, the program answered {answer[:200]!r}. "
                "The answer field must hold the final answer alone, in exactly the expected form."
            )
        return dspy.Prediction(score=float(correct), feedback=feedback)

    return gepa_metric
