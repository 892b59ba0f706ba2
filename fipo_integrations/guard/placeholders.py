"""Template placeholders, found with the parsers the template engines use.

Jinja2 / mustache tokens (``{{ x }}``, ``{% if %}``, ``{# #}``, ``{{#items}}``) are located with jinja2's
lexer (a regex only when the text is not valid Jinja, e.g. mustache sections); the rest of the text is parsed
with :class:`string.Formatter`, as LangChain does for f-string templates. A field is a placeholder when its
name is a variable name as LangChain accepts it: unicode names (``{文本}``), hyphens (``{question-id}``),
spaces inside the braces (``{ text }``), attribute/index access, conversions and format specs. Quoted
names (``{"a": 1}``, JSON) are not placeholders.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache

__all__ = ["extract_placeholders", "strip_placeholders"]

_DOUBLE_FALLBACK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
# A LangChain-style variable: any characters except quotes, braces and line breaks; a chain of .attr / [i].
_FIELD_NAME = re.compile(r"^[^\"'{}\n\\:!]*$")
_FORMATTER = string.Formatter()


def _jinja_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every Jinja/mustache token of ``text``."""
    if "{{" not in text and "{%" not in text and "{#" not in text:
        return []
    try:
        from jinja2 import Environment

        spans: list[tuple[int, int]] = []
        offset, start = 0, -1
        for _, kind, value in Environment().lex(text):
            if kind in ("variable_begin", "block_begin", "comment_begin"):
                start = offset
            offset += len(value)
            if kind in ("variable_end", "block_end", "comment_end") and start >= 0:
                spans.append((start, offset))
                start = -1
        if offset == len(text):
            return spans
    except Exception:  # not valid Jinja (mustache sections, a stray "{{" in prose): locate the tokens plainly
        pass
    return [(m.start(), m.end()) for m in _DOUBLE_FALLBACK.finditer(text)]


def _fields(segment: str) -> list[str]:
    """Raw ``{...}`` text of each replacement field of ``segment`` (an f-string template fragment)."""
    try:
        parsed = list(_FORMATTER.parse(segment))
    except ValueError:
        # Unbalanced braces somewhere (JSON, prose): parse each brace group on its own.
        found: list[str] = []
        for match in re.finditer(r"\{[^{}]*\}", segment):
            found += _fields(match.group(0))
        return found
    fields = []
    for _, name, spec, conversion in parsed:
        if name is None or not _FIELD_NAME.match(name.split(".")[0].split("[")[0]):
            continue
        if spec and ("{" in spec or "\n" in spec):
            continue
        raw = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        fields.append(raw)
    return fields


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[str, ...]:
    """Every placeholder of ``text`` in order of kind: Jinja/mustache tokens first, then f-string fields."""
    spans = _jinja_spans(text)
    tokens = [re.sub(r"\s+", "", text[start:end]) for start, end in spans]
    last = 0
    for start, end in [*spans, (len(text), len(text))]:
        # "{{" / "}}" left in a piece are f-string escapes of literal braces, which Formatter skips.
        tokens += _fields(text[last:start])
        last = end
    return tuple(tokens)


def extract_placeholders(text: str) -> Counter[str]:
    """All template tokens of ``text``: f-string fields as written, Jinja/mustache tokens without spaces.

    >>> sorted(extract_placeholders("Hi {name}, {{literal}} and {{ var }} {% if x %}"))
    ['{%ifx%}', '{name}', '{{literal}}', '{{var}}']
    >>> sorted(extract_placeholders("翻译 {文本} for { text } and {question-id}; JSON {\\"a\\": 1}"))
    ['{ text }', '{question-id}', '{文本}']
    """
    return Counter(_tokens(text))


def strip_placeholders(text: str) -> str:
    """``text`` with every placeholder replaced by a space (for word-level checks)."""
    for start, end in reversed(_jinja_spans(text)):
        text = text[:start] + " " + text[end:]
    for token in sorted(set(_tokens(text)), key=len, reverse=True):
        text = text.replace(token, " ")
    return text
