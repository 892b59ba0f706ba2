"""Benchmark items, few-shot demonstrations and the prompts built from them.

Each benchmark is a list of :class:`TaskData`: one naive task instruction (the only text an optimizer
rewrites), fixed few-shot demonstrations (never rewritten) and the scorable test items. A prompt is::

    {instruction}

    {shot 1 query} {shot 1 answer}

    ...

    {item query}

where every query ends with its answer cue (``A:`` or ``Answer:``).

>>> item = EvalItem("gsm8k", "gsm8k", "gsm8k/0", "Q: What is 2 + 2?\\nA:", "4", "The answer is 4.")
>>> task = TaskData("gsm8k", "gsm8k", "Solve the math problem.", shots=[], items=[item])
>>> print(build_prompt(task.instruction, task.shots, item))
Solve the math problem.
<BLANKLINE>
Q: What is 2 + 2?
A:
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

__all__ = [
    "BENCHMARKS",
    "BENCHMARK_SPECS",
    "BenchmarkData",
    "BenchmarkSpec",
    "EvalItem",
    "TaskData",
    "build_messages",
    "build_prompt",
    "choice_item",
    "choice_query",
    "select_items",
]

Kind = Literal["generate", "choice"]
OPTION_LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class BenchmarkSpec:
    """Defaults of one benchmark (as in the FIPO paper: 3-shot GSM8K/BBH/PiQA, 5-shot CosmosQA/MMLU)."""

    name: str
    #: ``"generate"``: free generation scored by exact match; ``"choice"``: option letters.
    kind: Kind
    shots: int
    #: Most generated tokens (generation scoring).
    max_new_tokens: int
    #: Generation stops at the first of these strings (the text from it on is cut off).
    stop: tuple[str, ...] = ()
    #: ``--limit`` draws an even share from every task (BBH) instead of one sample from the pooled items.
    spread_over_tasks: bool = False


BENCHMARK_SPECS: dict[str, BenchmarkSpec] = {
    # No bare blank-line stop for GSM8K: a chain of thought may contain blank lines (the end-of-turn token,
    # the next "Q:" and the stated answer end it).
    "gsm8k": BenchmarkSpec("gsm8k", "generate", 3, 256, ("\nQ:",)),
    "bbh": BenchmarkSpec("bbh", "generate", 3, 128, ("\n\n", "\nQ:"), spread_over_tasks=True),
    "piqa": BenchmarkSpec("piqa", "choice", 3, 16, ("\n",)),
    "cosmosqa": BenchmarkSpec("cosmosqa", "choice", 5, 16, ("\n",)),
    "mmlu": BenchmarkSpec("mmlu", "choice", 5, 16, ("\n",)),
}
#: The five benchmarks of the paper, in report order.
BENCHMARKS: tuple[str, ...] = tuple(BENCHMARK_SPECS)


@dataclass(frozen=True)
class EvalItem:
    """One benchmark item, already formatted.

    ``query`` is the question block ending with its answer cue; ``answer`` the demonstration answer written
    after the cue when the item serves as a few-shot example; ``target`` the gold answer the scorer
    compares with (a number for GSM8K, the BBH target, an option letter for multiple choice).
    """

    benchmark: str
    task: str
    item_id: str
    query: str
    target: str
    answer: str
    #: Option letters for multiple-choice items (``("A", "B")`` for PiQA), empty for generation items.
    choices: tuple[str, ...] = ()
    #: The question without its options (multiple choice built by :func:`choice_item`), for re-ordering.
    stem: str = ""
    #: The option texts in the order of ``choices`` (multiple choice built by :func:`choice_item`).
    options: tuple[str, ...] = ()

    def demonstration(self) -> str:
        """The item as a few-shot example: query, a space, the answer."""
        return f"{self.query} {self.answer}"

    def rotated(self, shift: int) -> EvalItem:
        """The item with its options rotated by ``shift``: option ``i`` is shown under letter ``i - shift``
        (mod the option count), and the target letter moves with its option.

        >>> item = choice_item("piqa", "piqa", "piqa/0", "Goal: dry a cup", ["use a towel", "use water"], 0)
        >>> moved = item.rotated(1)
        >>> print(moved.query)
        Goal: dry a cup
        A. use water
        B. use a towel
        Answer:
        >>> moved.target
        'B'
        """
        count = len(self.options)
        if count < 2 or count != len(self.choices):
            raise ValueError(
                f"{self.item_id}: only multiple-choice items built with their option texts can be re-ordered "
                f"(got {count} option texts for choices {self.choices}); build them with choice_item()"
            )
        shift %= count
        options = self.options[shift:] + self.options[:shift]
        target = self.choices[(self.choices.index(self.target) - shift) % count]
        answer = target if self.answer == self.target else self.answer
        return replace(self, query=choice_query(self.stem, options), target=target, answer=answer, options=options)


def choice_query(stem: str, options: Sequence[str]) -> str:
    """The question block of a multiple-choice item: the stem, lettered options and the ``Answer:`` cue."""
    return f"{stem.strip()}\n{option_block(options)}\nAnswer:"


def choice_item(benchmark: str, task: str, item_id: str, stem: str, options: Sequence[str], label: int) -> EvalItem:
    """A multiple-choice item whose gold option is ``options[label]``, lettered A, B, ...

    >>> choice_item("piqa", "piqa", "piqa/0", "Goal: dry a cup", ["use a towel", "use water"], 0).target
    'A'
    """
    texts = tuple(str(option).strip() for option in options)
    if not 0 <= label < len(texts):
        raise ValueError(f"{item_id}: label {label} is outside the {len(texts)} options")
    letters = tuple(OPTION_LETTERS[: len(texts)])
    letter = letters[label]
    return EvalItem(benchmark, task, item_id, choice_query(stem, texts), letter, letter, letters, stem.strip(), texts)


@dataclass
class TaskData:
    """A task: one naive instruction, its fixed few-shot examples and its scorable test items."""

    benchmark: str
    task: str
    instruction: str
    shots: list[EvalItem] = field(default_factory=list)
    items: list[EvalItem] = field(default_factory=list)


@dataclass
class BenchmarkData:
    """All tasks of one benchmark; ``size`` (all scorable test items) is its weight in the average."""

    name: str
    tasks: list[TaskData]
    #: Where the data came from (a directory or a hub id), for the report.
    source: str = ""

    @property
    def spec(self) -> BenchmarkSpec:
        return BENCHMARK_SPECS[self.name]

    @property
    def size(self) -> int:
        return sum(len(task.items) for task in self.tasks)

    def task(self, name: str) -> TaskData:
        for task in self.tasks:
            if task.task == name:
                return task
        raise KeyError(f"benchmark {self.name!r} has no task {name!r}; tasks: {[t.task for t in self.tasks]}")


def build_prompt(instruction: str, shots: Sequence[EvalItem], item: EvalItem) -> str:
    """Instruction, demonstrations and the item's query, separated by blank lines."""
    blocks = [instruction.strip(), *(shot.demonstration() for shot in shots), item.query]
    return "\n\n".join(block for block in blocks if block)


