"""The append scope's generation: form statements kept from a rejected rewrite, and a reply prefilled with the
original so the model writes only what to add."""

from __future__ import annotations

import pytest

from fipo_integrations import PromptOptimizer
from fipo_integrations.guard import GuardConfig
from fipo_integrations.guard.scope import append_statements, form_statements
from fipo_integrations.testing import ScriptedBackend

APPEND = GuardConfig(scope="append")


@pytest.mark.parametrize(
    ("original", "rewrite", "expected"),
    [
        (  # the restatement changes the task; the form statement is kept
            "Name three primary colors",
            "List three primary colors. Reply with a comma-separated list of the colors.",
            ["Reply with a comma-separated list of the colors."],
        ),
        (  # a sentence asking for more content is not a form
            "What is a CRM?",
            "Explain what a CRM is. Answer in two sentences. Give an example of a CRM system.",
            ["Answer in two sentences."],
        ),
        (  # list markers and a missing full stop
            "Write the HTML syntax for adding an image to the page.",
            "Write HTML that adds an image:\n- Reply with the code only",
            ["Reply with the code only."],
        ),
        (  # words outside the original and the format vocabulary
            "What are the primary colors?",
            "List the primary colors of the rainbow. Use warm and cold tones.",
            [],
        ),
        ("Summarize {text}", "Summarize {text}. Answer with {text} only.", []),  # a placeholder in the statement
        ("Answer in one sentence. What is DNS?", "What is DNS? Answer in one sentence.", []),  # already there
        (  # at most two statements
            "Name a fruit.",
            "Reply with one word. Use lowercase. Answer with the name only.",
            ["Reply with one word.", "Use lowercase."],
        ),
    ],
)
def test_form_statements(original: str, rewrite: str, expected: list[str]) -> None:
    assert form_statements(original, rewrite) == expected


def test_form_statements_respect_the_word_limit() -> None:
    rewrite = "Reply with one short sentence in plain text. Use lowercase."
    assert form_statements("Name a fruit.", rewrite, max_added_words=4) == ["Use lowercase."]


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("What is DNS?", "What is DNS? Answer in one sentence."),
        ("What is DNS", "What is DNS\nAnswer in one sentence."),  # no sentence end: a line of its own
        ("Summarize this:\n\n{text}\n", "Summarize this:\n\n{text}\nAnswer in one sentence.\n"),
    ],
)
def test_append_statements(original: str, expected: str) -> None:
    assert append_statements(original, ["Answer in one sentence."]) == expected


def test_the_engine_keeps_the_form_statement_of_a_rejected_rewrite() -> None:
    backend = ScriptedBackend(lambda p: "Solve f(x) = 5x^3 - 2x + 3 for x. Reply with the number only.")
    result = PromptOptimizer(backend, cache=False, guard=APPEND).optimize(
        "Given that f(x) = 5x^3 - 2x + 3, find the value of f(2)."
    )
    assert result.accepted, result.reason
    assert result.optimized == "Given that f(x) = 5x^3 - 2x + 3, find the value of f(2). Reply with the number only."
    assert result.candidate == result.optimized


def test_the_free_scope_does_not_salvage() -> None:
    backend = ScriptedBackend(lambda p: "Describe the capital of France and its history. Answer in one sentence.")
    free = PromptOptimizer(backend, cache=False).optimize("What is the capital of France?")
    assert free.optimized == "What is the capital of France?" or "history" in free.optimized


def test_a_statement_that_fails_the_guard_keeps_the_original() -> None:
    backend = ScriptedBackend(lambda p: "List 3 fruits and their colours. Reply with the names of 5 fruits.")
    result = PromptOptimizer(backend, cache=False, guard=APPEND).optimize("Name a fruit.")
    assert not result.accepted
    assert result.optimized == "Name a fruit."
    assert "out_of_scope" in (result.reason or "")


def test_prefill_sends_the_original_as_the_start_of_the_reply() -> None:
    backend = ScriptedBackend(lambda p: p + " Answer with the name only.", prefill=True)
    optimizer = PromptOptimizer(backend, cache=False, guard=APPEND)
    assert optimizer.prefill
    result = optimizer.optimize("What is the capital of France?")
    assert result.accepted, result.reason
    assert result.optimized == "What is the capital of France? Answer with the name only."
    conversation = backend.calls[0][0]
    assert conversation[-1] == {"role": "assistant", "content": "What is the capital of France?"}
    # Only the continuation is generated: the word cap is the scope's, not the prompt's budget.
    assert backend.params[0].max_words == APPEND.max_added_words + 12


def test_prefill_with_an_empty_continuation_keeps_the_original() -> None:
    backend = ScriptedBackend(lambda p: p, prefill=True)
    result = PromptOptimizer(backend, cache=False, guard=APPEND).optimize("What is the capital of France?")
    assert result.optimized == "What is the capital of France?"


