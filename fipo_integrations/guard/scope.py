"""The conservative scope: a rewrite may only add a short statement of the output format to the prompt.

A small optimizer (a 0.5B model) that rewrites freely changes the task as often as it improves it: in blind
reads of its rewrites of unseen prompts, the ones judged better were nearly all the original word for word
plus one short sentence that states the reply's form ("Answer in one sentence.", "Reply with the color name
only.", "Reply with a comma-separated list of the types."); the ones judged worse narrowed or widened the task
("primary colors" -> "primary colors of the rainbow"), dropped input, or appended content ("then give a short
example of a CRM system"). ``GuardConfig(scope="append")`` accepts only the first kind:

* the rewrite is the original with one inserted span (words compared by stem, so "color?" -> "colors?" and
  punctuation fixes pass), inserted at the end of a sentence, a line or the whole prompt;
* the span is at most ``max_added_words`` words in at most two sentences, each starting with a word that
  states a form (``Answer``, ``Reply``, ``Output``, ``List``, ``Use``, ...);
* every word of the span is a word of the original or of the output-format vocabulary below.

The rewrite still goes through every other check.

>>> from fipo_integrations.guard.text import Pair
>>> scope_reasons(Pair("What is a CRM?", "What is a CRM? Answer in two or three sentences."), 20)
[]
>>> [r.code for r in scope_reasons(Pair("What is a CRM?", "Define a CRM and give an example."), 20)]
['out_of_scope']
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .lexicon import FORMAT_WORDS, NUMBER_WORDS, STOPWORDS
from .reasons import Reason
from .text import Pair, stem

__all__ = [
    "SCOPES",
    "append_statements",
    "continue_original",
    "drops_asked_explanation",
    "drops_asked_part",
    "form_statements",
    "is_length_cap",
    "is_single_answer_for_many",
    "is_yes_no_for_advice",
    "scope_reasons",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: The scopes ``GuardConfig.scope`` accepts.
SCOPES = ("free", "append")

#: Words that may start an added sentence: they say what form the reply takes.
_FORM_STARTS = frozenset(
    _words(
        """answer answers reply respond response output return give list use format write state show present
        number wrap enclose put separate end start begin keep be print provide your the each express round
        limit do don't only"""
    )
)
#: Words an added statement of the output form may use besides the original's own words.
_FORM_VOCABULARY = (
    _FORM_STARTS
    | FORMAT_WORDS
    | STOPWORDS
    | frozenset(NUMBER_WORDS)
    | frozenset(
        _words(
            """just single short shorter brief briefly concise concisely exactly precisely sentence sentences word
            words line lines paragraph paragraphs bullet bullets point points item items comma commas
            comma-separated semicolon semicolon-separated newline new numbered list lists object objects key keys
            value values code block blocks snippet table tables column columns row rows plain text string strings
            label labels name names letter letters option options choice choices final result results step steps
            step-by-step explanation explanations explain extra additional lowercase uppercase capital capitals
            capitalized quote quotes quotation marks mark form order ordered alphabetical alphabetically
            chronological sorted first last digit digits integer integers decimal decimals percent percentage unit
            units fraction total nothing else other whole full complete each own separate separately per line-by-line
            must should may can is are was be not don't do no yes true false correct reasoning working
            fenced markdown heading headings title titles bold numeral numerals figure figures minimum maximum
            most least exact reply replies answer answers colon colons dash hyphen labeled labelled section
            sections subject every including reasons"""
        )
    )
)
_SENTENCE_MARK = re.compile(r"[.!?:;]|\n")
_TOKEN = re.compile(r"\{[^{}\s]*\}|[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)


#: Words that point at the input and may change when the input moves into its own block ("this review: {review}"
#: -> "the review below.\n\n{review}"); the placeholders themselves are compared by the placeholder check.
_POINTERS = frozenset({"this", "these", "the", "below", "above", "following"})


def _tokens(text: str) -> list[re.Match[str]]:
    return list(_TOKEN.finditer(text))


def _compared(text: str) -> list[re.Match[str]]:
    """The tokens the scope compares: no placeholders and no words that only point at the input."""
    return [m for m in _TOKEN.finditer(text) if not m.group(0).startswith("{") and m.group(0).lower() not in _POINTERS]


def _key(token: str) -> str:
    return stem(token) if token.isalpha() else token.lower()


def _insertion(pair: Pair) -> tuple[int, int] | None:
    """The rewrite's token span ``[i, j)`` whose removal leaves the original's tokens, or ``None``."""
    before = [_key(m.group(0)) for m in _compared(pair.original)]
    after = [_key(m.group(0)) for m in _compared(pair.rewrite)]
    if len(after) < len(before):
        return None
    prefix = 0
    while prefix < len(before) and before[prefix] == after[prefix]:
        prefix += 1
    suffix = len(before) - prefix
    if suffix and after[len(after) - suffix :] != before[prefix:]:
        return None
    return prefix, len(after) - suffix


#: Words of a statement that only caps the reply's length ("Answer in one or two short sentences.").
_CAP_WORDS = frozenset(
    _words(
        """answer answers reply respond response your it keep be give write the a an in with to within under at most
        no more than or and about around only one two three four five six seven eight nine ten short brief briefly
        concise concisely sentence sentences word words line lines paragraph paragraphs"""
    )
)
_CAP_UNITS = frozenset(_words("sentence sentences words line lines paragraph paragraphs brief briefly concise"))


#: A statement that asks for the question back ("Reply with the question number only.", "Output the question text.",
#: "Reply with the two questions only.")
#: tells the answerer not to answer: it is never a form of the answer.
_QUESTION_BACK = re.compile(
    r"^\W*(?:(?:answer|reply|respond)(?:\s+(?:only|just))?\s+with|output|return|give|write|print|state)\b"
    r"(?:\s+(?:with|only|just))*\s+"
    r"(?:the|a|each|both|all)\s+(?:(?:two|three|four|five|\d+|both|given|original|same)\s+)?"
    r"(?:question|questions|prompt|task|instruction)s?\b",
    re.IGNORECASE,
)


def is_length_cap(statement: str) -> bool:
    """Whether ``statement`` says nothing but how long the reply may be ("one word" is a form: a bare label).

    >>> is_length_cap("Answer in one or two sentences."), is_length_cap("Answer in two lines: Xenoposeidon: ...")
    (True, False)
    """
    tokens = [m.group(0).lower() for m in _tokens(statement)]
    return bool(tokens) and bool(_CAP_UNITS & set(tokens)) and all(t in _CAP_WORDS or t.isdigit() for t in tokens)


def scope_reasons(pair: Pair, max_added_words: int, *, length_caps: bool = True) -> list[Reason]:
    """Why ``pair.rewrite`` is more than the original plus a short statement of the output form (with
    ``length_caps=False``: a statement of more than the reply's length)."""
    span = _insertion(pair)
    if span is None:
        return [Reason("out_of_scope", "changes the original's words; scope='append' only adds a format statement")]
    i, j = span
    tokens = _compared(pair.rewrite)
    if i == j:
        return []
    added = tokens[i:j]
    count = len(_tokens(pair.rewrite[added[0].start() : added[-1].end()]))
    if count > max_added_words:
        return [Reason("out_of_scope", f"adds {count} words > {max_added_words}")]
    start = tokens[i - 1].end() if i else 0
    gap = pair.rewrite[start : added[0].start()]
    if i and not _SENTENCE_MARK.search(gap):
        return [Reason("out_of_scope", f"inserts words inside a sentence: {added[0].group(0)!r}")]
    text = pair.rewrite[added[0].start() : added[-1].end()]
    clauses = [c for c in re.split(r"(?<=[.!?])\s+|\n+", text) if c.strip()]
    if len(clauses) > 2:
        return [Reason("out_of_scope", f"adds {len(clauses)} sentences > 2")]
    for clause in clauses:
        first = _TOKEN.search(clause)
        if first is None or first.group(0).lower() not in _FORM_STARTS:
            return [Reason("out_of_scope", f"adds a sentence that does not state the output form: {clause[:60]!r}")]
    own = {_key(m.group(0)) for m in _tokens(pair.known)}
    foreign = [
        m.group(0)
        for m in added
        if m.group(0).lower() not in _FORM_VOCABULARY
        and _key(m.group(0)) not in own
        and _key(m.group(0))[:5] not in pair.known_prefixes  # "translation" for "Translate"
        and not (len(m.group(0)) == 1 and m.group(0).isupper())
    ]
    if foreign:
        return [Reason("out_of_scope", "adds words outside the output form: " + ", ".join(foreign[:5]))]
    back = next((clause for clause in clauses if _QUESTION_BACK.search(clause)), None)
    if back is not None:
        return [Reason("out_of_scope", f"asks for the question back, not an answer: {back[:60]!r}")]
    if not length_caps and all(is_length_cap(clause) for clause in clauses):
        return [Reason("out_of_scope", f"only caps the reply's length: {text[:60]!r}")]
    for misfits, why in _MISFIT_RULES:
        if misfits(pair.original, text):
            return [Reason("out_of_scope", f"{why}: {text[:60]!r}")]
    return []


#: The prompt asks for an explanation ("explain", "why"), outside quotes, placeholders and worked examples.
_ASKS_WHY = re.compile(r"\b(?:explain|why)\b|\bwhat(?:'s|\s+is)\s+(?:going\s+on|wrong|happening)\b", re.IGNORECASE)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|\{[^{}]*\}|`[^`]*`")
_ONLY = re.compile(r"\bonly\b", re.IGNORECASE)
_KEEPS_WHY = re.compile(
    r"\b(?:explanation|explanations|explain|reason|reasons|reasoning|why|working|steps?)\b", re.IGNORECASE
)


def drops_asked_explanation(original: str, addition: str) -> bool:
    """Whether ``addition`` asks for the answer *only* ("Reply with the code only.") where ``original`` asks for an
    explanation ("... and explain why", "i cant see why"): the reply would leave out part of what was asked.

    >>> drops_asked_explanation("Pick the right option and explain why. A) 1 B) 2", "Reply with the letter only.")
    True
    >>> drops_asked_explanation("Pick the right option and explain why. A) 1 B) 2",
    ...                         "Reply with the letter, then the explanation.")
    False
    """
    if not _ONLY.search(addition) or _KEEPS_WHY.search(addition) or _WORKED_EXAMPLE.search(original):
        return False
    return bool(_ASKS_WHY.search(_QUOTED.sub(" ", original)))


#: A second thing asked ("which services failed and when?", "... and is it remote?", "I want to know whether ...").
_ASKS_PART = re.compile(
    r"\band\s+(?P<wh>when|where|why|how|who|whether)\b"
    r"|\band\s+(?:is|are|does|do|can|will|would|should)\s+(?:it|they|he|she|this|that|there)\b"
    r"|\b(?:know|tell\s+me|wondering)\s+(?:whether|if)\b",
    re.IGNORECASE,
)
#: An "only" form that still keeps several parts ("one line each", "..., then ...").
_KEEPS_PARTS = re.compile(r"\b(?:each|per|every|then|both|all|lines)\b", re.IGNORECASE)


def drops_asked_part(original: str, addition: str) -> bool:
    """Whether ``addition`` asks for one thing *only* ("Reply with the services only.") where ``original`` asks a
    second thing too ("which services failed and when?", "... and want to know whether it will work"): the reply
    would leave out part of what was asked.

    >>> drops_asked_part("Which services failed in this log and when?", "Reply with the services only.")
    True
    >>> drops_asked_part("Which services failed in this log and when?", "Give one line per service, then when.")
    False
    """
    if not _ONLY.search(addition) or _KEEPS_PARTS.search(addition) or _WORKED_EXAMPLE.search(original):
        return False
    said = {word.lower() for word in re.findall(r"[A-Za-z]+", addition)}
    return any(
        not (match.group("wh") and match.group("wh").lower() in said)  # "Answer with when and where only."
        for match in _ASKS_PART.finditer(_QUOTED.sub(" ", original))
    )


#: A request for advice on the user's own situation ("should I ...", "is it a bad idea to ...", "is it worth it").
_ADVICE = re.compile(
    r"\bshould\s+I\b|\bis\s+it\s+(?:a\s+)?(?:good|bad|smart|wise)\s+idea\b|\bworth\s+it\b"
    r"|\bwould\s+you\s+recommend\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(r"\byes\s+or\s+no\b", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I've|my|me|we|our)\b")


def is_yes_no_for_advice(original: str, addition: str) -> bool:
    """Whether ``addition`` asks for yes or no where ``original`` asks for advice on the user's own situation: the
    reply would be narrowed to a verdict.

    >>> is_yes_no_for_advice("I work from home. Is it a bad idea to get a dog?", "Answer yes or no, then why.")
    True
    >>> is_yes_no_for_advice("Is 7 a prime number?", "Answer yes or no.")
    False
    """
    text = _QUOTED.sub(" ", original)
    return bool(_YES_NO.search(addition) and _ADVICE.search(text) and _FIRST_PERSON.search(text))


#: A prompt that asks for a label or answer for each of several given items ("Classify each of these ...").
_MANY_ITEMS = re.compile(
    r"\b(?:each|every)\s+of\s+(?:these|those|the|them)\b|\b(?:label|classify|categori[sz]e|tag|rate|grade|sort)\s+"
    r"(?:each|every|all|these|them)\b|\bfor\s+each\s+(?:of\s+)?(?:these|the|this|one|item|statement|sentence|"
    r"review|line|word|question)",
    re.IGNORECASE,
)
#: Worked examples ("review -> positive", "Answer: B"): the open item is the last one, so one answer is right.
_WORKED_EXAMPLE = re.compile(r"->|=>|\b(?:answer|label|output|category)\s*:", re.IGNORECASE)
_SINGLE_ANSWER = re.compile(
    r"\b(?:one|a\s+single)\s+(?:word|label|letter|number|name|category|option|answer)\b"
    r"|\bthe\s+(?:label|letter|word|category|option|answer)\b(?:\s+of\s+the\s+correct\s+option)?\s+only\b"
    r"|\bonly\s+the\s+(?:label|letter|word|category|option|answer)\b",
    re.IGNORECASE,
)
_PER_ITEM = re.compile(r"\b(?:each|per|every|line|lines)\b", re.IGNORECASE)


def is_single_answer_for_many(original: str, addition: str) -> bool:
    """Whether ``addition`` asks for a single answer ("Reply with one label: ...") where ``original`` asks for one
    for each of several given items and shows no worked examples: a form that cannot hold the answer.

    >>> is_single_answer_for_many("Classify each of these as fruit or vegetable: tomato, leek", "Reply with one word.")
    True
    >>> is_single_answer_for_many("Classify each of these as fruit or vegetable: tomato, leek",
    ...                           "Reply with one word per item.")
    False
    """
    return bool(
        _MANY_ITEMS.search(original)
        and not _WORKED_EXAMPLE.search(original)
        and _SINGLE_ANSWER.search(addition)
        and not _PER_ITEM.search(addition)
    )


_CLAUSE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def form_statements(original: str, rewrite: str, max_added_words: int = 20, *, length_caps: bool = True) -> list[str]:
    """The sentences of ``rewrite`` that state the reply's form in words the append scope allows.

    A small optimizer that rewrites the whole prompt often ends with a good statement of the form ("Reply with
    the name only.") after a restatement that changes the task. These are the sentences that start with a form
    word, use only the original's words and the output-format vocabulary, name no placeholder and are not
    already in the original; at most two, and at most ``max_added_words`` words in all.

    >>> form_statements("Name three primary colors", "List three primary colors. Reply with a comma-separated list.")
    ['Reply with a comma-separated list.']
    """
    pair = Pair(original, rewrite)
    own = {_key(m.group(0)) for m in _tokens(original)}
    present = {" ".join(_key(m.group(0)) for m in _tokens(c)) for c in _CLAUSE_SPLIT.split(original)}
    kept: list[str] = []
    total = 0
    for raw in _CLAUSE_SPLIT.split(rewrite):
        clause = _LIST_MARK.sub("", raw).strip().strip("*_").strip()
        tokens = _tokens(clause)
        if not tokens or tokens[0].group(0).lower() not in _FORM_STARTS or "{" in clause or "}" in clause:
            continue
        keys = [_key(m.group(0)) for m in tokens]
        task_words = [m for m in tokens if _key(m.group(0)) in own and m.group(0).lower() not in _FORM_VOCABULARY]
        if " ".join(keys) in present or len(task_words) >= 2:
            continue  # the original's own sentence, or a restatement of its task
        foreign = [
            m.group(0)
            for m in tokens
            if m.group(0).lower() not in _FORM_VOCABULARY
            and _key(m.group(0)) not in own
            and _key(m.group(0))[:5] not in pair.known_prefixes
        ]
        if foreign or total + len(tokens) > max_added_words or (not length_caps and is_length_cap(clause)):
            continue
        if clause[-1] not in ".!?":
            clause = clause.rstrip(":;,") + "."
        kept.append(clause)
        total += len(tokens)
        if len(kept) == 2:
            break
    return kept


def continue_original(original: str, continuation: str) -> str:
    """The original with a model's continuation of it: glued on when it starts with punctuation (``"?"``),
    otherwise appended as a statement (:func:`append_statements`).

    >>> continue_original("What is the game called Lacrosse", "? Answer in one sentence.")
    'What is the game called Lacrosse? Answer in one sentence.'
    """
    text = continuation.strip()
    if not text:
        return original
    if text[0] in ".?!,;:":
        body = original.rstrip()
        return body + text + original[len(body) :]
    return append_statements(original, [text])


def append_statements(original: str, statements: list[str]) -> str:
    """``original`` with ``statements`` appended after its last sentence (on a new line after a block)."""
    body = original.rstrip()
    tail = original[len(body) :]
    if "\n" in body or body[-1:] not in ".!?":
        return body + "\n" + " ".join(statements) + tail
    return body + " " + " ".join(statements) + tail


#: Forms that do not fit what the prompt asks, checked in this order, with the reason each gives.
_MISFIT_RULES: tuple[tuple[Callable[[str, str], bool], str], ...] = (
    (is_single_answer_for_many, "asks for one answer where each of several items needs one"),
    (drops_asked_explanation, "asks for the answer only where the prompt asks why"),
    (is_yes_no_for_advice, "asks for yes or no where the prompt asks for advice"),
    (drops_asked_part, "asks for one thing only where the prompt asks for more"),
)
