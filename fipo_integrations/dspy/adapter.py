"""A plain-text DSPy adapter for small local models.

DSPy's ``ChatAdapter`` asks the model to reply with ``[[ ## field ## ]]`` markers and its ``JSONAdapter``
with a JSON object. A 135M-parameter model such as SmolLM2 rarely does either, so every call fails to parse.
:class:`PlainTextAdapter` asks for what small instruct models do produce: for one output field the whole
reply *is* the value; for several, ``Label: value`` lines in a fixed order. The system message is the
signature's instructions (what the FIPO teleprompter optimizes) followed by a one-line format note.

>>> import dspy
>>> adapter = PlainTextAdapter()
>>> adapter.parse(dspy.Signature("question -> answer"), "  Paris \\n")
{'answer': 'Paris'}
>>> adapter.parse(dspy.Signature("question -> reasoning, answer"), "Reasoning: it is the capital.\\nAnswer: Paris")
{'reasoning': 'it is the capital.', 'answer': 'Paris'}
"""

from __future__ import annotations

import re
from typing import Any

from .._deps import require

dspy = require("dspy", feature="the DSPy integration")

from dspy.adapters.utils import format_field_value, parse_value  # noqa: E402

__all__ = ["PlainTextAdapter"]


def _label(name: str, field: Any) -> str:
    extra = getattr(field, "json_schema_extra", None) or {}
    prefix = extra.get("prefix") if isinstance(extra, dict) else None
    if isinstance(prefix, str):
        label = prefix.strip().rstrip(":").strip()
        # A short field label ("Answer:"); a long prefix ("Reasoning: Let's think...") is a prompt, not a label.
        if label and ":" not in label and len(label.split()) <= 5:
            return label
    return name.replace("_", " ").strip().capitalize()


class PlainTextAdapter(dspy.Adapter):  # type: ignore[misc,name-defined]
    """Format prompts as plain instructions plus ``Label: value`` inputs; parse plain replies.

    Use it for small local task models: ``dspy.configure(lm=LocalLM(), adapter=PlainTextAdapter())``.
    Few-shot demos become earlier user/assistant turns. Non-string output fields are parsed with DSPy's own
    value parser (so ``int``, ``bool`` and ``Literal`` fields work when the reply is just the value).
    """

    def format_system_message(self, signature: Any) -> str:
        parts = [self.format_task_description(signature)]
        structure = self.format_field_structure(signature)
        if structure:
            parts.append(structure)
        return "\n\n".join(part for part in parts if part)

    def format_field_description(self, signature: Any) -> str:
        inputs = ", ".join(_label(n, f) for n, f in signature.input_fields.items())
        outputs = ", ".join(_label(n, f) for n, f in signature.output_fields.items())
        return f"Inputs: {inputs}. Outputs: {outputs}."

    def format_field_structure(self, signature: Any) -> str:
        outputs = signature.output_fields
        if len(outputs) <= 1:
            return ""
        lines = "\n".join(f"{_label(n, f)}: ..." for n, f in outputs.items())
        return f"Reply in exactly this format:\n{lines}"

    def format_task_description(self, signature: Any) -> str:
        return str(signature.instructions).strip()

    def format_user_message_content(
        self,
        signature: Any,
        inputs: dict[str, Any],
        prefix: str = "",
        suffix: str = "",
        main_request: bool = False,
    ) -> str:
        blocks = [prefix] if prefix else []
        for name, field in signature.input_fields.items():
            if name in inputs:
                value = format_field_value(field_info=field, value=inputs[name])
                blocks.append(f"{_label(name, field)}: {value}")
        if suffix:
            blocks.append(suffix)
        return "\n\n".join(str(block) for block in blocks).strip()

    def format_assistant_message_content(
        self, signature: Any, outputs: dict[str, Any], missing_field_message: str | None = None
    ) -> str:
        fields = signature.output_fields
        if len(fields) == 1:
            name, field = next(iter(fields.items()))
            value = outputs.get(name, missing_field_message)
            return str(format_field_value(field_info=field, value=value)) if value is not None else ""
        lines = []
        for name, field in fields.items():
            value = outputs.get(name, missing_field_message)
            text = format_field_value(field_info=field, value=value) if value is not None else ""
            lines.append(f"{_label(name, field)}: {text}")
        return "\n".join(lines)

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        fields = signature.output_fields
        text = completion.strip()
        raw = {next(iter(fields)): text} if len(fields) == 1 else self._split_labels(fields, text)
        parsed: dict[str, Any] = {}
        for name, value in raw.items():
            annotation = fields[name].annotation
            if annotation is str:
                parsed[name] = value
                continue
            try:
                parsed[name] = parse_value(value, annotation)
            except Exception as exc:
                from dspy.utils.exceptions import AdapterParseError

                raise AdapterParseError(
                    adapter_name=type(self).__name__,
                    signature=signature,
                    lm_response=completion,
                    message=f"Could not parse field {name!r} as {annotation}: {exc}",
                ) from exc
        return parsed

    @staticmethod
    def _split_labels(fields: dict[str, Any], text: str) -> dict[str, str]:
        """Split ``Label: value`` sections; the last field takes unlabeled text, missing ones are empty."""
        names = list(fields)
        labels = {name: _label(name, field) for name, field in fields.items()}
        alternatives = "|".join(re.escape(label) for label in sorted(labels.values(), key=len, reverse=True))
        pattern = re.compile(rf"^\s*\**\s*({alternatives})\s*\**\s*:\s*\**\s*", re.IGNORECASE | re.MULTILINE)
        by_label = {label.lower(): name for name, label in labels.items()}
        matches = list(pattern.finditer(text))
        values: dict[str, str] = {}
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
            name = by_label[match.group(1).lower()]
            values.setdefault(name, text[match.end() : end].strip())
        if not matches:
            values[names[-1]] = text
        return {name: values.get(name, "") for name in names}
