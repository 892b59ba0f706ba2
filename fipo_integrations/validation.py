"""Shared input checks: one place decides what a word budget and a piece of prompt text may be.

Text policy: invalid text is **rejected with a clear error, never repaired silently**. A Python ``str``
holding a lone surrogate (``"\\ud800"``, or ``"\\udcff"`` left by ``errors="surrogateescape"`` when bytes
that are not UTF-8 were decoded) cannot be encoded, so no tokenizer can take it; bytes that are not UTF-8
(stdin, a ``--file`` line) are reported with the offending byte and its position. Fix the input (for
example ``iconv -f LATIN1 -t UTF-8``, or ``text.encode("utf-8", "replace").decode()``) and run again.

>>> check_max_words(20)
20
>>> check_max_words(True)
Traceback (most recent call last):
...
TypeError: max_words must be a positive int or None, got bool True; pass a whole number of words such as max_words=40
>>> check_text("Summarise {text}.", "prompt")
'Summarise {text}.'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["check_max_words", "check_text", "decode_utf8", "iter_jsonl", "parse_json"]


def check_max_words(value: Any, name: str = "max_words") -> int | None:
    """``value`` if it is ``None`` or a positive ``int``; ``bool``, ``str`` and ``float`` are rejected.

    Raises ``TypeError`` for the wrong type (no silent coercion of ``"20"`` or ``20.0``) and ``ValueError``
    for a number below 1.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be a positive int or None, got {type(value).__name__} {value!r}; "
            f"pass a whole number of words such as {name}=40"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive int or None, got {value}; pass at least 1 (or None for a default)")
    return value


def _surrogate_position(text: str) -> int | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def check_text(value: Any, name: str = "prompt") -> str:
    """``value`` if it is a ``str`` that is valid Unicode (no lone surrogates); ``TypeError``/``ValueError`` else.

    Emptiness is not checked here (a silver response may be empty); callers that need text check that.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}; pass the text itself")
    position = _surrogate_position(value)
    if position is not None:
        char = value[position]
        origin = (
            f" (the byte 0x{ord(char) - 0xDC00:02x} of input that was not UTF-8)"
            if 0xDC80 <= ord(char) <= 0xDCFF
            else ""
        )
        raise ValueError(
            f"{name} is not valid Unicode: lone surrogate {char!r} at character {position}{origin}; "
            "decode the source as UTF-8, or repair it with text.encode('utf-8', 'replace').decode()"
        )
    return value


def decode_utf8(data: bytes, source: str) -> str:
    """``data`` decoded as UTF-8 (a leading BOM is dropped), or ``ValueError`` naming ``source`` and the byte.

    >>> decode_utf8(b"Summarise {text}", "stdin")
    'Summarise {text}'
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{source} is not valid UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start}; "
            "save it as UTF-8 (e.g. `iconv -f LATIN1 -t UTF-8`) and try again"
        ) from None


def parse_json(text: str) -> Any:
    """``json.loads`` whose error says where the JSON breaks.

    >>> parse_json('{"prompt": "Hi"')
    Traceback (most recent call last):
    ...
    ValueError: not valid JSON (Expecting ',' delimiter at column 16)
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc


def iter_jsonl(text: str, where: str, *, error: Callable[[str], Exception] = ValueError) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of JSONL ``text``; a bad line raises ``error`` with
    ``"WHERE:LINE: not valid JSON (...)"``.

    >>> list(iter_jsonl('"a"\\n\\n{"b": 1}', "x.jsonl"))
    [(1, 'a'), (3, {'b': 1})]
    >>> list(iter_jsonl("[1,", "x.jsonl"))
    Traceback (most recent call last):
    ...
    ValueError: x.jsonl:1: not valid JSON (Expecting value at column 4)
    """
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield number, parse_json(line)
            except ValueError as exc:
                raise error(f"{where}:{number}: {exc}") from exc
