"""How FIPOOptimizer reads its inputs and builds its outputs (pure functions, no model calls).

A *plan* is one input parsed: its kind (string or chat), its messages, and the instruction texts to optimize
(the *targets*, chosen by the ``roles`` setting). :func:`assemble` puts the optimizer's results back and
records, per instruction, what happened for the trace.

>>> plan = plan_inputs([[("system", "Be brief."), ("human", "Explain tides.")]], "human")[0]
>>> [(target.index, target.text) for target in plan.targets]
[(1, 'Explain tides.')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import BaseMessage, convert_to_messages
from langchain_core.prompt_values import ChatPromptValue, PromptValue, StringPromptValue

from ..engine import OptimizationResult
from ._messages import message_role, select_targets, text_of, with_text

__all__ = ["Outcome", "Plan", "Target", "assemble", "naive_value", "plan_input", "plan_inputs"]


@dataclass
class Target:
    """One instruction text of an input."""

    #: Message index in the chat input; ``None`` for a string prompt.
    index: int | None
    role: str
    text: str


@dataclass
class Plan:
    """One input, parsed: its kind, messages, and the instruction texts to optimize."""

    kind: Literal["string", "chat"]
    text: str = ""
    messages: list[BaseMessage] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    original: PromptValue | None = None

    @property
    def silver_key(self) -> tuple[str, ...]:
        return tuple(target.text for target in self.targets)


@dataclass
class Outcome:
    """The prompt value to return for one input, and what to trace about it."""

    value: PromptValue
    trace: dict[str, Any]


def plan_input(value: Any, roles: str) -> Plan:
    """Parse one input; ``TypeError`` for what FIPOOptimizer cannot take."""
    if isinstance(value, str):
        return Plan("string", text=value, targets=_string_targets(value))
    if isinstance(value, StringPromptValue):
        return Plan("string", text=value.text, targets=_string_targets(value.text), original=value)
    if isinstance(value, PromptValue):
        return _chat_plan(value.to_messages(), value, roles)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        try:
            messages = convert_to_messages(value)
        except Exception as exc:
            raise TypeError(f"FIPOOptimizer could not read the input as messages: {exc}") from exc
        return _chat_plan(messages, None, roles)
    raise TypeError(
        f"FIPOOptimizer takes a str, a PromptValue or a list of messages, got {type(value).__name__}. "
        "Put it after a prompt template: `prompt | FIPOOptimizer() | llm`."
    )


def _string_targets(text: str) -> list[Target]:
    return [Target(None, "prompt", text)] if text.strip() else []


def _chat_plan(messages: list[BaseMessage], original: PromptValue | None, roles: str) -> Plan:
    indices = select_targets([message_role(m) for m in messages], roles)
    targets = [Target(i, message_role(messages[i]), text_of(messages[i])) for i in indices]
    return Plan("chat", messages=messages, targets=[t for t in targets if t.text.strip()], original=original)


def naive_value(plan: Plan) -> Any:
    """The input as the downstream model would get it without the optimizer (for the silver response)."""
    if plan.original is not None:
        return plan.original
    return plan.text if plan.kind == "string" else ChatPromptValue(messages=plan.messages)


def assemble(
    plans: Sequence[Plan | Exception],
    results: Sequence[OptimizationResult] | None,
    error: str | None,
    silver_error: str | None,
    roles: str,
) -> list[Outcome | Exception]:
    """Each input's output prompt value and trace, from the flat list of results (``None``: not optimized)."""
    outcomes: list[Outcome | Exception] = []
    cursor = 0
    for plan in plans:
        if isinstance(plan, Exception):
            outcomes.append(plan)
            continue
        records: list[dict[str, Any]] = []
        messages = list(plan.messages)
        text = plan.text
        for target in plan.targets:
            result = results[cursor] if results is not None else None
            cursor += 1
            optimized = result.optimized if result is not None else target.text
            changed = optimized != target.text
            if changed and target.index is not None:
                messages[target.index] = with_text(messages[target.index], optimized)
            elif changed:
                text = optimized
            records.append(
                {
                    "role": target.role,
                    "message_index": target.index,
                    "original": target.text,
                    "optimized": optimized,
                    "candidate": result.candidate if result is not None else "",
                    "accepted": bool(result is not None and result.accepted),
                    "reason": (result.reason if result is not None else error or "not optimized"),
                    "variant": result.variant if result is not None else None,
                    "cached": bool(result is not None and result.cached),
                    "model_id": result.model_id if result is not None else None,
                }
            )
        trace: dict[str, Any] = {
            "rewrites": records,
            "changed": any(record["optimized"] != record["original"] for record in records),
            "error": error,
        }
        if not plan.targets:
            trace["reason"] = f"no {roles} instruction text to optimize"
        if silver_error is not None:
            trace["silver_error"] = silver_error
        value: PromptValue = (
            StringPromptValue(text=text) if plan.kind == "string" else ChatPromptValue(messages=messages)
        )
        outcomes.append(Outcome(value, trace))
    return outcomes


def plan_inputs(inputs: Sequence[Any], roles: str) -> list[Plan | Exception]:
    """Parse every input; an input that cannot be read becomes its exception (raised later, per input)."""
    plans: list[Plan | Exception] = []
    for value in inputs:
        try:
            plans.append(plan_input(value, roles))
        except (TypeError, ValueError) as exc:
            plans.append(exc)
    return plans
