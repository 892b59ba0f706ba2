"""The guard: accept a rewrite only when it cannot silently make things worse.

In the FIPO paper every 13B optimizer lowered downstream accuracy. A small local optimizer must therefore be
checked: a rewrite is accepted only if it keeps every template placeholder, the numbers, quoted strings and
option labels of the original, is not empty or degenerate (loops, refusals, an answer instead of a prompt,
a copy of the meta-prompt, a drift away from the task, a dropped instruction), invents no question, example
or quotation the original does not support, does not echo the template's vocabulary or word budget, and
stays near its length budget. Otherwise the caller falls back to the original prompt and reports why.

>>> verdict = check_rewrite("Answer the question: {question}", "Answer this question clearly: {question}")
>>> verdict.accepted
True
>>> check_rewrite("Answer the question: {question}", "Answer the question.").reasons
['lost_placeholder: {question}']
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .templates import OPTIMIZER_TEMPLATE

__all__ = ["GuardConfig", "GuardVerdict", "check_rewrite", "extract_placeholders"]


@dataclass(frozen=True)
class GuardConfig:
    """Which checks run and how strict they are."""

    #: Reject rewrites that lose or invent ``{x}``, ``{{x}}`` or Jinja ``{{ x }}`` / ``{% ... %}`` tokens.
    check_placeholders: bool = True
    #: Reject rewrites that lose a number of the original.
    check_numbers: bool = True
    #: Reject rewrites that lose a quoted string of the original.
    check_quotes: bool = True
    #: Reject rewrites that lose an option label or option text ("A) ...", "(B) ...").
    check_options: bool = True
    #: Reject loops, refusals, answers instead of prompts, copies of the meta-prompt and task drift.
    check_degenerate: bool = True
    #: Reject invented content: a new question, example or long quotation whose words are mostly not in the
    #: original, the template's own vocabulary ("Golden Prompt") or its word budget ("at most 56 words").
    check_invented: bool = True
    #: Share of a new question/example/quotation's content words that may be absent from the original.
    max_invented_share: float = 0.7
    #: Reject rewrites longer than ``budget_tolerance * max_words + budget_slack_words`` words.
    check_budget: bool = True
    budget_tolerance: float = 1.5
    budget_slack_words: int = 10
    #: Minimum share of the original's content words that the rewrite must keep (task drift check).
    min_keyword_recall: float = 0.3

    def __post_init__(self) -> None:
        if self.budget_tolerance < 1.0:
            raise ValueError(f"budget_tolerance must be >= 1.0, got {self.budget_tolerance}")
        if not 0.0 <= self.min_keyword_recall <= 1.0:
            raise ValueError(f"min_keyword_recall must be in [0, 1], got {self.min_keyword_recall}")
        if not 0.0 <= self.max_invented_share <= 1.0:
            raise ValueError(f"max_invented_share must be in [0, 1], got {self.max_invented_share}")


@dataclass(frozen=True)
class GuardVerdict:
    """Outcome of :func:`check_rewrite`: ``accepted`` and, when rejected, one reason per failed check."""

    accepted: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str | None:
        """All reasons joined, or ``None`` when accepted."""
        return "; ".join(self.reasons) if self.reasons else None


# {{ jinja }} / {% jinja %} / {{escaped}} tokens are kept verbatim (modulo inner spaces).
_DOUBLE_BRACE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
# A str.format replacement field: {name}, {name.attr}, {name[0]}, {name!r}, {name:>10}, {0}, {}.
_FORMAT_FIELD = re.compile(r"\{(?:[A-Za-z_]\w*|\d+)?(?:\.[A-Za-z_]\w*|\[[^\]{}]*\])*(?:![rsa])?(?::[^{}\n]*)?\}")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,:/]\d+)*(?:\.\d+)?%?")
_DOUBLE_QUOTED = re.compile(r"[\"“]([^\"“”\n]{1,200})[\"”]")
_SINGLE_QUOTED = re.compile(r"(?<!\w)'([^'\n]{1,120})'(?!\w)")
_OPTION_LINE = re.compile(r"^\s*(?:\(([A-Ha-h1-9])\)|([A-Ha-h1-9])[).:])\s+(\S.*)$", re.MULTILINE)
_REFUSAL = re.compile(
    r"^\s*(?:i'?m\s+sorry|i\s+am\s+sorry|sorry,|i\s+can(?:not|'t)\s+(?:help|assist|do|provide|comply)|"
    r"as\s+an\s+ai\b|i\s+am\s+unable|i'm\s+unable)",
    re.IGNORECASE,
)
_ANSWER_START = re.compile(r"^\s*(?:the\s+(?:final\s+)?answer\s+is|answer\s*:|solution\s*:|result\s*:)", re.I)
# "The answer is 14" (a concrete value, not the placeholder "N") or a worked computation "12 + 2 = 14".
_CONCRETE_ANSWER = re.compile(r"\bthe\s+(?:final\s+)?answer\s+is\s*:?\s*\(?[$£€]?\d", re.I)
# "The answer is D" / "The correct option is (B)": a multiple-choice answer, when the original lists options.
_LETTER_ANSWER = re.compile(
    r"(?i:\bthe\s+(?:correct\s+|right\s+|final\s+|best\s+)?(?:answer|option|choice)\s+is)\s*:?\s*\(?[A-H]\b(?![-'])(?!\)?\s*(?:,|/|or\b))"
)
_WORKED_COMPUTATION = re.compile(r"(\d+(?:\.\d+)?)\s*[-+*/×x]\s*(\d+(?:\.\d+)?)\s*=\s*[$£€]?\d")
_EXAMPLE_CUE = re.compile(r"(?:for\s+example|for\s+instance|e\.g\.|such\s+as|like)\W*$", re.IGNORECASE)
_NUMBER_WORDS = {
    str(i): word
    for i, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
# Latin words of 4+ letters, or runs of 2+ letters of other scripts (CJK, Cyrillic, ...).
_WORD = re.compile(r"[A-Za-zÀ-ÿ]{4,}|[^\W\d_A-Za-zÀ-ÿ]{2,}", re.UNICODE)
_STOPWORDS = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "could",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "from",
        "further",
        "have",
        "having",
        "here",
        "into",
        "itself",
        "just",
        "more",
        "most",
        "once",
        "only",
        "other",
        "over",
        "same",
        "should",
        "some",
        "such",
        "than",
        "that",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "under",
        "until",
        "very",
        "what",
        "when",
        "where",
        "which",
        "while",
        "will",
        "with",
        "would",
        "your",
        "yours",
        "also",
        "please",
        "answer",
        "question",
        "following",
        "given",
        "text",
        "prompt",
        "write",
        "using",
        "make",
        "sure",
    ]
)


def _normalise_token(token: str) -> str:
    return re.sub(r"\s+", "", token)


def extract_placeholders(text: str) -> Counter[str]:
    """All template tokens of ``text``: format fields, ``{{escapes}}`` and Jinja blocks, normalised.

    >>> sorted(extract_placeholders("Hi {name}, {{literal}} and {{ var }} {% if x %}"))
    ['{%ifx%}', '{name}', '{{literal}}', '{{var}}']
    """
    tokens: Counter[str] = Counter()
    remainder_parts: list[str] = []
    last = 0
    for match in _DOUBLE_BRACE.finditer(text):
        tokens[_normalise_token(match.group(0))] += 1
        remainder_parts.append(text[last : match.start()])
        last = match.end()
    remainder_parts.append(text[last:])
    for part in remainder_parts:
        for match in _FORMAT_FIELD.finditer(part):
            tokens[_normalise_token(match.group(0))] += 1
    return tokens


def _works_the_problem(original: str, text: str) -> bool:
    """A computation ``a op b = c`` on numbers of the original, not introduced as an example."""
    original_numbers = _numbers(original)
    for match in _WORKED_COMPUTATION.finditer(text):
        if _EXAMPLE_CUE.search(text[max(0, match.start() - 30) : match.start()]):
            continue
        if match.group(1) in original_numbers or match.group(2) in original_numbers:
            return True
    return False


def _answers_a_choice(text: str) -> bool:
    """States a multiple-choice answer ("The answer is D"), unless it is shown as an example format."""
    for match in _LETTER_ANSWER.finditer(text):
        before = text[max(0, match.start() - 30) : match.start()]
        if _EXAMPLE_CUE.search(before) or before.rstrip().endswith(("'", '"', "“", "`")):
            continue
        return True
    return False


def _keeps_number(number: str, kept_numbers: set[str], normalised_rewrite: str) -> bool:
    if number in kept_numbers:
        return True
    word = _NUMBER_WORDS.get(number)
    return word is not None and re.search(rf"\b{word}\b", normalised_rewrite) is not None


def _numbers(text: str) -> set[str]:
    found = set()
    for match in _NUMBER.finditer(text):
        found.add(match.group(0).rstrip(".,:/"))
    return found


def _quoted(text: str) -> set[str]:
    spans = {m.group(1).strip() for m in _DOUBLE_QUOTED.finditer(text)}
    spans |= {m.group(1).strip() for m in _SINGLE_QUOTED.finditer(text) if " " in m.group(1) or len(m.group(1)) > 2}
    return {span for span in spans if span}


_QUOTE_CHARS = "\"'“”‘’`«»"


def _keeps_quote(span: str, normalised_rewrite: str) -> bool:
    """The quoted span appears in the rewrite, still quoted (any quote style)."""
    needle = _normalise_space(span)
    start = normalised_rewrite.find(needle)
    while start != -1:
        before = normalised_rewrite[start - 1 : start] if start > 0 else ""
        after = normalised_rewrite[start + len(needle) : start + len(needle) + 1]
        if before in _QUOTE_CHARS and after in _QUOTE_CHARS and before and after:
            return True
        start = normalised_rewrite.find(needle, start + 1)
    return False


def _options(text: str) -> list[tuple[str, str]]:
    options = [((m.group(1) or m.group(2)).upper(), m.group(3).strip()) for m in _OPTION_LINE.finditer(text)]
    return options if len(options) >= 2 else []


def _normalise_space(text: str) -> str:
    return " ".join(text.lower().split())


def _repetition_score(text: str, n: int = 4) -> float:
    """Share of word n-grams that are repeats; ~0 for normal prose, high for loops (numbered ones too)."""
    words = re.sub(r"\b(?:\d+|[A-Z])\b", "#", text).lower().split()
    if len(words) < 3 * n:
        return 0.0
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    repeated = sum(c - 1 for c in counts.values() if c > 1)
    return repeated / len(grams)


def _content_words(text: str) -> set[str]:
    stripped = _DOUBLE_BRACE.sub(" ", _FORMAT_FIELD.sub(" ", text))
    return {w.lower() for w in _WORD.findall(stripped) if w.lower() not in _STOPWORDS}


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _drops_leading_instruction(original: str, rewrite: str) -> str | None:
    """The instruction paragraph that precedes a passage, when the rewrite starts with the passage instead.

    ("You are given two questions. Check if they are duplicates.\n\nQuestion1: ..." rewritten as
    "Question1: ..."): the rewrite opens with the first words of the original's second paragraph and keeps
    fewer than half of the first paragraph's content words.
    """
    paragraphs = [p for p in re.split(r"\n\s*\n", original.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return None
    instruction = _stems(_content_words(paragraphs[0]))
    passage_start = " ".join(_plain(paragraphs[1]).split()[:8])
    if len(instruction) < 2 or not passage_start or not _plain(rewrite).startswith(passage_start):
        return None
    kept = len(instruction & _stems(_content_words(rewrite))) / len(instruction)
    return paragraphs[0] if kept < 0.5 else None


def _copies_meta_prompt(rewrite: str) -> bool:
    lowered = rewrite.lower()
    if any(marker.lower() in lowered for marker in OPTIMIZER_TEMPLATE.markers):
        return True
    fixed_sentences = [OPTIMIZER_TEMPLATE.intro, OPTIMIZER_TEMPLATE.output_label, "Do not answer the task"]
    return any(_normalise_space(sentence)[:60] in _normalise_space(rewrite) for sentence in fixed_sentences)


def _degenerate_reasons(original: str, rewrite: str, golden_response: str | None, min_recall: float) -> list[str]:
    reasons: list[str] = []
    if _repetition_score(rewrite) > max(0.3, _repetition_score(original) + 0.2):
        reasons.append("degenerate: repeated text (generation loop)")
    if _REFUSAL.match(rewrite) and not _REFUSAL.match(original):
        reasons.append("degenerate: refusal instead of a prompt")
    answers = (
        (_ANSWER_START.match(rewrite) and not _ANSWER_START.match(original))
        or (_CONCRETE_ANSWER.search(rewrite) and not _CONCRETE_ANSWER.search(original))
        or (_works_the_problem(original, rewrite) and not _works_the_problem(original, original))
        or (_answers_a_choice(rewrite) and _options(original) and not _answers_a_choice(original))
    )
    if answers:
        reasons.append("degenerate: an answer to the task instead of a prompt")
    elif golden_response and len(golden_response.strip()) >= 8:
        golden = _normalise_space(golden_response)
        if golden in _normalise_space(rewrite) and golden not in _normalise_space(original):
            reasons.append("degenerate: the rewrite contains the golden response (it answers the task)")
    if _copies_meta_prompt(rewrite) and not _copies_meta_prompt(original):
        reasons.append("degenerate: copy of the optimizer's meta-prompt")
    dropped = _drops_leading_instruction(original, rewrite)
    if dropped is not None:
        shown = " ".join(dropped.split())
        reasons.append(f"lost_instruction: the rewrite drops {shown[:60]!r} and starts with the text after it")
    keywords = _content_words(original)
    if len(keywords) >= 3:
        kept = keywords & _content_words(rewrite)
        recall = len(kept) / len(keywords)
        if recall < min_recall:
            reasons.append(f"drifted: keeps {recall:.0%} of the original's content words (< {min_recall:.0%})")
    return reasons


# The template's own vocabulary and its word-budget sentence, echoed into a rewrite.
_TEMPLATE_TERMS = re.compile(r"\b(?:silver|golden)\s+(?:prompt|response)s?\b", re.IGNORECASE)
_QUESTION = re.compile(r"[^.!?\n:]*\?")
# "Sentence: ...", "**Context:** ...", "Question 2: ..." - a labelled block that may hold an invented example.
_LABELLED = re.compile(
    r"^[ \t>*#-]*(?:sentence|context|passage|question|answer|output|input|example|story|text|premise)s?"
    r"(?:\s*\d+)?[ \t*]*:[ \t*]*(.*)$",
    re.IGNORECASE | re.MULTILINE,
)


def _stems(words: set[str]) -> set[str]:
    return {word[:-1] if word.endswith("s") and len(word) > 4 else word for word in words}


def _invented_share(span: str, known_stems: set[str]) -> float | None:
    """Share of ``span``'s content words whose stem is not in ``known_stems``; ``None`` when not checked.

    Short spans and output-format sketches (``<name>``, ``{placeholder}``) are not checked.
    """
    if "<" in span or extract_placeholders(span):
        return None
    words = _stems(_content_words(span))
    if len(words) < 3:
        return None
    return len(words - known_stems) / len(words)


def _labelled_blocks(text: str) -> list[str]:
    """Text of each labelled block (the rest of its line, or the next non-empty line when that is empty)."""
    blocks = []
    for match in _LABELLED.finditer(text):
        content = match.group(1).strip()
        if not content:
            following = text[match.end() :].lstrip("\n").split("\n", 1)[0]
            content = "" if _LABELLED.match(following) else following.strip()
        if content:
            blocks.append(content)
    return blocks


def _invented_reasons(original: str, rewrite: str, max_words: int | None, max_share: float) -> list[str]:
    reasons: list[str] = []
    leaked = _TEMPLATE_TERMS.search(rewrite)
    if leaked and not _TEMPLATE_TERMS.search(original):
        reasons.append(f"leaked_template: {leaked.group(0)!r}")
    states_budget = max_words is not None and re.search(rf"\b{max_words}\s+words?\b", rewrite, re.IGNORECASE)
    if states_budget and str(max_words) not in _numbers(original):
        reasons.append(f"leaked_budget: the template's budget of {max_words} words became an instruction")
    known = _stems(_content_words(original))
    normalised_original = _normalise_space(original)
    spans = [("question", m.group(0)) for m in _QUESTION.finditer(rewrite)]
    spans += [("example", block) for block in _labelled_blocks(rewrite)]
    spans += [("quote", quote) for quote in _quoted(rewrite) if len(quote.split()) >= 5]
    for kind, span in spans:
        if _normalise_space(span) in normalised_original:
            continue
        share = _invented_share(span, known)
        if share is not None and share > max_share:
            shown = " ".join(span.split())
            reasons.append(f"invented_{kind}: {shown[:60]!r} ({share:.0%} new words)")
    return reasons


def check_rewrite(
    original: str,
    rewrite: str,
    *,
    max_words: int | None = None,
    golden_response: str | None = None,
    config: GuardConfig | None = None,
) -> GuardVerdict:
    """Check a cleaned rewrite against its original; see the module docstring for what is checked."""
    cfg = config or GuardConfig()
    if not rewrite or not rewrite.strip():
        return GuardVerdict(False, ["empty rewrite"])
    reasons: list[str] = []
    if cfg.check_placeholders:
        before, after = extract_placeholders(original), extract_placeholders(rewrite)
        reasons += [f"lost_placeholder: {token}" for token in sorted(before) if token not in after]
        reasons += [f"new_placeholder: {token}" for token in sorted(after) if token not in before]
    if cfg.check_numbers:
        kept_numbers, lowered = _numbers(rewrite), _normalise_space(rewrite)
        reasons += [
            f"lost_number: {n}" for n in sorted(_numbers(original)) if not _keeps_number(n, kept_numbers, lowered)
        ]
    if cfg.check_quotes:
        normalised = _normalise_space(rewrite)
        reasons += [f"lost_quote: {q!r}" for q in sorted(_quoted(original)) if not _keeps_quote(q, normalised)]
    if cfg.check_options:
        normalised = _normalise_space(rewrite)
        rewrite_labels = {label for label, _ in _options(rewrite)}
        rewrite_labels |= {m.upper() for m in re.findall(r"\(([A-Ha-h1-9])\)|\b([A-H])[).:]", rewrite) for m in m if m}
        for label, text in _options(original):
            if label not in rewrite_labels:
                reasons.append(f"lost_option_label: {label}")
            elif _normalise_space(text) not in normalised:
                reasons.append(f"lost_option_text: {label}")
    if cfg.check_degenerate:
        reasons += _degenerate_reasons(original, rewrite, golden_response, cfg.min_keyword_recall)
    if cfg.check_invented:
        reasons += _invented_reasons(original, rewrite, max_words, cfg.max_invented_share)
    if cfg.check_budget and max_words is not None:
        limit = int(cfg.budget_tolerance * max_words) + cfg.budget_slack_words
        words = len(rewrite.split())
        if words > limit:
            reasons.append(f"over_budget: {words} words > {limit} (budget {max_words})")
    return GuardVerdict(not reasons, reasons)
