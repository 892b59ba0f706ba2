"""FIPO vs DSPy's COPRO on the same small multiple-choice QA program, fully offline on CPU.

The program is ``dspy.Predict("question, choices -> answer")`` with a naive instruction. The task model is the
embedded SmolLM2-135M-Instruct through :class:`~fipo_integrations.LocalLM` (with
:class:`~fipo_integrations.dspy.adapter.PlainTextAdapter`: the 135M model cannot follow ChatAdapter's
``[[ ## field ## ]]`` format, see ``--adapter chat``). Both optimizers get the same training examples from
MMLU ``dev/`` (they score candidates on them) and are measured on a held-back sample of MMLU ``val/``; no
test split is used. FIPO uses its default optimizer model (embedded SmolLM2, plus the bundled FIPO adapter
when the package ships one) called raw; COPRO uses the same local SmolLM2 as its ``prompt_model`` through
DSPy's adapters. Printed: held-back accuracy before and after, optimizer-model generations, task-model
calls while compiling, and wall time.

    python benchmarks/dspy_vs_copro.py --data-dir ../shared/data [--train-size 12] [--eval-size 40]

Defaults take about 10-15 minutes on a 2-core CPU (one torch thread: on a shared 2-core machine two
contending threads are several times slower; ``--threads`` changes it).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fipo_integrations.backends.base import Backend, GenerationParams
from fipo_integrations.templates import ChatMessage

NAIVE_INSTRUCTION = "Answer the multiple-choice question."
LETTERS = "ABCD"


class CountingBackend(Backend):
    """Delegates to another backend and counts what reaches it (conversations and generated replies)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.requests = 0
        self.generations = 0

    @property
    def context_window(self) -> int | None:
        return self.inner.context_window

    def count_tokens(self, conversation: Sequence[ChatMessage]) -> int | None:
        return self.inner.count_tokens(conversation)

    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        self.requests += len(conversations)
        self.generations += len(conversations) * params.num_candidates
        return self.inner.generate(conversations, params)

    def choice_logprobs(
        self, conversations: Sequence[Sequence[ChatMessage]], choices: Sequence[str]
    ) -> list[list[float]] | None:
        self.requests += len(conversations)
        return self.inner.choice_logprobs(conversations, choices)


def load_mmlu(directory: Path, suffix: str) -> list[dict[str, Any]]:
    """All rows of ``<directory>/*_<suffix>.csv`` (headerless: question, A, B, C, D, answer)."""
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


def to_example(dspy: Any, row: dict[str, Any]) -> Any:
    choices = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, row["options"], strict=True))
    return dspy.Example(
        question=row["question"], choices=choices, answer=row["answer"], options=row["options"]
    ).with_inputs("question", "choices")


def predicted_letter(text: str, options: Sequence[str]) -> str | None:
    """The option a free-form reply picks: a leading letter, "answer is X", or the one option text it quotes."""
    text = text.strip()
    for pattern in (r"^\W*([ABCD])\b", r"answer\s*(?:is|:)?\s*\(?([ABCD])\b", r"\b([ABCD])[.)]\s"):
        match = re.search(pattern, text, flags=re.IGNORECASE if "answer" in pattern else 0)
        if match:
            return match.group(1).upper()
    quoted = [letter for letter, option in zip(LETTERS, options, strict=True) if option.strip().lower() in text.lower()]
    return quoted[0] if len(quoted) == 1 else None


def accuracy_metric(example: Any, prediction: Any, trace: Any = None) -> bool:
    return predicted_letter(str(prediction.answer or ""), example.options) == example.answer


@dataclass
class Row:
    method: str
    before: float
    after: float
    optimizer_generations: int
    task_calls: int
    compile_seconds: float
    instruction: str


