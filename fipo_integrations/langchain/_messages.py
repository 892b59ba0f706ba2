"""Message helpers: which messages hold the instruction, their text, and a copy with new text.

Only text is ever rewritten. For multimodal content (a list of blocks) the text blocks are joined for the
optimizer and the rewrite goes back into the first text block; image, audio, tool and other blocks stay
exactly where they were. Messages are never mutated: a rewritten message is a deep ``model_copy`` that keeps
``id``, ``name``, ``additional_kwargs`` and ``response_metadata``.

>>> from langchain_core.messages import HumanMessage
>>> message = HumanMessage(content=[{"type": "text", "text": "Describe it."}, {"type": "image_url",
...     "image_url": {"url": "data:image/png;base64,AAAA"}}], id="m1")
>>> text_of(message)
'Describe it.'
>>> copy = with_text(message, "Describe the image in one sentence.")
>>> copy.id, copy.content[0]["text"], copy.content[1]["type"], message.content[0]["text"]
('m1', 'Describe the image in one sentence.', 'image_url', 'Describe it.')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.messages import BaseMessage

__all__ = ["Roles", "content_text", "message_role", "select_targets", "text_of", "with_text"]

#: Which messages hold the instruction to optimize.
#: ``"human"``: the last human message; ``"system"``: every system message;
#: ``"all"``: every system message and the last human message.
Roles = Literal["human", "system", "all"]
ROLE_CHOICES: tuple[str, ...] = ("human", "system", "all")

#: Separator used when several text blocks of one message are joined for the optimizer.
TEXT_BLOCK_SEPARATOR = "\n\n"

_HUMAN_ROLES = frozenset({"human", "user"})
_SYSTEM_ROLES = frozenset({"system", "developer"})


def _is_text_block(block: Any) -> bool:
    return isinstance(block, str) or (
        isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    )


def _block_text(block: Any) -> str:
    return block if isinstance(block, str) else str(block["text"])


def content_text(content: str | Sequence[Any]) -> str:
    """The text of message content: the string itself, or its text blocks joined."""
    if isinstance(content, str):
        return content
    return TEXT_BLOCK_SEPARATOR.join(_block_text(block) for block in content if _is_text_block(block))


def text_of(message: BaseMessage) -> str:
    """The text of a message (text blocks only; images and tool blocks are ignored)."""
    return content_text(message.content)


def message_role(message: BaseMessage) -> str:
    """``"human"``, ``"system"``, ``"ai"``, ``"tool"``... (``ChatMessage`` roles mapped to these names)."""
    role = getattr(message, "role", None) if message.type == "chat" else message.type
    role = str(role or message.type).lower()
    if role in _HUMAN_ROLES:
        return "human"
    if role in _SYSTEM_ROLES:
        return "system"
    return role


def select_targets(roles: Sequence[str], roles_setting: str) -> list[int]:
    """Indices of the messages to rewrite, given each message's role (see :data:`Roles`)."""
    if roles_setting not in ROLE_CHOICES:
        raise ValueError(f"roles must be one of {ROLE_CHOICES}, got {roles_setting!r}")
    targets: list[int] = []
    if roles_setting in ("system", "all"):
        targets += [index for index, role in enumerate(roles) if role == "system"]
    if roles_setting in ("human", "all"):
        humans = [index for index, role in enumerate(roles) if role == "human"]
        if humans:
            targets.append(humans[-1])
    return sorted(targets)


def replace_text_in_content(content: str | Sequence[Any], new_text: str) -> str | list[Any]:
    """New content with ``new_text`` as its text: in the first text block; other text blocks are dropped."""
    if isinstance(content, str):
        return new_text
    new_content: list[Any] = []
    placed = False
    for block in content:
        if not _is_text_block(block):
            new_content.append(block)
        elif not placed:
            new_content.append(new_text if isinstance(block, str) else {**block, "text": new_text})
            placed = True
    if not placed:
        new_content.insert(0, {"type": "text", "text": new_text})
    return new_content


def with_text(message: BaseMessage, new_text: str) -> BaseMessage:
    """A deep copy of ``message`` whose text is ``new_text``; ids, names and metadata are kept."""
    copy = message.model_copy(deep=True)
    return copy.model_copy(update={"content": replace_text_in_content(copy.content, new_text)})