def test_prefill_is_only_automatic_in_the_append_scope() -> None:
    backend = ScriptedBackend(lambda p: p + " Be brief.", prefill=True)
    assert not PromptOptimizer(backend, cache=False).prefill  # free scope: the model rewrites freely
    assert PromptOptimizer(backend, cache=False, guard=APPEND, prefill=False).prefill is False
    assert not PromptOptimizer(ScriptedBackend(lambda p: p), cache=False, guard=APPEND).prefill


def test_prefill_on_a_backend_that_cannot_continue_says_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"prefill=True needs a backend that continues a reply; ScriptedBackend"):
        PromptOptimizer(ScriptedBackend(lambda p: p), cache=False, prefill=True)


@pytest.mark.parametrize(
    ("statement", "cap"),
    [
        ("Answer in one sentence.", True),
        ("Give the answer in one or two sentences.", True),
        ("Keep it brief.", True),
        ("Answer in at most 50 words.", True),
        ("Answer with one word.", False),  # a bare label: a form, not only a length
        ("Answer with one word: red or green.", False),  # a label set, not only a length
        ("Answer in two lines: Xenoposeidon: ..., Sloth: ...", False),
        ("Reply with a comma-separated list of the dishes.", False),
    ],
)
def test_is_length_cap(statement: str, cap: bool) -> None:
    from fipo_integrations.guard.scope import is_length_cap

    assert is_length_cap(statement) is cap


def test_length_caps_can_be_turned_off() -> None:
    from fipo_integrations.guard import check_rewrite

    original = "What if Vincent van Gogh had been a successful artist during his lifetime?"
    capped = original + " Answer in two or three sentences."
    assert check_rewrite(original, capped, config=APPEND).accepted
    verdict = check_rewrite(original, capped, config=GuardConfig(scope="append", length_caps=False))
    assert "only caps the reply's length" in (verdict.reason or "")
    labelled = "Which tastes better, red or green grapes? Answer with one word: red or green."
    assert check_rewrite(
        labelled.split(" Answer")[0], labelled, config=GuardConfig(scope="append", length_caps=False)
    ).accepted


@pytest.mark.parametrize(
    "statement",
    [
        "Reply with the question number only.",
        "Reply with the question text only.",
        "Reply with the two questions only.",
        "Reply only with the question.",
        "Output the question only.",
    ],
)
def test_a_statement_that_asks_for_the_question_back_is_out_of_scope(statement: str) -> None:
    from fipo_integrations.guard import check_rewrite

    original = "Read the story carefully, then answer the question at the end."
    verdict = check_rewrite(original, f"{original} {statement}", config=APPEND)
    assert "asks for the question back" in (verdict.reason or "")
    letter = check_rewrite(original, f"{original} Reply with the letter of the correct option.", config=APPEND)
    assert letter.accepted, letter.reason


@pytest.mark.parametrize(
    "statement",
    ["Answer each question in one line.", "Answer both questions.", "Reply with the answer to each question."],
)
def test_answering_the_questions_is_not_asking_for_them_back(statement: str) -> None:
    from fipo_integrations.guard import check_rewrite

    original = "Read the story carefully, then answer the two questions at the end."
    verdict = check_rewrite(original, f"{original} {statement}", config=APPEND)
    assert "asks for the question back" not in (verdict.reason or "")


def test_the_default_optimizer_adds_short_forms_without_length_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    import fipo_integrations.engine as engine
    from fipo_integrations.models import DEFAULT_LENGTH_CAPS, DEFAULT_MAX_ADDED_WORDS

    monkeypatch.setattr(engine, "load_backend", lambda spec: ScriptedBackend(lambda p: p, prefill=True))
    optimizer = PromptOptimizer(cache=False)
    assert optimizer.prefill
    assert (optimizer.guard.max_added_words, optimizer.guard.length_caps) == (
        DEFAULT_MAX_ADDED_WORDS,
        DEFAULT_LENGTH_CAPS,
    )
    assert DEFAULT_MAX_ADDED_WORDS == 12 and DEFAULT_LENGTH_CAPS is False


