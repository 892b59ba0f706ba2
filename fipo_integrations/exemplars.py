"""Worked examples for the optimizer: a few (naive prompt, good rewrite) pairs shown before the user's prompt.

A small instruct model asked zero-shot to "rewrite this prompt" copies it, echoes the meta-prompt or grows it
into a verbose scaffold. Shown a few concise rewrites of similar prompts first (as earlier chat turns of the
same template), it imitates their shape: every fact kept, the output format stated, nothing invented. The
examples are chosen per prompt from a pool by the overlap of content words, so a classification prompt sees
classification rewrites; the bundled pool holds POP records written for this project (none from an
evaluation benchmark).

>>> pool = ExemplarPool([Exemplar("Translate to German: {text}", "Translate {text} into German. Reply with "
...     "the translation only."), Exemplar("Sum 2 and 3.", "What is 2 + 3? Reply with the number only.")], k=1)
>>> [e.prompt for e in pool.select("Translate to French: {sentence}")]
['Translate to German: {text}']
>>> len(pool.messages("Translate to French: {sentence}", [{"role": "user", "content": "..."}]))
3
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .guard.text import content_stems
from .templates import ChatMessage, render_optimizer_messages

__all__ = ["BUNDLED_EXEMPLARS", "Exemplar", "ExemplarPool"]

#: The pool shipped with the package (built by ``training/build_exemplars.py`` from POP seed records).
BUNDLED_EXEMPLARS = Path(__file__).parent / "data" / "exemplars.jsonl"


@dataclass(frozen=True)
class Exemplar:
    """One worked example: a naive prompt and the rewrite the optimizer should imitate."""

    prompt: str
    rewrite: str
    task_kind: str = ""

    @cached_property
    def stems(self) -> frozenset[str]:
        return frozenset(content_stems(self.prompt))


class ExemplarPool:
    """Choose ``k`` worked examples per prompt and show them as earlier turns of the optimizer's chat.

    Args:
        exemplars: the pool; each needs a non-empty prompt and rewrite.
        k: examples per prompt (0 turns the pool off).
    """

    def __init__(self, exemplars: Sequence[Exemplar], k: int = 3) -> None:
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative int, got {k!r}")
        bad = [i for i, e in enumerate(exemplars) if not (e.prompt.strip() and e.rewrite.strip())]
        if bad:
            raise ValueError(f"exemplars {bad[:5]} have an empty prompt or rewrite; drop them or fill them in")
        self.exemplars = list(exemplars)
        self.k = k

    @classmethod
    def from_jsonl(cls, path: str | Path, k: int = 3) -> ExemplarPool:
        """Read ``{"prompt", "rewrite"}`` rows, or POP records (``raw_prompt`` / ``gpt4_optimized_prompt``)."""
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"exemplar file {str(file)!r} does not exist; pass a JSONL of prompt/rewrite rows")
        exemplars = []
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                prompt = row.get("prompt", row.get("raw_prompt"))
                rewrite = row.get("rewrite", row.get("gpt4_optimized_prompt"))
            except (json.JSONDecodeError, AttributeError) as exc:
                raise ValueError(f"{file}:{number} is not a JSON object ({exc}); fix or remove the line") from None
            if not isinstance(prompt, str) or not isinstance(rewrite, str):
                raise ValueError(
                    f"{file}:{number} needs string fields prompt and rewrite (or raw_prompt and "
                    f"gpt4_optimized_prompt); got keys {sorted(row)}"
                )
            exemplars.append(Exemplar(prompt, rewrite, str(row.get("task_kind", ""))))
        return cls(exemplars, k=k)

    @classmethod
    def bundled(cls, k: int = 3) -> ExemplarPool:
        """The pool shipped with the package."""
        return cls.from_jsonl(BUNDLED_EXEMPLARS, k=k)

    def select(self, prompt: str) -> list[Exemplar]:
        """The ``k`` examples whose prompts share the most content words with ``prompt`` (cosine of the stem
        sets), at most one per task kind while others are left; ties keep the pool's order."""
        if self.k == 0 or not self.exemplars:
            return []
        stems = content_stems(prompt)

        def score(exemplar: Exemplar) -> float:
            shared = len(stems & exemplar.stems)
            return shared / math.sqrt(max(1, len(stems)) * max(1, len(exemplar.stems)))

        ranked = sorted(range(len(self.exemplars)), key=lambda i: -score(self.exemplars[i]))
        chosen: list[Exemplar] = []
        kinds: set[str] = set()
        for index in ranked:  # one per task kind first, for variety
            exemplar = self.exemplars[index]
            if exemplar.task_kind and exemplar.task_kind in kinds:
                continue
            chosen.append(exemplar)
            kinds.add(exemplar.task_kind)
            if len(chosen) == self.k:
                return chosen
        for index in ranked:
            if len(chosen) == self.k:
                break
            if self.exemplars[index] not in chosen:
                chosen.append(self.exemplars[index])
        return chosen

    def messages(self, prompt: str, rendered: list[ChatMessage]) -> list[ChatMessage]:
        """``rendered`` (the optimizer's messages for ``prompt``) after the chosen examples as chat turns: each
        example's prompt in the same template, and its rewrite as the assistant's reply. The most similar
        example comes last, nearest the user's prompt."""
        turns: list[ChatMessage] = []
        for exemplar in reversed(self.select(prompt)):
            turns += render_optimizer_messages(exemplar.prompt)
            turns.append({"role": "assistant", "content": exemplar.rewrite})
        return turns + list(rendered)
