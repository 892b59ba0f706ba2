"""The FIPO meta-prompts, written once as data.

The optimizer template is *modular* as in the FIPO paper (Lu et al., arXiv 2402.11811, Sec. 3): it always
shows the naive ("silver") prompt and a length budget, and optionally the response a model gave to it
("silver response") and the ground-truth response ("golden response"). That gives four variants:
``none``, ``silver``, ``golden`` and ``both``. The discriminator template asks which of two rewrites is more
faithful to the raw prompt and more likely to yield the golden response (A/B).

Templates render to a list of chat messages (``{"role": ..., "content": ...}``); each backend turns them into
tokens with the *model's own* chat template, so any chat model works. Training data (``training/``) renders
through the same functions, so inference and training always agree.

>>> msgs = render_optimizer_messages("Answer the question: {question}", max_words=40)
>>> msgs[0]["role"], "{question}" in msgs[0]["content"]
('user', True)
>>> variant_for(silver_response="4", golden_response=None)
'silver'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DISCRIMINATOR_TEMPLATE",
    "OPTIMIZER_TEMPLATE",
    "TEMPLATE_VERSION",
    "VARIANTS",
    "ChatMessage",
    "OptimizerTemplate",
    "Variant",
    "default_max_words",
    "parse_judge_choice",
    "render_discriminator_messages",
    "render_optimizer_messages",
    "variant_for",
]

#: Bump when any template text changes: it is part of every rewrite-cache key.
TEMPLATE_VERSION = "fipo-apo-v1"

Variant = Literal["none", "silver", "golden", "both"]
VARIANTS: tuple[Variant, ...] = ("none", "silver", "golden", "both")

ChatMessage = dict[str, str]


@dataclass(frozen=True)
class OptimizerTemplate:
    """The text blocks of the modular APO template. Fields are joined in order; empty blocks are skipped."""

    intro: str
    prompt_block: str
    silver_block: str
    golden_block: str
    requirements: str
    output_label: str
    #: Section titles that only the meta-prompt contains; a rewrite that echoes them copied the template.
    markers: tuple[str, ...]


OPTIMIZER_TEMPLATE = OptimizerTemplate(
    intro=(
        "You are an expert in prompt engineering. Below is a Silver Prompt written by a user for an AI "
        "assistant. Rewrite it into a Golden Prompt that makes the assistant produce a better response."
    ),
    prompt_block="### Silver Prompt\n<<prompt>>",
    silver_block="### Silver Response (what an assistant answered to the Silver Prompt)\n<<silver>>",
    golden_block="### Golden Response (the response we want)\n<<golden>>",
    requirements=(
        "### Requirements\n"
        "1. Keep the task, every fact, number, quoted text, option and {placeholder} of the Silver Prompt "
        "exactly as written.\n"
        "2. Make the instruction clear and specific: state the goal, the steps if useful, and the exact "
        "output format.\n"
        "3. Do not answer the task and do not add new facts.\n"
        "4. Use at most <<max_words>> words."
    ),
    output_label="Reply with the Golden Prompt only.",
    markers=(
        "### Silver Prompt",
        "### Silver Response",
        "### Golden Response",
        "### Golden Prompt",
        "### Requirements",
    ),
)


@dataclass(frozen=True)
class DiscriminatorTemplate:
    """Text blocks of the A/B discriminator (judge) template."""

    intro: str
    raw_block: str
    golden_block: str
    candidates_block: str
    question: str


DISCRIMINATOR_TEMPLATE = DiscriminatorTemplate(
    intro="You are an expert in prompt engineering. Two rewrites of a Silver Prompt are given.",
    raw_block="### Silver Prompt\n<<prompt>>",
    golden_block="### Golden Response (the response we want)\n<<golden>>",
    candidates_block="### Prompt A\n<<prompt_a>>\n\n### Prompt B\n<<prompt_b>>",
    question=(
        "Which prompt is more faithful to the Silver Prompt (same task, facts and placeholders) and more "
        "likely to make an assistant produce the Golden Response? Answer with one letter: A or B."
    ),
)


def _fill(text: str, values: dict[str, str]) -> str:
    # Plain replacement, not str.format: user text is full of braces and must stay byte-for-byte intact.
    for key, value in values.items():
        text = text.replace(f"<<{key}>>", value)
    return text


def _word_count(text: str) -> int:
    return len(text.split())


def default_max_words(prompt: str) -> int:
    """The length budget used when none is given: room to add an output format, capped for long data.

    >>> default_max_words("Answer the question: {question}")
    50
    """
    words = _word_count(prompt)
    return max(50, min(2 * words + 40, words + 250))


def variant_for(*, silver_response: str | None, golden_response: str | None) -> Variant:
    """Which of the four template variants the given optional responses select."""
    has_silver = bool(silver_response and silver_response.strip())
    has_golden = bool(golden_response and golden_response.strip())
    if has_silver and has_golden:
        return "both"
    if has_silver:
        return "silver"
    if has_golden:
        return "golden"
    return "none"


def render_optimizer_messages(
    prompt: str,
    *,
    silver_response: str | None = None,
    golden_response: str | None = None,
    max_words: int | None = None,
    template: OptimizerTemplate = OPTIMIZER_TEMPLATE,
) -> list[ChatMessage]:
    """Render the modular APO template as chat messages (one user turn).

    The variant follows from which responses are given (see :func:`variant_for`).
    """
    budget = max_words if max_words is not None else default_max_words(prompt)
    variant = variant_for(silver_response=silver_response, golden_response=golden_response)
    blocks = [template.intro, _fill(template.prompt_block, {"prompt": prompt.strip()})]
    if variant in ("silver", "both"):
        blocks.append(_fill(template.silver_block, {"silver": (silver_response or "").strip()}))
    if variant in ("golden", "both"):
        blocks.append(_fill(template.golden_block, {"golden": (golden_response or "").strip()}))
    blocks.append(_fill(template.requirements, {"max_words": str(budget)}))
    blocks.append(template.output_label)
    return [{"role": "user", "content": "\n\n".join(blocks)}]


def render_discriminator_messages(
    raw_prompt: str,
    prompt_a: str,
    prompt_b: str,
    *,
    golden_response: str | None = None,
    template: DiscriminatorTemplate = DISCRIMINATOR_TEMPLATE,
) -> list[ChatMessage]:
    """Render the A/B discriminator template as chat messages (one user turn)."""
    blocks = [template.intro, _fill(template.raw_block, {"prompt": raw_prompt.strip()})]
    if golden_response and golden_response.strip():
        blocks.append(_fill(template.golden_block, {"golden": golden_response.strip()}))
    blocks.append(_fill(template.candidates_block, {"prompt_a": prompt_a.strip(), "prompt_b": prompt_b.strip()}))
    blocks.append(template.question)
    return [{"role": "user", "content": "\n\n".join(blocks)}]


def parse_judge_choice(text: str) -> Literal["A", "B"] | None:
    """Read the judge's letter from a generated reply; ``None`` when it names neither or both.

    >>> parse_judge_choice("Prompt B is better.")
    'B'
    >>> parse_judge_choice("(A)")
    'A'
    """
    import re

    cleaned = text.strip()
    direct = re.match(r"^[\s(\[*\"']*([AB])\b", cleaned)
    if direct:
        return "A" if direct.group(1) == "A" else "B"
    found = set(re.findall(r"\b(?:prompt|option|answer)\s*\(?([AB])\b", cleaned, flags=re.IGNORECASE))
    found = {letter.upper() for letter in found}
    if len(found) == 1:
        return "A" if found == {"A"} else "B"
    return None
