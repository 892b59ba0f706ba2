"""Template optimization: find the instruction text of a prompt template, and put rewrites back safely.

A *slot* is one piece of instruction text: the template string of a ``PromptTemplate``, or of a targeted
message template of a ``ChatPromptTemplate`` (several text parts of a multimodal message are one slot). Only
slots change: ``input_variables``, ``partial_variables``, ``MessagesPlaceholder``\\ s, image parts, other
messages and the template format are kept, and every variable must survive the rewrite.

>>> from langchain_core.prompts import ChatPromptTemplate
>>> template = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "Answer {question}")])
>>> [(slot.role, slot.text) for slot in template_slots(template, "all")]
[('system', 'Be brief.'), ('human', 'Answer {question}')]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from langchain_core.messages import BaseMessage
from langchain_core.prompts import (
    AIMessagePromptTemplate,
    ChatMessagePromptTemplate,
    ChatPromptTemplate,
    HumanMessagePromptTemplate,
    MessagesPlaceholder,
    PromptTemplate,
    SystemMessagePromptTemplate,
)
from langchain_core.prompts.string import get_template_variables

from ..engine import OptimizationResult
from ._messages import TEXT_BLOCK_SEPARATOR, message_role, select_targets, text_of, with_text

__all__ = ["TemplateSlot", "TemplateT", "apply_template_rewrites", "golden_from_examples", "template_slots"]

TemplateT = TypeVar("TemplateT", bound=PromptTemplate | ChatPromptTemplate)

#: At most this many labelled examples are joined into the golden response.
MAX_GOLDEN_EXAMPLES = 3
#: Format name of literal text (a fixed ``BaseMessage`` inside a chat template): braces are not variables.
LITERAL = "literal"

_TEMPLATE_TOKEN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{[^{}]*\}", re.DOTALL)


@dataclass
class TemplateSlot:
    """One instruction text of a template to rewrite."""

    #: Index in ``ChatPromptTemplate.messages``; ``None`` for a ``PromptTemplate``.
    message_index: int | None
    role: str
    text: str
    #: ``"f-string"``, ``"jinja2"``, ``"mustache"`` or ``"literal"``.
    template_format: str
    #: For a multimodal message template: positions of its text parts in ``prompt`` (joined as one slot).
    part_indices: list[int] = field(default_factory=list)

    @property
    def variables(self) -> set[str]:
        return template_variables(self.text, self.template_format)


def template_variables(text: str, template_format: str) -> set[str]:
    """The variable names of ``text`` in its template format (none for literal text)."""
    if template_format == LITERAL:
        return set()
    return set(get_template_variables(text, template_format))


def _has_instruction_words(text: str) -> bool:
    """False when the text is only placeholders and punctuation: nothing to rewrite (``"{question}"``)."""
    return bool(re.search(r"[^\W\d_]{2,}", _TEMPLATE_TOKEN.sub(" ", text)))


def _message_template_role(message: Any) -> str:
    if isinstance(message, SystemMessagePromptTemplate):
        return "system"
    if isinstance(message, HumanMessagePromptTemplate):
        return "human"
    if isinstance(message, AIMessagePromptTemplate):
        return "ai"
    if isinstance(message, ChatMessagePromptTemplate):
        role = message.role.lower()
        return {"user": "human", "developer": "system"}.get(role, role)
    if isinstance(message, BaseMessage):
        return message_role(message)
    if isinstance(message, MessagesPlaceholder):
        return "placeholder"
    return "other"


def _text_parts(prompt: Any) -> list[tuple[int, PromptTemplate]]:
    parts = prompt if isinstance(prompt, list) else [prompt]
    return [(index, part) for index, part in enumerate(parts) if isinstance(part, PromptTemplate)]


def _slot_for_message(index: int, role: str, message: Any) -> TemplateSlot | None:
    if isinstance(message, BaseMessage):
        return TemplateSlot(index, role, text_of(message), LITERAL)
    prompt = getattr(message, "prompt", None)
    parts = _text_parts(prompt)
    if not parts:
        return None
    formats = {part.template_format for _, part in parts}
    if len(formats) != 1:
        return None
    text = TEXT_BLOCK_SEPARATOR.join(part.template for _, part in parts)
    indices = [i for i, _ in parts] if isinstance(prompt, list) else []
    return TemplateSlot(index, role, text, formats.pop(), indices)


def template_slots(template: PromptTemplate | ChatPromptTemplate, roles: str) -> list[TemplateSlot]:
    """The instruction texts of ``template`` that ``roles`` targets (see :data:`~._messages.Roles`).

    A ``PromptTemplate`` is one slot whatever ``roles`` says. Texts with no words outside their placeholders
    (``"{question}"``) are skipped: there is no instruction to rewrite.
    """
    if isinstance(template, PromptTemplate):
        slots = [TemplateSlot(None, "prompt", template.template, template.template_format)]
    elif isinstance(template, ChatPromptTemplate):
        message_roles = [_message_template_role(message) for message in template.messages]
        slots = []
        for index in select_targets(message_roles, roles):
            slot = _slot_for_message(index, message_roles[index], template.messages[index])
            if slot is not None:
                slots.append(slot)
    else:
        raise TypeError(
            f"optimize_template takes a PromptTemplate or ChatPromptTemplate, got {type(template).__name__}; "
            "for other prompt types optimize their text with PromptOptimizer.optimize()"
        )
    return [slot for slot in slots if slot.text.strip() and _has_instruction_words(slot.text)]


def golden_from_examples(
    template: PromptTemplate | ChatPromptTemplate, examples: Sequence[Mapping[str, Any]] | None
) -> str | None:
    """Check labelled examples against the template and join their outputs into one golden response.

    Each example is ``{"inputs": {variable: value}, "output": "expected response"}``; the template must render
    on the inputs (so the example really is an instance of this prompt).
    """
    if not examples:
        return None
    if isinstance(examples, (Mapping, str)):
        raise TypeError('examples must be a list of {"inputs": {...}, "output": "..."} dicts, got a single value')
    outputs: list[str] = []
    for number, example in enumerate(examples, start=1):
        if not isinstance(example, Mapping) or "output" not in example:
            raise ValueError(f'example {number} must be a dict {{"inputs": {{...}}, "output": "..."}}, got {example!r}')
        inputs, output = example.get("inputs") or {}, example["output"]
        if not isinstance(inputs, Mapping):
            raise TypeError(f"example {number}: inputs must be a dict of variable values, got {type(inputs).__name__}")
        if not isinstance(output, str) or not output.strip():
            raise ValueError(
                f"example {number}: output must be a non-empty str (the expected response), got {output!r}"
            )
        missing = sorted(set(template.input_variables) - set(inputs))
        if missing:
            raise ValueError(
                f"example {number} does not fill the template: missing {missing}; its inputs must give every "
                f"input variable of the template ({sorted(template.input_variables)})"
            )
        try:
            template.invoke(dict(inputs))
        except Exception as exc:
            raise ValueError(f"example {number} cannot be rendered by the template: {exc}") from exc
        outputs.append(output.strip())
    chosen = outputs[:MAX_GOLDEN_EXAMPLES]
    if len(chosen) == 1:
        return chosen[0]
    return "\n\n".join(f"Example {number}: {output}" for number, output in enumerate(chosen, start=1))


def _check_rewrite_text(slot: TemplateSlot, new_text: str) -> str | None:
    """``None`` when ``new_text`` can replace the slot; else why not (malformed template text)."""
    try:
        template_variables(new_text, slot.template_format)
    except Exception as exc:  # a stray brace from the model: keep the original
        return f"rewrite is not a valid {slot.template_format} template ({exc})"
    if slot.template_format == "f-string":
        try:
            PromptTemplate.from_template(new_text).format(**dict.fromkeys(slot.variables, "x"))
        except Exception as exc:
            return f"rewrite does not format as an f-string ({exc})"
    return None


def _require_same_variables(slot: TemplateSlot, new_text: str) -> None:
    before, after = slot.variables, template_variables(new_text, slot.template_format)
    lost, added = sorted(before - after), sorted(after - before)
    if lost or added:
        raise ValueError(
            f"the rewrite of the {slot.role} instruction would change the template's variables "
            f"(lost {lost}, new {added}); original: {slot.text!r}; rewrite: {new_text!r}. "
            "This is a bug in the guard: please report it; pass the template unoptimized meanwhile."
        )


def _rewrite_message(message: Any, slot: TemplateSlot, new_text: str) -> Any:
    if isinstance(message, BaseMessage):
        return with_text(message, new_text)
    prompt = message.prompt
    if not isinstance(prompt, list):
        return message.model_copy(update={"prompt": prompt.model_copy(update={"template": new_text}, deep=True)})
    first = slot.part_indices[0]
    texts = [prompt[i] for i in slot.part_indices]
    variables = sorted({name for part in texts for name in part.input_variables})
    partials: dict[str, Any] = {}
    for part in texts:
        partials.update(part.partial_variables)
    merged = prompt[first].model_copy(
        update={"template": new_text, "input_variables": variables, "partial_variables": partials}, deep=True
    )
    new_prompt = [merged if i == first else part for i, part in enumerate(prompt) if i not in slot.part_indices[1:]]
    return message.model_copy(update={"prompt": new_prompt})


def _record(
    slot: TemplateSlot, result: OptimizationResult | None, optimized: str, reason: str | None
) -> dict[str, Any]:
    return {
        "role": slot.role,
        "message_index": slot.message_index,
        "original": slot.text,
        "optimized": optimized,
        "candidate": result.candidate if result else "",
        "accepted": optimized != slot.text,
        "reason": reason,
        "variant": result.variant if result else None,
        "model_id": result.model_id if result else None,
        "cached": result.cached if result else False,
    }


def apply_template_rewrites(
    template: TemplateT,
    slots: Sequence[TemplateSlot],
    results: Sequence[OptimizationResult] | None,
    error: str | None = None,
) -> TemplateT:
    """A new template with each accepted rewrite in its slot; the original template is never mutated.

    The new template's ``metadata["fipo"]`` lists what happened to each slot (original, optimized, verdict).
    Raises ``ValueError`` if an accepted rewrite would change the template's variables.
    """
    records: list[dict[str, Any]] = []
    new_texts: list[str] = []
    for position, slot in enumerate(slots):
        result = results[position] if results is not None else None
        if result is None:
            new_texts.append(slot.text)
            records.append(_record(slot, None, slot.text, error or "not optimized"))
            continue
        new_text, reason = result.optimized, result.reason
        if result.accepted and new_text != slot.text:
            problem = _check_rewrite_text(slot, new_text)
            if problem is not None:
                new_text, reason = slot.text, problem
            else:
                _require_same_variables(slot, new_text)
        new_texts.append(new_text)
        records.append(_record(slot, result, new_text, reason))

    metadata = {**(template.metadata or {}), "fipo": records}
    copy = template.model_copy(deep=True)
    if isinstance(copy, PromptTemplate):
        new_template: Any = copy.model_copy(update={"template": new_texts[0] if slots else copy.template})
    else:
        original_messages = cast(ChatPromptTemplate, template).messages
        messages = list(copy.messages)
        for slot, new_text in zip(slots, new_texts, strict=True):
            if new_text != slot.text and slot.message_index is not None:
                messages[slot.message_index] = _rewrite_message(messages[slot.message_index], slot, new_text)
        new_template = copy.model_copy(update={"messages": messages})
        before = sorted({v for m in original_messages if hasattr(m, "input_variables") for v in m.input_variables})
        after = sorted({v for m in messages if hasattr(m, "input_variables") for v in m.input_variables})
        if before != after:
            raise ValueError(f"optimized chat template would change its variables from {before} to {after}")
    return new_template.model_copy(update={"metadata": metadata})  # type: ignore[no-any-return]
