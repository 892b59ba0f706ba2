"""References to content the prompt does not have, and meaning reversed by a dropped negation.

Seen in rewrites by a trained 0.5B optimizer that a blind reader judged worse than the original:

* ``"..., as in the examples."`` for a prompt that has no examples: no word for them and no two lines split at
  the same separator (``XIV = 14``) (``invented_example``);
* a rewrite that ends in an empty input field, ``"...\\n\\nText:"``, when the original has none to fill
  (``request_for_input``: it waits for input that will never come);
* ``"Which of the following are not colors of the rainbow?"`` -> ``"List the colors of the rainbow"``: the
  negation that picks the answer is gone and no other word takes its place (``different_task``).

>>> from fipo_integrations.guard.text import Pair
>>> [r.code for r in reference_reasons(Pair("What ages count as toddler?", "List the ages, as in the examples."))]
['invented_example']
"""

from __future__ import annotations

import re

from .placeholders import extract_placeholders
from .reasons import Reason
from .text import Pair

__all__ = ["reference_reasons"]

#: A pointer to worked examples or to a layout "shown" somewhere.
_EXAMPLE_REFERENCE = re.compile(
    r"\b(?:as|like)\s+(?:(?:shown|given|seen|done|illustrated)\s+)?in\s+the\s+(?:examples?|samples?|demonstrations?)\b|"
    r"\b(?:as|like)\s+the\s+examples?\b|"
    r"\bthe\s+(?:same\s+\w+\s+as\s+(?:in\s+)?the\s+examples?|examples?\s+(?:above|below|given))\b|"
    r"\bfollow(?:ing)?\s+the\s+(?:format|style|pattern)\s+of\s+the\s+examples?\b",
    re.I,
)
#: A pointer to something "shown below": only an original of one line has nothing there to show.
_SHOWN_REFERENCE = re.compile(r"\bas\s+(?:shown|illustrated|demonstrated)\s+(?:below|above)\b", re.I)
#: Words with which an original points at examples of its own ("compliments like these: ...").
_HAS_REFERENCE = re.compile(
    r"\b(?:examples?|e\.g\.|for\s+instance|samples?|demonstrations?|shown|"
    r"(?:like|such\s+as|similar\s+to)\s+(?:these|this|those|the\s+following))\b",
    re.I,
)
#: What separates the two sides of an example line: "XIV = 14", "listen / silent -> yes", "Q: ...".
_EXAMPLE_SEPARATOR = re.compile(r"->|=>|→|=|:|\t|\|")
#: A last line that is only a field label: "Text:", "Input sentence:".
_EMPTY_FIELD = re.compile(r"^\s*([A-Za-z][\w ]{0,30}):\s*$")
#: A negation that decides which items answer a selection ("which ... are not", "every ... except").
_SELECTING_NEGATION = re.compile(
    r"\b(?:which|what|that|who|whose|where|identify|select|find|list|name|pick|choose)\b[^.?!\n:]{0,60}?"
    r"\b(?:not|never|n't|no\s+longer)\b|\b(?:except|excluding|other\s+than)\b",
    re.I,
)
#: Any word that can carry a negation in other words ("other than", "lacks", "non-fiction", "unsafe").
_NEGATION_WORDS = re.compile(
    r"\b(?:not|never|no|none|nor|without|except\w*|exclud\w*|cannot|\w+n't|other\s+than|besides|lack\w*|"
    r"missing|outside|absent|non-?\w+|free\s+of|odd\s+one|fail\w*|wrong|incorrect|false|un\w+|"
    r"in(?:valid|correct|compatible))\b",
    re.I,
)
_IDIOM = re.compile(r"\b(?:whether\s+)?or\s+not\b", re.I)


def _has_examples(text: str) -> bool:
    """``text`` mentions examples, or two of its lines split at the same separator (few-shot lines)."""
    if _HAS_REFERENCE.search(text):
        return True
    seen: dict[str, int] = {}
    for line in text.splitlines():
        found = _EXAMPLE_SEPARATOR.search(line)
        if found and 0 < found.start() < len(line.rstrip()) - 1:
            seen[found.group(0)] = seen.get(found.group(0), 0) + 1
    return any(count >= 2 for count in seen.values())


def _example_reference(pair: Pair) -> str | None:
    found = _EXAMPLE_REFERENCE.search(pair.rewrite)
    if found is None and len([line for line in pair.original.splitlines() if line.strip()]) <= 1:
        found = _SHOWN_REFERENCE.search(pair.rewrite)
    if found is None or _has_examples(pair.original):
        return None
    return " ".join(found.group(0).split())


def _empty_field(pair: Pair) -> str | None:
    lines = [line for line in pair.rewrite.splitlines() if line.strip()]
    if len(lines) < 2 or extract_placeholders(pair.original):
        return None
    field = _EMPTY_FIELD.match(lines[-1])
    before = [line for line in pair.original.splitlines() if line.strip()]
    if field is None or (before and before[-1].rstrip().endswith(":")):
        return None
    return field.group(0).strip()


def _dropped_negation(pair: Pair) -> str | None:
    negation = _SELECTING_NEGATION.search(_IDIOM.sub(" ", pair.original))
    if negation is None or _NEGATION_WORDS.search(pair.rewrite):
        return None
    return " ".join(negation.group(0).split())


def reference_reasons(pair: Pair) -> list[Reason]:
    """Reasons for references to examples or input the original lacks and for a dropped selecting negation."""
    reasons = []
    example = _example_reference(pair)
    if example is not None:
        reasons.append(Reason("invented_example", f"refers to examples the prompt does not have: {example!r}"))
    field = _empty_field(pair)
    if field is not None:
        reasons.append(Reason("request_for_input", f"ends in an empty input field the prompt lacks: {field!r}"))
    negation = _dropped_negation(pair)
    if negation is not None:
        reasons.append(Reason("different_task", f"drops the negation that picks the answer: {negation!r}"))
    return reasons