def test_the_default_optimizer_adds_nothing_when_unsure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default model, prefilled, stops before its first token when stopping there is at least 10% likely."""
    import fipo_integrations.engine as engine
    from fipo_integrations.models import DEFAULT_STOP_PROBABILITY

    monkeypatch.setattr(engine, "load_backend", lambda spec: ScriptedBackend(lambda p: p, prefill=True))
    assert PromptOptimizer(cache=False).params.first_stop_probability == DEFAULT_STOP_PROBABILITY == 0.1
    assert PromptOptimizer(cache=False, stop_probability=0.3).params.first_stop_probability == 0.3
    assert PromptOptimizer(cache=False, stop_probability=1.0).params.first_stop_probability is None  # off
    assert PromptOptimizer(cache=False, prefill=False).params.first_stop_probability is None  # whole rewrites
    with pytest.raises(ValueError, match="stop_probability must be in"):
        PromptOptimizer(cache=False, stop_probability=0.0)
    other = PromptOptimizer(ScriptedBackend(lambda p: p, prefill=True), cache=False, guard=APPEND)
    assert other.prefill and other.params.first_stop_probability is None  # not the default model: off


_SEVERAL = "each of several items"
_WHY = "where the prompt asks why"
_PART = "where the prompt asks for more"
_ADVICE = "where the prompt asks for advice"


@pytest.mark.parametrize(
    ("original", "statement", "reason", "rejected"),
    [
        # 'One word' cannot hold the labels of several items; with worked examples only the last item is open.
        (
            "Classify each of these as a fruit or a vegetable: tomato, leek, plum",
            "Reply with one word.",
            _SEVERAL,
            True,
        ),
        (
            "Label each review as positive or negative.\n1. Great.\n2. Awful.",
            "Reply with one label: positive or negative.",
            _SEVERAL,
            True,
        ),
        (
            "Label each review as positive or negative.\n1. Great.\n2. Awful.",
            "Reply with one label per review.",
            _SEVERAL,
            False,
        ),
        (
            "Classify each of these as a fruit or a vegetable: tomato, leek, plum",
            "Give one line per item.",
            _SEVERAL,
            False,
        ),
        (
            "Label each review as positive or negative.\nGreat -> positive\nAwful ->",
            "Reply with one word.",
            _SEVERAL,
            False,
        ),
        (
            "Is this review positive or negative? I loved it.",
            "Reply with one word: positive or negative.",
            _SEVERAL,
            False,
        ),
        # An 'only' form would leave out the explanation the prompt asks for (quoted text does not count).
        ("Which is a prime? A) 4 B) 7. Explain why the others are wrong.", "Reply with the letter only.", _WHY, True),
        ("my code throws IndexError and i cant see why\n\nprint([1][2])", "Reply with the code only.", _WHY, True),
        (
            "Which is a prime? A) 4 B) 7. Explain why the others are wrong.",
            "Reply with the letter, then why.",
            _WHY,
            False,
        ),
        ("Explain what this code does: print(1)", "Reply with the explanation only.", _WHY, False),
        ('Fix the typo: "I dont know why"', "Reply with the fixed sentence only.", _WHY, False),
        ("Which is a prime? A) 4 B) 7", "Reply with the letter only.", _WHY, False),
        (
            "For each statement, say if it is a fact or an opinion:\n1. Water is wet.\n2. Jazz is best.",
            "Answer with one word: fact or opinion.",
            _SEVERAL,
            True,
        ),
        (
            "Label each of my expenses as Fixed or Variable:\nrent $900\ngym $45",
            "Reply with the label only.",
            _SEVERAL,
            True,
        ),
        (
            "Label each of my expenses as Fixed or Variable:\nrent $900\ngym $45",
            "Give one label per line.",
            _SEVERAL,
            False,
        ),
        # Debugging questions ask what is going on: the explanation is part of the answer.
        ("It prints 0102030 instead of 60. What's going on?\n\nt = ''", "Output only the number.", _WHY, True),
        # Advice on the user's own situation is not a yes/no question.
        (
            "I work from home. Is it a bad idea to get a dog?",
            "Answer yes or no, then give one sentence.",
            _ADVICE,
            True,
        ),
        ("Is an e-reader worth it if I read two books a month?", "Answer yes or no.", _ADVICE, True),
        ("Is it a good idea to use {object} to {task}? Why or why not?", "Answer yes or no, then why.", _ADVICE, False),
        ("Is 91 a prime number?", "Answer yes or no.", _ADVICE, False),
        # An 'only' form for one thing where the prompt asks a second thing too.
        ("which services failed in this log and when?\n\nERROR auth", "Reply with the services only.", _PART, True),
        ("What plug does Peru use? I want to know whether my fan works.", "Reply with the plug only.", _PART, True),
        ("Who wrote Emma, and when was it published?", "Reply with the name only.", _PART, True),
        ("Who wrote Emma, and when was it published?", "Give one line each: author, then when.", _PART, False),
        ("Where and when is the review? Thursday 2 pm, Room 4B", "Answer with when and where only.", _PART, False),
        ("Which of these is a prime, and which is even? A) 4 B) 7", "Reply with the letter only.", _PART, False),
        ('Reply to "Can I come, and when?" politely.', "Reply with the message only.", _PART, False),
    ],
)
def test_a_form_that_cannot_hold_the_answer_is_out_of_scope(
    original: str, statement: str, reason: str, rejected: bool
) -> None:
    from fipo_integrations.guard import check_rewrite

    verdict = check_rewrite(original, f"{original}\n{statement}", config=APPEND)
    assert (reason in (verdict.reason or "")) is rejected
