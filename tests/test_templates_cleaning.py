from __future__ import annotations

import pytest

from fipo_integrations.cleaning import clean_rewrite
from fipo_integrations.templates import (
    OPTIMIZER_TEMPLATE,
    VARIANTS,
    default_max_words,
    parse_judge_choice,
    render_discriminator_messages,
    render_optimizer_messages,
    variant_for,
)


@pytest.mark.parametrize(
    ("silver", "golden", "variant"),
    [
        (None, None, "none"),
        ("4", None, "silver"),
        (None, "4", "golden"),
        ("3", "4", "both"),
        ("  ", "", "none"),
    ],
)
def test_variants_select_blocks(silver: str | None, golden: str | None, variant: str) -> None:
    assert variant_for(silver_response=silver, golden_response=golden) == variant
    content = render_optimizer_messages("Add {a} and {b}.", silver_response=silver, golden_response=golden)[0][
        "content"
    ]
    assert "Add {a} and {b}." in content
    assert ("### Silver Response" in content) == (variant in ("silver", "both"))
    assert ("### Golden Response" in content) == (variant in ("golden", "both"))
    assert set(VARIANTS) == {"none", "silver", "golden", "both"}


def test_user_text_with_template_markers_is_not_substituted() -> None:
    tricky = "Explain <<max_words>> and {max_words} and $prompt literally."
    content = render_optimizer_messages(tricky, max_words=33)[0]["content"]
    assert tricky in content
    assert "at most 33 words" in content


def test_budget_default_and_explicit() -> None:
    assert default_max_words("one two three") == 50
    long_prompt = "word " * 400
    assert default_max_words(long_prompt) == 650
    content = render_optimizer_messages("Hi", max_words=12)[0]["content"]
    assert "at most 12 words" in content


def test_discriminator_template_and_parser() -> None:
    content = render_discriminator_messages("raw", "first", "second", golden_response="gold")[0]["content"]
    assert content.index("first") < content.index("second")
    assert "gold" in content
    assert "gold" not in render_discriminator_messages("raw", "a", "b")[0]["content"].split("### Prompt A")[0][-10:]
    assert parse_judge_choice("A") == "A"
    assert parse_judge_choice(" (B) because it is clearer") == "B"
    assert parse_judge_choice("I prefer Prompt B.") == "B"
    assert parse_judge_choice("Both are fine") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Golden Prompt: Summarise {text}.", "Summarise {text}."),
        ("**Optimized Prompt:** Summarise {text}.", "Summarise {text}."),
        ("Here is the improved prompt:\nSummarise {text}.", "Summarise {text}."),
        ("## Golden Prompt\nSummarise {text}.", "Summarise {text}."),
        ('"Summarise {text}."', "Summarise {text}."),
        ("```\nSummarise {text}.\n```", "Summarise {text}."),
        ("```text\nSummarise {text}.\n```", "Summarise {text}."),
        ("Summarise {text}.\n\nThis prompt is clearer because it names the task.", "Summarise {text}."),
        ("Summarise {text}.\n\nNote: I kept the placeholder.", "Summarise {text}."),
        ("Summarise {text}.\n\n### Silver Response\nblah", "Summarise {text}."),
        ('Say "hi" and "bye".', 'Say "hi" and "bye".'),
        ("", ""),
    ],
)
def test_clean_rewrite(raw: str, expected: str) -> None:
    assert clean_rewrite(raw) == expected


def test_clean_keeps_fences_and_paragraphs_of_the_prompt_itself() -> None:
    original = "```python\nprint(1)\n```"
    assert clean_rewrite("```python\nprint(1)\n```", original=original).startswith("```python")
    two_paragraphs = "Read the passage.\n\nThen answer the question: {question}"
    assert clean_rewrite(two_paragraphs) == two_paragraphs


def test_template_markers_are_listed() -> None:
    rendered = render_optimizer_messages("x", silver_response="s", golden_response="g")[0]["content"]
    # Every section heading of the template is a marker; "### Golden Prompt" is the heading models echo.
    assert [m for m in OPTIMIZER_TEMPLATE.markers if m not in rendered] == ["### Golden Prompt"]
