"""Structured rejection reasons: a code from :data:`CODES` plus a human-readable detail."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CODES", "Reason"]

#: Every code the guard emits, with what it means.
CODES: dict[str, str] = {
    "empty": "the rewrite is empty",
    "lost_placeholder": "a template placeholder of the original is missing or altered",
    "new_placeholder": "the rewrite adds a placeholder the original does not have",
    "lost_number": "a number of the original is missing",
    "lost_quote": "a quoted string of the original is missing or no longer quoted",
    "lost_name": "a name or proper noun of the original is missing",
    "lost_option_label": "an option label of the original is missing",
    "lost_option_text": "an option's text is missing or changed",
    "lost_label": "a label of the original's label set is missing",
    "widened_labels": "the rewrite adds a label to the original's label set",
    "changed_term": "a term of the original is replaced by its opposite (future -> past, positive -> negative)",
    "lost_format": "an output-format constraint of the original is missing",
    "wrong_format": "an output format that does not fit the task (a number for a task without numbers)",
    "lost_length": "a length or count constraint of the original is missing",
    "lost_instruction": "the instruction before a passage is dropped",
    "invented_number": "a number absent from the original (and silver/golden responses)",
    "invented_name": "a name or proper noun absent from the original",
    "invented_quote": "a quoted string absent from the original",
    "invented_url": "a URL, e-mail address or file name absent from the original",
    "invented_identifier": "a code identifier absent from the original",
    "invented_question": "a question the original does not ask",
    "invented_example": "a made-up example, passage or option",
    "invented_fact": "a statement of facts the original does not contain (often an answer)",
    "answers_task": "the rewrite contains an answer to the task",
    "answered_instead": "the rewrite is an answer or completion, not a prompt",
    "request_for_input": "the rewrite asks the user for the input instead of doing the task",
    "chat_preamble": "a chat preamble or sign-off around the prompt",
    "refusal": "a refusal instead of a prompt",
    "loop": "repeated text (a generation loop)",
    "meta_echo": "the optimizer's own instructions or template vocabulary",
    "different_task": "the rewrite asks for a different task",
    "drifted": "the rewrite is not about the original's task",
    "over_budget": "the rewrite is longer than the word budget allows",
    "out_of_scope": "with scope='append': the rewrite does more than add a short statement of the output form",
}


@dataclass(frozen=True)
class Reason:
    """One failed check: ``code`` (a key of :data:`CODES`) and ``detail`` (what exactly failed).

    >>> str(Reason("lost_placeholder", "{question}"))
    'lost_placeholder: {question}'
    """

    code: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown guard reason code {self.code!r}")

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code
