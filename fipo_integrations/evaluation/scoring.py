"""Answer extraction and exact-match scoring.

Generation benchmarks (GSM8K, BBH) are scored by exact match after extraction: the text after the last
"the answer is" when the model wrote one, otherwise the first line of the reply; then the form of the gold
answer decides what to compare (a number, an option letter ``(A)``, a label such as yes/no, True/False,
valid/invalid, or normalised text such as a list of words). GSM8K takes the first number after the last
"the answer is" (after its last "=" when the model wrote a calculation there) and falls back to the last
number of the reply. Multiple-choice benchmarks are scored by the highest option-letter log-probability,
or by the letter extracted from a generated reply.

>>> score_generation("gsm8k", "She has 9 eggs, 9 * 2 = 18. The answer is $18.", "18")
('18', True)
>>> score_generation("bbh", "The answer is (B).", "(B)")
('(B)', True)
>>> score_generation("bbh", "no, that is not plausible", "no")
('no', True)
>>> score_choice([-2.0, -0.5, -3.0, -4.0], ("A", "B", "C", "D"), "B")
('B', True)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

__all__ = [
    "answer_segment",
    "extract_label",
    "extract_number",
    "extract_option_letter",
    "normalize_text",
    "score_choice",
    "score_choice_reply",
    "score_generation",
]

_ANSWER_IS = re.compile(r"answer\s+is\s*:?\s*", re.IGNORECASE)
_CUE = re.compile(r"^\s*(?:A|Answer)\s*:\s*", re.IGNORECASE)
_NUMBER = re.compile(r"(?:(?<![\w)])-)?\$?\d[\d,]*(?:\.\d+)?")
_LABEL_SETS = ({"true", "false"}, {"yes", "no"}, {"valid", "invalid"})
_LETTER_TARGET = re.compile(r"^\(([A-Z])\)$")
_NUMERIC_TARGET = re.compile(r"^-?\d+(?:\.\d+)?$")


def answer_segment(response: str) -> str:
    """The part of ``response`` that holds the answer.

    The text after the last "the answer is" up to the end of its line, else the first non-empty line with a
    leading ``A:``/``Answer:`` removed.

    >>> answer_segment("Let me think.\\nSo the answer is (C).\\nQ: next")
    '(C).'
    >>> answer_segment("A: 24\\nmore text")
    '24'
    """
    matches = list(_ANSWER_IS.finditer(response))
    if matches:
        tail = response[matches[-1].end() :]
        return tail.split("\n", 1)[0].strip()
    for line in response.splitlines():
        line = _CUE.sub("", line).strip()
        if line:
            return line
    return ""


def _normalize_number(raw: str) -> str | None:
    text = raw.replace("$", "").replace(",", "").rstrip(".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def extract_number(text: str, *, last: bool = True) -> str | None:
    """The last (or first) number in ``text``, without ``$``, commas or trailing zeros.

    >>> extract_number("It costs $1,250.50 in total, not 3.")
    '3'
    >>> extract_number("It costs $1,250.50 in total, not 3.", last=False)
    '1250.5'
    >>> extract_number("no digits") is None
    True
    """
    found = _NUMBER.findall(text)
    if not found:
        return None
    return _normalize_number(found[-1] if last else found[0])


def extract_option_letter(text: str, letters: Sequence[str] = tuple("ABCDEFGHIJKLMNOPQR")) -> str | None:
    """The option letter a reply chose, or ``None``.

    Looks for "the answer is (X)"/"answer: X", then the first ``(X)``, then a reply that starts with the
    letter (``B``, ``B.``, ``B)``).

    >>> extract_option_letter("I think the answer is (C) because ...")
    'C'
    >>> extract_option_letter("B. Use a towel", "AB")
    'B'
    >>> extract_option_letter("A good idea is to use a towel", "AB") is None
    True
    """
    allowed = "".join(letters)
    if not allowed:
        return None
    group = f"[{re.escape(allowed)}]"
    for pattern in (rf"(?i:answer)\s*(?:(?i:is))?\s*:?\s*\(?({group})\b", rf"\(({group})\)"):
        match = re.search(pattern, text)
        if match:
            return match.group(1)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    match = re.match(rf"\s*(?:A:|Answer:)?\s*({group})(?:[.):]|\s*$|\s+-)", first_line)
    return match.group(1) if match else None


def extract_label(text: str, labels: Sequence[str]) -> str | None:
    """The label (case-insensitive, whole word) that occurs first in ``text``.

    >>> extract_label("It is invalid, not valid.", ["valid", "invalid"])
    'invalid'
    """
    best: tuple[int, str] | None = None
    for label in labels:
        match = re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text, flags=re.IGNORECASE)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), label)
    return best[1] if best else None


def normalize_text(text: str) -> str:
    """Lower case, commas as spaces, single spaces, no surrounding quotes or final period.

    >>> normalize_text('  "Apple, banana   cherry." ')
    'apple banana cherry'
    """
    text = text.replace(",", " ").lower()
    text = " ".join(text.split())
    return text.strip(" \"'`").rstrip(".").strip()


def _score_bbh(response: str, target: str) -> tuple[str, bool]:
    segment = answer_segment(response)
    letter = _LETTER_TARGET.match(target)
    if letter:
        found = extract_option_letter(segment) or extract_option_letter(response)
        prediction = f"({found})" if found else ""
        return prediction, prediction == target
    lowered = target.lower()
    for labels in _LABEL_SETS:
        if lowered in labels:
            label = extract_label(segment, sorted(labels))
            return (label or ""), label == lowered
    if _NUMERIC_TARGET.match(target):
        number = extract_number(segment)
        return (number or ""), number is not None and number == _normalize_number(target)
    prediction = normalize_text(segment)
    return prediction, prediction == normalize_text(target)


def _score_gsm8k(response: str, target: str) -> tuple[str, bool]:
    matches = list(_ANSWER_IS.finditer(response))
    number = None
    if matches:
        segment = response[matches[-1].end() :].split("\n", 1)[0]
        # "The answer is 4 * 5 = 20 minutes." states its result after the last "=".
        number = extract_number(segment.rsplit("=", 1)[-1], last=False)
    if number is None:
        number = extract_number(response)
    return (number or ""), number is not None and number == _normalize_number(target)


def score_generation(benchmark: str, response: str, target: str) -> tuple[str, bool]:
    """``(extracted prediction, correct)`` of a generated ``response`` against the gold ``target``."""
    if benchmark == "gsm8k":
        return _score_gsm8k(response, target)
    if benchmark == "bbh":
        return _score_bbh(response, target)
    raise ValueError(f"score_generation scores gsm8k and bbh, got {benchmark!r}; use score_choice_reply")


def score_choice(logprobs: Sequence[float], choices: Sequence[str], target: str) -> tuple[str, bool]:
    """``(letter with the highest log-probability, correct)``; ties go to the first letter."""
    if len(logprobs) != len(choices) or not choices:
        raise ValueError(f"need one log-probability per choice, got {len(logprobs)} for {len(choices)} choices")
    best = max(range(len(choices)), key=lambda index: (logprobs[index], -index))
    return choices[best], choices[best] == target


def score_choice_reply(response: str, choices: Sequence[str], target: str) -> tuple[str, bool]:
    """``(letter extracted from a generated reply, correct)`` for a multiple-choice item."""
    letter = extract_option_letter(response, choices) or ""
    return letter, letter == target
