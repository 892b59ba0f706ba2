"""Turn an optimizer model's raw reply into the bare rewritten prompt.

Small models echo labels ("Golden Prompt:"), wrap the prompt in code fences or quotes, and add chatter
("This prompt is clearer because..."). :func:`clean_rewrite` removes those and nothing else.

>>> clean_rewrite('Golden Prompt: "Solve {problem}. End with: The answer is N."')
'Solve {problem}. End with: The answer is N.'
>>> clean_rewrite("```\\nSummarise {text} in one sentence.\\n```")
'Summarise {text} in one sentence.'
"""

from __future__ import annotations

import re

__all__ = ["clean_rewrite"]

_LABEL = re.compile(
    r"""^\s*(?:\#{1,6}\s*)?(?:\*\*|__)?\s*
        (?:here\s+is\s+|here's\s+)?(?:the\s+|an?\s+|my\s+|your\s+)?
        (?:improved|optimi[sz]ed|rewritten|revised|refined|better|new|final|golden)?\s*
        (?:version\s+of\s+the\s+)?
        (?:golden\s+)?prompt(?:\s+\(golden\))?
        (?:\s+is)?\s*(?:\*\*|__)?\s*[:\-–]\s*(?:\*\*|__)?\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_LABEL_LINE = re.compile(
    r"^\s*(?:\#{1,6}\s*)?(?:\*\*)?\s*(?:golden|optimi[sz]ed|improved|rewritten)\s+prompt\s*(?:\*\*)?\s*:?\s*(?:\*\*)?\s*$",
    re.IGNORECASE,
)
_CHATTER_START = re.compile(
    r"^\s*(?:\*\*)?(?:note|explanation|rationale|changes(?:\s+made)?|why\s+this\s+works|this\s+(?:golden\s+|"
    r"optimi[sz]ed\s+|improved\s+|revised\s+|new\s+)?prompt|the\s+(?:golden|optimi[sz]ed|improved|revised)\s+prompt|"
    r"i\s+hope|let\s+me\s+know|feel\s+free|in\s+this\s+(?:version|prompt)|i\s+(?:have\s+)?(?:made|added|"
    r"rewrote|improved)|### silver|### golden response|### requirements)\b",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^```[\w+-]*\s*\n(.*?)\n?```$", re.DOTALL)
_QUOTE_PAIRS = (('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("`", "`"))


def _strip_wrapping_quotes(text: str) -> str:
    for opening, closing in _QUOTE_PAIRS:
        if len(text) >= 2 and text.startswith(opening) and text.endswith(closing):
            inner = text[len(opening) : -len(closing)]
            # Only unwrap a single quoted span, not '"a" and "b"'.
            if opening not in inner and closing not in inner:
                return inner.strip()
    return text


def _drop_trailing_chatter(text: str) -> str:
    paragraphs = re.split(r"\n\s*\n", text)
    kept: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        if index > 0 and _CHATTER_START.match(paragraph):
            break
        kept.append(paragraph)
    return "\n\n".join(kept)


def clean_rewrite(raw: str, *, original: str | None = None) -> str:
    """Strip echoed labels, wrapping code fences and quotes, and trailing chatter from a model reply.

    ``original`` is the naive prompt; when it is itself fenced or quoted, those are kept.
    """
    text = raw.replace("\r\n", "\n").strip()
    if not text:
        return ""
    original_text = (original or "").strip()
    # A reply that opens with a label line ("Golden Prompt:") followed by the prompt on the next lines.
    lines = text.split("\n")
    while lines and (_LABEL_LINE.match(lines[0]) or not lines[0].strip()):
        lines = lines[1:]
    text = "\n".join(lines).strip()
    text = _LABEL.sub("", text, count=1).strip()
    if not original_text.startswith("```"):
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1).strip()
    text = _drop_trailing_chatter(text).strip()
    if original_text[:1] not in {'"', "'", "“", "`"}:
        text = _strip_wrapping_quotes(text)
    text = _LABEL.sub("", text, count=1).strip()
    return text