def evaluate(dspy: Any, program: Any, devset: list[Any]) -> float:
    result = dspy.Evaluate(devset=devset, metric=accuracy_metric, num_threads=1, display_progress=True)(program)
    return float(result.score)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--train-size", type=int, default=12, help="MMLU dev examples both optimizers score on")
    parser.add_argument("--eval-size", type=int, default=40, help="held-back MMLU val examples")
    parser.add_argument("--num-candidates", type=int, default=4, help="FIPO candidates")
    parser.add_argument("--copro-breadth", type=int, default=4)
    parser.add_argument("--copro-depth", type=int, default=1)
    parser.add_argument("--copro-temperature", type=float, default=1.4, help="COPRO's init_temperature")
    parser.add_argument("--max-tokens", type=int, default=16, help="task-model reply budget")
    parser.add_argument("--adapter", choices=("plain", "chat"), default="plain")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-copro", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)

    import dspy
    import torch

    from fipo_integrations import FIPO, LocalLM, PromptOptimizer
    from fipo_integrations.backends.hf import TransformersBackend
    from fipo_integrations.dspy.adapter import PlainTextAdapter

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("fipo_integrations.dspy").setLevel(logging.INFO)
    rng = random.Random(args.seed)
    mmlu = args.data_dir / "mmlu"
    train = [to_example(dspy, r) for r in rng.sample(load_mmlu(mmlu / "dev", "dev"), args.train_size)]
    held_back = [to_example(dspy, r) for r in rng.sample(load_mmlu(mmlu / "val", "val"), args.eval_size)]

    task_backend = TransformersBackend("embedded:smollm2-135m-instruct")
    task_lm = LocalLM(task_backend, max_tokens=args.max_tokens, cache=False)
    adapter = PlainTextAdapter() if args.adapter == "plain" else dspy.ChatAdapter()
    dspy.configure(lm=task_lm, adapter=adapter)
    student = dspy.Predict(dspy.Signature("question, choices -> answer", instructions=NAIVE_INSTRUCTION))

    print(f"Evaluating the input program on {len(held_back)} held-back MMLU val questions ...", flush=True)
    before = evaluate(dspy, student, held_back)
    rows: list[Row] = []

    fipo_backend = CountingBackend(TransformersBackend(None))  # the default FIPO optimizer model
    calls_before, started = task_lm.calls, time.perf_counter()
    teleprompter = FIPO(
        metric=accuracy_metric,
        optimizer=PromptOptimizer(fipo_backend, cache=False),
        num_candidates=args.num_candidates,
        num_threads=1,
        seed=args.seed,
    )
    fipo_program = teleprompter.compile(student, trainset=train, valset=train)
    fipo_seconds, fipo_task_calls = time.perf_counter() - started, task_lm.calls - calls_before
    print(fipo_program.fipo_report.summary(), flush=True)
    for candidate in fipo_program.fipo_report.predictors[0].candidates:
        score = "-" if candidate.score is None else f"{candidate.score:.1f}"
        print(f"  {candidate.source:<22} score={score:<6} {candidate.reason or ''} {candidate.instruction[:160]!r}")
    rows.append(
        Row(
            "FIPO",
            before,
            evaluate(dspy, fipo_program, held_back),
            fipo_backend.generations,
            fipo_task_calls,
            fipo_seconds,
            fipo_program.signature.instructions,
        )
    )

    if not args.skip_copro:
        prompt_lm = LocalLM(task_backend, max_tokens=128, cache=False)  # same weights, its own call counter
        calls_before, started = task_lm.calls, time.perf_counter()
        copro = dspy.COPRO(
            prompt_model=prompt_lm,
            metric=accuracy_metric,
            breadth=args.copro_breadth,
            depth=args.copro_depth,
            init_temperature=args.copro_temperature,
        )
        copro_program = copro.compile(
            student, trainset=train, eval_kwargs={"num_threads": 1, "display_progress": False}
        )
        copro_seconds = time.perf_counter() - started
        copro_task_calls = task_lm.calls - calls_before
        rows.append(
            Row(
                "COPRO",
                before,
                evaluate(dspy, copro_program, held_back),
                prompt_lm.calls,
                copro_task_calls,
                copro_seconds,
                copro_program.signature.instructions,
            )
        )

    print()
    print(
        f"Task model: embedded SmolLM2-135M-Instruct ({args.adapter} adapter); FIPO optimizer: "
        f"{fipo_backend.model_id}; train {len(train)} MMLU dev, held-back {len(held_back)} MMLU val, "
        f"seed {args.seed}, {args.threads} torch thread(s)."
    )
    print()
    print(
        "| method | held-back acc. before | after | optimizer-model generations | task-model calls "
        "(compile) | compile wall time (s) |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.method} | {row.before:.1f}% | {row.after:.1f}% | {row.optimizer_generations} | "
            f"{row.task_calls} | {row.compile_seconds:.0f} |"
        )
    print()
    for row in rows:
        print(f"{row.method} instruction: {row.instruction!r}")
    if args.output:
        args.output.write_text(json.dumps([asdict(row) for row in rows], indent=2))


if __name__ == "__main__":
    main()