def build_messages(instruction: str, shots: Sequence[EvalItem], item: EvalItem) -> list[dict[str, str]]:
    """The prompt as chat turns, the way lm-evaluation-harness does it with ``--apply_chat_template
    --fewshot_as_multiturn``: the instruction (the task description) is the system turn, each few-shot
    example is a user turn (its query) and an assistant turn (its answer), and the item's query is the last
    user turn.

    >>> item = EvalItem("gsm8k", "gsm8k", "gsm8k/0", "Q: What is 2 + 2?\\nA:", "4", "The answer is 4.")
    >>> [m["role"] for m in build_messages("Solve it.", [item], item)]
    ['system', 'user', 'assistant', 'user']
    """
    messages: list[dict[str, str]] = []
    if instruction.strip():
        messages.append({"role": "system", "content": instruction.strip()})
    for shot in shots:
        messages.append({"role": "user", "content": shot.query})
        messages.append({"role": "assistant", "content": shot.answer})
    messages.append({"role": "user", "content": item.query})
    return messages


def option_block(options: Sequence[str]) -> str:
    """``A. first\\nB. second...``"""
    if len(options) > len(OPTION_LETTERS):
        raise ValueError(f"at most {len(OPTION_LETTERS)} options are supported, got {len(options)}")
    return "\n".join(f"{OPTION_LETTERS[i]}. {text.strip()}" for i, text in enumerate(options))


def select_items(benchmark: BenchmarkData, limit: int | None, seed: int = 0) -> list[EvalItem]:
    """The items to score: all of them, or ``limit`` drawn with a fixed ``seed``.

    For BBH every task gets an even share of the limit (the first ``limit % tasks`` tasks in name order one
    more), so ``--limit 50`` covers all its tasks; other benchmarks draw one seeded sample from all items. Items
    keep their file order. The draw depends only on ``seed``, the benchmark and the items, not on the
    testing model or the prompt source, so every run scores the same items.

    >>> items = [EvalItem("bbh", t, f"{t}/{i}", "q", "a", "a") for t in "xy" for i in range(5)]
    >>> data = BenchmarkData("bbh", [TaskData("bbh", t, "", items=[i for i in items if i.task == t]) for t in "xy"])
    >>> sorted({item.task for item in select_items(data, 4)})
    ['x', 'y']
    """
    if limit is None:
        return [item for task in benchmark.tasks for item in task.items]
    if limit < 1:
        raise ValueError(f"limit must be >= 1 or None, got {limit}")
    tasks = sorted((task for task in benchmark.tasks if task.items), key=lambda task: task.task)
    if len(tasks) <= 1 or not benchmark.spec.spread_over_tasks:
        pool = [item for task in tasks for item in task.items]
        return _sample(pool, limit, f"{seed}:{benchmark.name}")
    share, extra = divmod(limit, len(tasks))
    chosen: list[EvalItem] = []
    spare = 0
    for index, task in enumerate(tasks):
        want = share + (1 if index < extra else 0) + spare
        picked = _sample(task.items, want, f"{seed}:{benchmark.name}:{task.task}")
        spare = want - len(picked)  # a task with too few items passes its share on
        chosen.extend(picked)
    return chosen


def _sample(pool: Sequence[EvalItem], count: int, seed: str) -> list[EvalItem]:
    if count >= len(pool):
        return list(pool)
    positions = sorted(random.Random(seed).sample(range(len(pool)), count))
    return [pool[position] for position in positions]
