"""Render program inputs/outputs as the plain text the FIPO template shows as silver/golden responses.

Pure functions (no dspy import), shared by the teleprompter and the GEPA proposer.

>>> render_records([({"question": "2 + 2?"}, {"answer": "4"})], output_label="Output")
'Example 1\\nInput:\\nquestion: 2 + 2?\\nOutput:\\nanswer: 4'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["clip", "render_fields", "render_records"]

#: Characters kept per field value; the engine also cuts responses to fit the model's context.
MAX_VALUE_CHARS = 400


def clip(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis) and stripped.

    >>> clip("abcdef", 4)
    'abc…'
    """
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_fields(values: Mapping[str, Any] | str) -> str:
    """``name: value`` lines (a string is kept as is, clipped)."""
    if isinstance(values, str):
        return clip(values)
    return "\n".join(f"{name}: {clip(str(value))}" for name, value in values.items())


def render_records(
    records: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | str]],
    *,
    output_label: str,
    notes: Sequence[str | None] | None = None,
    note_label: str = "Feedback",
) -> str:
    """Numbered ``Input`` / ``<output_label>`` blocks, optionally with a note per record."""
    blocks = []
    for index, (inputs, outputs) in enumerate(records):
        lines = [f"Example {index + 1}", "Input:", render_fields(inputs)]
        rendered = render_fields(outputs)
        if rendered:
            lines += [f"{output_label}:", rendered]
        note = notes[index] if notes is not None and index < len(notes) else None
        if note and note.strip():
            lines += [f"{note_label}:", clip(note)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
