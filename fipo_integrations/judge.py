"""The A/B judge: the discriminator template asks a backend which of two prompts is better.

:func:`judge_pairs` judges pairs in one order each (batched; the letter's log-probability where the backend
exposes it, else a parsed short reply). :func:`duel_wins` judges a challenger against an incumbent in both
orders, which cancels the model's position bias; the engine, the DSPy teleprompter and IPL all judge here.

>>> from fipo_integrations.testing import ScriptedBackend
>>> always_a = ScriptedBackend(lambda p: "", judge_reply="A")
>>> judge_pairs(always_a, [("Sum 2 and 3.", "Add 2 and 3; reply with the number.", "Sum 2 and 3.", None)])
['A']
>>> duel_wins(always_a, [("Sum 2 and 3.", "Add 2 and 3; reply with the number.", "Sum 2 and 3.", None)])
[1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .backends.base import Backend, GenerationParams
from .templates import parse_judge_choice, render_discriminator_messages

__all__ = ["Choice", "Pair", "duel_wins", "judge_pairs"]

Choice = Literal["A", "B"]
#: ``(raw prompt, prompt A, prompt B, golden response or None)``.
Pair = tuple[str, str, str, str | None]


def judge_pairs(backend: Backend, pairs: Sequence[Pair], *, batch_size: int | None = None) -> list[Choice | None]:
    """``"A"``, ``"B"`` or ``None`` (an unparsable reply) for each pair, judged in the order given.

    ``batch_size`` bounds the conversations per backend call (``None``: all in one call).
    """
    conversations = [render_discriminator_messages(raw, a, b, golden_response=golden) for raw, a, b, golden in pairs]
    step = batch_size or max(len(conversations), 1)
    choices: list[Choice | None] = []
    for start in range(0, len(conversations), step):
        chunk = conversations[start : start + step]
        scores = backend.choice_logprobs(chunk, ["A", "B"])
        if scores is not None:
            choices.extend("A" if score_a >= score_b else "B" for score_a, score_b in scores)
        else:
            replies = backend.generate(chunk, GenerationParams(max_new_tokens=8))
            choices.extend(parse_judge_choice(reply[0]) if reply else None for reply in replies)
    return choices


def duel_wins(backend: Backend, duels: Sequence[Pair], *, batch_size: int | None = None) -> list[int]:
    """For each ``(raw, challenger, incumbent, golden)``, in how many of the two orders (0, 1 or 2) the judge
    prefers the challenger: as prompt A, then as prompt B. All ``2 * len(duels)`` judgements are batched."""
    pairs: list[Pair] = []
    for raw, challenger, incumbent, golden in duels:
        pairs += [(raw, challenger, incumbent, golden), (raw, incumbent, challenger, golden)]
    choices = judge_pairs(backend, pairs, batch_size=batch_size)
    return [int(choices[2 * i] == "A") + int(choices[2 * i + 1] == "B") for i in range(len(duels))]
