"""``GuardConfig(scope="append")``: only the original word for word plus a short statement of the output form."""

from __future__ import annotations

import pytest

from fipo_integrations import PromptOptimizer
from fipo_integrations.guard import GuardConfig, check_rewrite
from fipo_integrations.testing import ScriptedBackend

APPEND = GuardConfig(scope="append")


@pytest.mark.parametrize(
    ("original", "rewrite"),
    [
        (
            'What does the "E" stand for in Chuck E. Cheese?',
            'What does the "E" stand for in Chuck E. Cheese? Answer in one or two sentences.',
        ),
        ("What is one of your favorite color?", "What is one of your favorite colors? Reply with the color name only."),
        ("What is the game called Lacrosse", "What is the game called Lacrosse? Answer in one or two sentences."),
        (
            "Which of the following items are types of books: novels, biographies, pamphlets, magazines.",
            "Which of the following items are types of books: novels, biographies, pamphlets, magazines? "
            "Reply with a comma-separated list of the types.",
        ),
        (  # inserted after the instruction, before the input that follows it
            "Translate the sentence into French.\n\nThe cat sleeps on the sofa.",
            "Translate the sentence into French. Reply with the translation only.\n\nThe cat sleeps on the sofa.",
        ),
        ("Answer the question: {question}", "Answer the question: {question}\nAnswer in one sentence."),
        (  # the input moves into its own block: only the words that point at it change
            "Classify the sentiment of this review as positive or negative: {review}",
            "Classify the sentiment of the review below as positive or negative. Reply with exactly one word."
            "\n\n{review}",
        ),
        ("Summarise the text in two sentences.", "Summarise the text in two sentences."),  # unchanged
        (  # the layout of one line per item
            "Label each ticket as Billing or Other.\n1. Charged twice.\n2. Any jobs?",
            "Label each ticket as Billing or Other.\n1. Charged twice.\n2. Any jobs?\n"
            "Give one line per ticket: its number, a colon, then the label.",
        ),
        (
            "Pull out the date, time and place of the meeting: Friday 3pm, room 4.",
            "Pull out the date, time and place of the meeting: Friday 3pm, room 4. "
            "Give one labeled line each for date, time and place.",
        ),
        (
            "Heat pump or gas furnace: which is better on cost, comfort and reliability?",
            "Heat pump or gas furnace: which is better on cost, comfort and reliability? "
            "Use separate sections for cost, comfort and reliability.",
        ),
    ],
)
def test_a_short_statement_of_the_output_form_is_in_scope(original: str, rewrite: str) -> None:
    verdict = check_rewrite(original, rewrite, config=APPEND)
    assert verdict.accepted, verdict.reason
    assert check_rewrite(original, rewrite).accepted  # the free scope accepts it too


@pytest.mark.parametrize(
    ("original", "rewrite", "why"),
    [
        (  # the task changed: solving for x is not evaluating f(2)
            "Given that f(x) = 5x^3 - 2x + 3, find the value of f(2).",
            "Solve the equation f(x) = 5x^3 - 2x + 3 for x. Give the final value on one line.",
            "changes the original's words",
        ),
        (  # words inserted inside the question narrow it
            "What are the primary colors?",
            "What are the primary colors of the rainbow? List them one per line.",
            "inside a sentence",
        ),
        (  # an added sentence that asks for more content, not a form
            "What is a CRM?",
            "What is a CRM? Explain its main features in two or three sentences, then give a short example.",
            "does not state the output form",
        ),
        (  # a form sentence with content of its own
            "Write a short analysis of the cinematography in the movie.\n\nDead Poets Society",
            "Write a short analysis of the cinematography in the movie.\n\nDead Poets Society\n\nGive a short "
            "paragraph on the main subjects, the main characters and the main actors.",
            "outside the output form",
        ),
        (  # three added sentences
            "Name a fruit.",
            "Name a fruit. Reply with one word. Use lowercase. Answer with the name only.",
            "sentences > 2",
        ),
        (  # too long, counting the words that only point at the input
            "Compare the career overviews of the players in a table.\n\nDerek Jeter, Albert Pujols",
            "Compare the career overviews of the players in a table. Reply with the career overview in two lines, "
            "one for Derek Jeter and one for Albert Pujols, in the same order.\n\nDerek Jeter, Albert Pujols",
            "words > 20",
        ),
        (  # too long
            "Describe your morning.",
            "Describe your morning. Answer in one short paragraph of plain text with no bullet points, no headings, "
            "no bold text and no numbered list at all.",
            "words > 20",
        ),
    ],
)
def test_anything_else_is_out_of_scope(original: str, rewrite: str, why: str) -> None:
    verdict = check_rewrite(original, rewrite, config=APPEND)
    assert not verdict.accepted
    assert "out_of_scope" in verdict.codes, verdict.reason
    assert why in (verdict.reason or "")


def test_the_other_checks_still_run_in_the_append_scope() -> None:
    verdict = check_rewrite("Summarize {text}", "Summarize. Answer in one sentence.", config=APPEND)
    assert verdict.codes == ["lost_placeholder"]  # placeholders are the placeholder check's to compare
    verdict = check_rewrite("List 3 fruits.", "List fruits. Answer in one line.", config=APPEND)
    assert {"lost_number", "out_of_scope"} <= set(verdict.codes)


def test_a_bad_scope_says_what_is_allowed() -> None:
    with pytest.raises(ValueError, match=r"scope must be one of 'free', 'append', got 'strict'"):
        GuardConfig(scope="strict")
    with pytest.raises(ValueError, match="max_added_words"):
        GuardConfig(scope="append", max_added_words=0)


def test_the_optimizer_falls_back_to_the_original_outside_the_scope() -> None:
    backend = ScriptedBackend(lambda prompt: "Describe the capital of France and its history.")
    optimizer = PromptOptimizer(backend, cache=False, guard=APPEND)
    result = optimizer.optimize("What is the capital of France?")
    assert not result.accepted
    assert result.optimized == "What is the capital of France?"
    assert "out_of_scope" in (result.reason or "")
    kept = PromptOptimizer(
        ScriptedBackend(lambda prompt: "What is the capital of France? Answer with the name only."),
        cache=False,
        guard=APPEND,
    ).optimize("What is the capital of France?")
    assert kept.accepted
    assert kept.optimized.endswith("Answer with the name only.")


def test_the_default_optimizer_guards_in_the_append_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    import fipo_integrations.engine as engine
    from fipo_integrations.models import DEFAULT_GUARD_SCOPE

    monkeypatch.setattr(engine, "load_backend", lambda spec: ScriptedBackend(lambda prompt: prompt))
    assert DEFAULT_GUARD_SCOPE == "append"
    assert PromptOptimizer(cache=False).guard.scope == "append"  # the bundled adapter
    assert PromptOptimizer("embedded:gemma-3-270m", cache=False).guard.scope == "free"  # any other model
    strict = GuardConfig(scope="free", check_budget=False)
    assert PromptOptimizer(cache=False, guard=strict).guard is strict  # an explicit guard wins
