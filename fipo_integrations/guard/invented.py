"""New-content checks: numbers, names, quotes, URLs, identifiers, questions and examples the rewrite invents.

Anything specific in the rewrite must come from the original or from the silver/golden responses. Output
format tokens a rewrite may add are not invented: option letters, ``The answer is N``, list numbering,
yes/no answer words, and the keys of a requested JSON shape.
"""

from __future__ import annotations

import re

from .constraints import options
from .lexicon import ANSWER_TOKENS, NUMBER_WORDS, STOPWORDS
from .placeholders import extract_placeholders, strip_placeholders
from .reasons import Reason
from .task import sentence_is_instruction
from .text import Pair, content_stems, normalise, number_values, numbers, proper_nouns, quoted, sentences, stem, words

__all__ = ["invented_reasons"]

_URL = re.compile(
    r"\b(?:https?://|www\.)\S+|\b[\w.+-]+@[\w-]+\.[\w.]+\b|"
    r"(?<![\w/])[\w-]+(?:/[\w.-]+)*\.(?:csv|tsv|txt|json|jsonl|xml|yaml|yml|py|js|ts|java|cpp|c|h|rb|go|rs|html|"
    r"css|md|pdf|docx?|xlsx?|pptx?|png|jpe?g|gif|svg|zip|tar|gz|log|ini|cfg|toml|sh|sql|ipynb|exe|dll|db)\b|"
    r"\b[a-z0-9-]+\.(?:com|org|net|io|ai|dev|gov|edu|co\.uk)\b|(?<![\w/])/(?:[\w.-]+/)+[\w.-]*|"
    # a relative path: "src/utils", "data/raw_2024" (plain words joined by slashes, "day/month/year", are not)
    r"\b(?=[\w/-]*(?:[\d_]|\b(?:src|lib|usr|etc|home|var|tmp|bin|opt|app|api|docs|tests?|config|assets|static|"
    r"public|components|utils|scripts|build|dist)/))[a-z][\w-]{2,}(?:/[a-z][\w-]{2,})+\b",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(
    r"(?<![\w.])(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*(?:\(\))?|"  # dotted: pandas.read_csv, os.path.join
    r"\b[A-Za-z_]\w*\([^()\n]{0,40}\)|"  # a call: reverseList(arr)
    r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|"  # snake_case
    r"\b[a-z]+[A-Z][A-Za-z0-9]*\b|"  # camelCase
    r"\b(?=[a-z0-9]*\d[a-z]+\d)[a-z0-9]{6,}\b|"  # a hash or code: a1b2c3d
    r"(?<![^\s`'\"(\[])--?[a-z][\w-]{2,}|"  # flags: "--verbose" (not "O(1)-space")
    r"\$[A-Z_][A-Z0-9_]{2,}|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|"  # env vars, CONSTANTS
    r"(?<!\w)@[A-Za-z_]\w+|(?<![\w&])#[A-Za-z_]\w+|\bv?\d+\.\d+\.\d+\b|"  # decorators, hashtags, versions
    r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\blocalhost(?::\d+)?\b"  # IP addresses, local hosts
)
_LIST_NUMBER = re.compile(r"^\s*(?:step\s+)?\d{1,2}[.):]\s", re.IGNORECASE | re.MULTILINE)
_QUESTION = re.compile(r"[^.!?\n:]*\?")
_EXAMPLE_CUE = re.compile(r"\b(?:for\s+example|for\s+instance|e\.g\.|such\s+as|as\s+in)[:,]?\s+([^.!?\n]+)", re.I)
_LABELLED = re.compile(
    r"^[ \t>*#-]*(sentence|context|passage|question|answer|output|input|example|story|text|premise|hypothesis|"
    r"summary|translation|result|solution|response|options?|choices?|data|table|review|tweet|email|article)s?"
    r"(?:\s*\d+)?[ \t*]*:[ \t*]*(.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_LABEL_LINE = r"^[ \t>*#-]*([A-Za-z][A-Za-z'’-]*(?: [A-Za-z][A-Za-z'’-]*){0,2})[ \t]*:(?!\S)[ \t]*(.*)$"
_ANSWER_LABELS = {"answer", "output", "summary", "translation", "result", "solution", "response"}
#: Labels that give the answer away wherever they stand: "Correct option: C", "Expected output: [1, 3]".
_GIVEN_AWAY_LABELS = {"correct option", "correct answer", "correct choice", "right answer", "answer key",
                      "expected output", "expected answer", "expected result"}  # fmt: skip
_ARROW = re.compile(r"(?:->|=>|→)")
_JSON_CONTEXT = re.compile(r"\b(?:json|keys?|fields?|object|dictionary|dict|schema|columns?|properties)\b", re.I)
_TEMPLATE_TERMS = re.compile(r"\b(?:silver|golden)\s+(?:prompt|response)s?\b", re.IGNORECASE)


def _is_json_key(rewrite: str, span: str) -> bool:
    """A quoted key of a JSON shape the rewrite asks for ("keys "name", "email"" or ``{"name": ...}``)."""
    if not re.fullmatch(r"[\w-]+", span) or not _JSON_CONTEXT.search(rewrite):
        return False
    return re.search(r"[\"'`“]" + re.escape(span) + r"[\"'`”]\s*(?::|,|and\b|or\b|\)|\]|\}|$|\.)", rewrite) is not None


_FORMAT_UNIT = (
    r"(?:[-–]\s*\d+\s*)?(?:[\w-]+\s+){0,2}?(?:steps?|words?|sentences?|lines?|paragraphs?|bullets?|bullet\s+points|"
    r"points|items?|examples?|options?|choices|decimal\s+places?|digits?|characters?|tips|ideas|questions|reasons|"
    r"sections?|parts|columns?|rows?|year-olds?|-year-old|significant\s+figures|alternatives|suggestions|spaces?|indentation|"
    r"sentence\s+summary|words?\s+or\s+(?:fewer|less))\b"
)
_COUNT = r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|fifty|hundred)"
_SHAPE_NUMBER = re.compile(
    # "3–6 short steps", "one or two sentences"
    rf"(?<![\w.])\b{_COUNT}(?:\s*(?:or|to|-|–)\s*{_COUNT})?\s*{_FORMAT_UNIT}|"
    r"(?m:^[ \t]*[A-Za-z]+[ \t]+\d{1,2}[ \t]*:(?!\d))|"  # a numbered label at a line start: "Variant 1:"
    r"\(\d{1,2}\)|\b(?:premise|line|step|example|question|sentence|part|option|solution|item|problem|answer|case|"
    r"paragraph|text|document|passage|point|rule|hint|note)\s*\d{1,2}\b|\b[QA]\d{1,2}\b|"  # "(1)", "line 1"
    r"\b(?:at\s+most|at\s+least|up\s+to|no\s+more\s+than|maximum(?:\s+of)?|max\.?)\s+"
    r"\d+(?:,\d{3})*(?:\.\d+)?\b|"  # a count limit: "up to 4,000"
    r"\((?:for\s+example|e\.g\.|for\s+instance|such\s+as)[^()\n]{0,80}\)|"  # "(for example 3 × 4 = 12)"
    r"\b1\s+[a-z]+\s*=\s*[\d.,]+\s*[a-z]+|"  # a unit conversion: "1 mile = 1.609 km"
    r"\(\d+\s*[-–]\s*\d+\)",  # a scale: "(1-5)"
    re.IGNORECASE,
)


_SPEC_BEFORE = re.compile(
    r"(?:^|[\n(,:;.]|\b(?:in|into|with|using|under|within|about|around|exactly|than|most|least|to|of|give|list|"
    r"write|use|name|provide|generate|produce|suggest|make|answer|reply|respond|up|max|each|per|between|from|"
    r"and|or|then|cover|state|add|include))\s*$",
    re.IGNORECASE,
)


def _shape_numbers_removed(text: str) -> str:
    """``text`` without the numbers that size or illustrate the output ("in 2-3 sentences", "(1)", "(e.g. ...)")."""

    def replace(match: re.Match[str]) -> str:
        before = text[max(0, match.start() - 30) : match.start()]
        limit = match.group(0).lower().startswith(("at", "up", "no", "max"))
        if match.group(0)[0].isalnum() and not _SPEC_BEFORE.search(before) and not limit:
            return match.group(0)
        return " "

    return _SHAPE_NUMBER.sub(replace, text)


def content_region(pair: Pair) -> str:
    """The part of the rewrite that states the task's content: sentences that restate the original (half of
    their content words come from it) and sentences that are not instructions (statements, data).

    New guidance sentences ("Count the days in each month (November has 30 days ...)") are instructions to
    the model about method or format; what they mention is checked by the other checks, not as a fact.
    """
    kept = []
    for sentence in sentences(pair.rewrite):
        core = _URL.sub(" ", _IDENTIFIER.sub(" ", re.sub(r"[\"“'‘`][^\"“”'’`\n]{1,200}[\"”'’`]", " ", sentence)))
        stems = content_stems(core)
        restates = bool(stems) and len(stems & pair.known_stems) / len(stems) >= 0.4
        if restates or not sentence_is_instruction(sentence):
            kept.append(sentence)
    return "\n".join(kept)


def _new_numbers(pair: Pair, max_words: int | None, region: str) -> list[str]:
    rewrite = _shape_numbers_removed(strip_placeholders(region))
    rewrite = _LIST_NUMBER.sub(" ", rewrite)
    known_values = number_values(pair.known)
    option_count = len(re.findall(r"^\s*\(?[A-Ha-h1-9][).:]\s", pair.original, re.MULTILINE))
    counts = _counts(pair.original) | _counts(pair.rewrite)
    counts |= {float(n) for n in range(1, option_count + 1)}
    new = []
    for value in sorted({v.replace(",", "") for v in numbers(rewrite)}):
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            number = None
        if value in numbers(pair.known) or (number is not None and number in known_values):
            continue
        if max_words is not None and number == max_words:
            continue  # reported as meta_echo
        new.append(value)
    for word in [p for w in words(rewrite) for p in w.split("-")]:
        lowered = word.lower()
        spelled = NUMBER_WORDS.get(lowered)
        if spelled is None or spelled < 2 or lowered in {"second", "pair", "couple", "half", "twice", "first"}:
            continue
        if float(spelled) not in known_values | counts and lowered not in pair.known_words:
            new.append(lowered)
    return new


def _counts(text: str) -> set[float]:
    """Sizes of what ``text`` enumerates: list items, names, placeholders (a rewrite may count them)."""
    counts = {float(len(extract_placeholders(text))), float(len(proper_nouns(text)))}
    for match in re.finditer(r"[^,:;\n.?!]+(?:,[^,:;\n.?!]+)*,?\s+(?:and|or)\s+[^,:;\n.?!]+", text):
        counts.add(float(len([i for i in re.split(r",|\s+(?:and|or)\s+", match.group(0)) if i.strip()])))
    for line_list in re.finditer(r":\s*([^\n:]+(?:,[^\n:]+)+)", text):
        counts.add(float(len(line_list.group(1).split(","))))
    counts.add(float(len(re.findall(r"(?m)^\s*(?:[-*•]|\d+[.)]|\(?[A-Ha-h][).])\s", text))))
    return {c for c in counts if c >= 2}


_OUTPUT_CUE = re.compile(
    r"\b(?:reply|respond|answer|output|write|print|return|say|label|mark|use|with|as|or|either|tag|format|"
    r"form|one\s+of|and|e\.g\.|exactly|starting|prefixed|labell?ed|under|formatted|headed|titled)",
    re.IGNORECASE,
)


def _is_output_token(rewrite: str, span: str) -> bool:
    """A short quoted output token or template of a format instruction ("write 'not stated'", "'Answer: Yes'")."""
    template = re.search(r"^\w[\w ]{0,20}:|:$|\b(?:N|X|YYYY|HH:MM)\b|<|\[|\s(?:-|->|→)\s|\.\.\.", span) is not None
    if template:
        return True  # an output template or label: '<Role>: <Name>', 'Alternatives:', 'Name - title'
    if len(span.split()) > 3:
        return False
    for match in re.finditer(re.escape(span), rewrite):
        before = rewrite[max(0, match.start() - 40) : match.start()]
        if re.search(
            _OUTPUT_CUE.pattern + r"(?:\s+(?:the\s+)?(?:word|line|label|phrase|text|answer))?\W{0,4}$", before, re.I
        ):
            return True
    return False


_ANSWER_FRAME = re.compile(r"^\W*(?:so\s+)?(?:the\s+(?:final\s+)?answer\s+is|(?:final\s+)?answer)\s*:?\s*", re.I)


def _new_quotes(pair: Pair, region: str) -> list[str]:
    new = []
    for span in quoted(region):
        norm = normalise(span)
        if norm in pair.known_norm or norm.strip(".!?,;: ") in pair.known_norm:
            continue
        if _is_json_key(pair.rewrite, span):
            continue
        if _is_output_token(pair.rewrite, span):
            continue
        at = pair.rewrite.find(f"`{span}`")
        if at >= 0 and _DEFINES.search(pair.rewrite[max(0, at - 30) : at + 1]):
            continue  # code the rewrite asks the model to write: "Write `is_prime(n: int) -> bool`"
        if "<" in span or "[" in span or "{" in span:
            continue  # an output sketch: '<Role>: <Name>', '[answer]', '{placeholder}'
        # a reply token, bare or in the answer frame: "yes", "The answer is True", "Answer: (B)"
        span_words = [w.lower() for w in words(_ANSWER_FRAME.sub("", span))]
        if span_words and all(w in ANSWER_TOKENS for w in span_words):
            continue
        new_stems = pair.new_stems(span)
        new_stems -= {stem(w) for w in ("answer", "final", "correct", "option", "letter", "number", "label")}
        if new_stems or (numbers(span) - numbers(pair.known)):
            new.append(span)
    return new


# Not identifiers: plurals "sentence(s)", math "F(0)"/"O(n)", naming conventions, units "mL".
_NOT_IDENTIFIER = re.compile(
    r"\w+\(s\)|[A-Za-z]\([^()]*\)|snake_case|(?:lower|upper)?camelcase|(?:lower|upper)?camelCase|PascalCase|kebab-case|"
    r"[a-z][A-Z]"
)
# An identifier the rewrite defines as part of the output it asks for (a function to write, a JSON key, a
# column), not one it claims exists.
_DEFINES = re.compile(
    r"\b(?:write|implement|define|create|provide|named?|called|keys?|fields?|columns?|function|method|class|"
    r"signature|returns?|output|as|property|properties|attributes?)\W{0,3}(?:a|an|the)?\W{0,3}`?$",
    re.IGNORECASE,
)


# A guidance sentence that brings in an authority or a style: "in the style of Hemingway", "as NASA defines it".
_ATTRIBUTION = re.compile(
    r"\b(?:style\s+of|voice\s+of|like|according\s+to|as\s+defined\s+by|as|cited\s+by|quoting|per)\s+"
    r"(?:the\s+)?(?:[A-Z][\w'’.-]*\s*){1,3}"
)


def _known_name(name: str, pair: Pair) -> bool:
    """A name the original states in another form: a plural ("Saturdays" for "Saturday") or a short form the
    name extends ("mac" for "macOS")."""
    if name in pair.known_words or stem(name) in pair.known_stems or stem(name + "s") in pair.known_stems:
        return True
    return any(len(word) >= 3 and name.startswith(word) and len(name) - len(word) <= 2 for word in pair.known_words)


def _parts_known(token: str, pair: Pair) -> bool:
    """An identifier spelled from the original's own words: ``departure_airport`` for "departure airport",
    ``rgb(r, g, b)`` for "rgb"."""
    parts = [p.lower() for p in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", token) if len(p) > 1]
    return bool(parts) and all(p in pair.known_words or stem(p) in pair.known_stems for p in parts)


def _new_urls_and_identifiers(pair: Pair, region: str) -> tuple[list[str], list[str]]:
    rewrite = strip_placeholders(region)
    known = pair.known.lower()
    urls = [m.group(0).rstrip(".,;:)") for m in _URL.finditer(rewrite)]
    urls = [u for u in urls if u.lower() not in known]
    identifiers = []
    for match in _IDENTIFIER.finditer(rewrite):
        token = match.group(0)
        if _NOT_IDENTIFIER.fullmatch(token) or _DEFINES.search(rewrite[max(0, match.start() - 30) : match.start()]):
            continue
        if token.lower() in known or any(token in u for u in urls) or re.fullmatch(r"(?:e\.g|i\.e|etc)\.?", token):
            continue
        if token.lower() in strip_placeholders(known):
            continue
        # an empty call of a compound name is a helper the original never mentions ("tone_check()"), even when
        # spelled from its own words; "rgb()" for "RGB" is the original's term
        helper = token.endswith("()") and bool(re.search(r"[a-z][_A-Z]", token))
        if not helper and _parts_known(token, pair):
            continue
        if re.fullmatch(r"[\w-]+", token) and _is_json_key(pair.rewrite, token):
            continue
        if re.fullmatch(r"[A-Za-z]\.[A-Za-z]", token):  # initials, "U.S"
            continue
        identifiers.append(token)
    return urls, identifiers


def _new_share(span: str, pair: Pair) -> tuple[float, int]:
    stems = content_stems(span)
    if not stems:
        return 0.0, 0
    new = pair.new_stems(span)
    return len(new) / len(stems), len(new)


def _covers(rest: str, pair: Pair, share: float = 0.6) -> bool:
    """The rest of the rewrite still carries the original's task (so a span beside it is an addition)."""
    if not pair.original_stems:
        return True
    return len(pair.original_stems & content_stems(rest)) / len(pair.original_stems) >= share


def _labelled_blocks(text: str, extra_labels: set[str]) -> list[tuple[str, str]]:
    blocks = []
    matches = list(_LABELLED.finditer(text))
    for match in re.finditer(_LABEL_LINE, text, re.MULTILINE):
        if match.group(1).strip().lower() in extra_labels:
            matches.append(match)
    for match in matches:
        content = match.group(2).strip()
        if not content:
            following = text[match.end() :].lstrip("\n").split("\n", 1)[0]
            content = "" if _LABELLED.match(following) else following.strip()
        if content:
            blocks.append((match.group(1).lower(), content))
    return blocks


#: A labelled line: "Sentence 1: ...", "Problem: ...", "Random Boolean expression: ...".
_FIELD_LINE = re.compile(r"^[ \t]*([A-Z][\w'’]*(?:[ \t]+[\w'’]+){0,3})[ \t]*:[ \t]*(\S[^\n]*)$", re.MULTILINE)
#: Labels of lines that state how to answer, not an input: "Output: JSON", "Steps: ...", "Task: ...".
_GUIDANCE_LABELS = frozenset(
    re.findall(
        r"\w+",
        """answer output format response reply result note notes constraint constraints step steps rule rules
        instruction instructions task hint hints requirement requirements example examples reasoning explanation
        style tone length audience goal context input method approach procedure""",
    )
)


def _new_field_line(pair: Pair) -> str | None:
    """A labelled line below the task, labelled with an input the original names, whose text is mostly new: a
    made-up input ("Sentence 1: Answer whether the last word ..." for "Determine which of two sentences is
    sarcastic", "Random Boolean expression: extract the value ...")."""
    first = pair.rewrite.lstrip()
    start = len(pair.rewrite) - len(first)
    first_line_end = pair.rewrite.find("\n", start)
    if first_line_end < 0:
        return None
    for match in _FIELD_LINE.finditer(pair.rewrite, first_line_end):
        label, body = match.group(1).strip(), match.group(2)
        if label.lower().split()[-1] in _GUIDANCE_LABELS or normalise(match.group(0)) in pair.known_norm:
            continue
        label_stems = content_stems(label)
        if not label_stems or not label_stems <= pair.original_stems:
            continue  # the label names no input of the original: a role, criteria, columns, a caution
        if extract_placeholders(body) or len(body.split()) < 4 or body.lstrip()[:1] in "(<[{":
            continue
        share, new = _new_share(body, pair)
        if new >= 3 and share >= 0.5:
            return match.group(0).strip()
    return None


_FACT_CODES = {"invented_number", "invented_name", "invented_quote", "invented_url", "invented_identifier",
               "invented_fact"}  # fmt: skip


def invented_reasons(pair: Pair, max_words: int | None, max_share: float, _inner: bool = False) -> list[Reason]:
    """Everything specific in the rewrite that neither the original nor the responses contain.

    A fact that only the silver/golden response contains is not invented but it is the task's answer
    (``answers_task``): the rewrite may use a response's format, not its content.
    """
    if pair.responses and not _inner:
        with_responses = invented_reasons(pair, max_words, max_share, _inner=True)
        bare = invented_reasons(Pair(pair.original, pair.rewrite), max_words, max_share, _inner=True)
        leaked = [r for r in bare if r.code in _FACT_CODES and r not in with_responses]
        answers = [Reason("answers_task", f"states {r.detail} from the silver/golden response") for r in leaked]
        return _dedupe(with_responses + answers)
    reasons: list[Reason] = []
    region = content_region(pair)
    for value in _new_numbers(pair, max_words, region):
        reasons.append(Reason("invented_number", value))
    attributed = " ".join(m.group(0) for m in _ATTRIBUTION.finditer(pair.rewrite))
    for name in sorted((proper_nouns(region) | proper_nouns(attributed)) - proper_nouns(pair.known)):
        if not _known_name(name, pair):
            reasons.append(Reason("invented_name", name))
    for span in _new_quotes(pair, pair.rewrite):
        reasons.append(Reason("invented_quote", repr(span[:60])))
    urls, identifiers = _new_urls_and_identifiers(pair, pair.rewrite)
    reasons += [Reason("invented_url", url) for url in urls]
    reasons += [Reason("invented_identifier", token) for token in identifiers]
    for match in _QUESTION.finditer(pair.rewrite):
        question = match.group(0).strip()
        if normalise(question) in pair.known_norm or len(words(question)) < 3 or extract_placeholders(question):
            continue
        share, new = _new_share(question, pair)
        rest = pair.rewrite.replace(match.group(0), " ")
        if (new >= 2 and share > max_share and _covers(rest, pair)) or (
            new >= 1 and share >= 0.34 and _covers(rest, pair, 0.85) and "?" not in pair.original
        ):
            reasons.append(Reason("invented_question", f"{' '.join(question.split())[:60]!r} ({share:.0%} new)"))
    label_lines = list(re.finditer(_LABEL_LINE, pair.original, re.MULTILINE))
    repeated = {lab for lab in (m.group(1).strip().lower() for m in label_lines)
                if sum(m.group(1).strip().lower() == lab for m in label_lines) > 1}  # fmt: skip
    original_labels = {
        m.group(1).strip().lower()
        for m in label_lines
        if not m.group(2).strip() or extract_placeholders(m.group(2)) or m.group(1).strip().lower() in repeated
    }
    for match in re.finditer(
        r"(?:^|\(|\n|(?:(?<=[.!?])|(?<=[.!?][\"”'’)]))\s)\s*([A-Za-z][\w-]*(?: [\w-]+){0,2})\s*:\s*([^\n)]+)",
        pair.rewrite,
        re.MULTILINE,
    ):
        label, block = match.group(1).lower(), match.group(2).strip()
        line = normalise(match.group(0).strip("(\n "))
        answer_label = label.split()[-1] in _ANSWER_LABELS or label in _GIVEN_AWAY_LABELS
        stated = answer_label and block and "{" not in block and line not in pair.known_norm
        if stated and label in _GIVEN_AWAY_LABELS and normalise(label) in pair.original_norm:
            stated = False
        if stated and not re.search(r"\b(?:one of|either|yes or no|letter|N|X|a number|a word)\b|[<\[]", block):
            reasons.append(Reason("answers_task", f"{label}: {' '.join(block.split())[:60]!r}"))
    for label, block in _labelled_blocks(pair.rewrite, original_labels):
        answer_label = label in _ANSWER_LABELS or label.split()[-1] in _ANSWER_LABELS
        if answer_label:
            continue
        if normalise(block) in pair.known_norm or "<" in block or "{" in block or block.startswith("("):
            continue
        if sentence_is_instruction(block):
            continue
        share, new = _new_share(block, pair)
        if (new >= 2 and share > max_share) or (new >= 1 and label in original_labels):
            code = "answers_task" if answer_label else "invented_example"
            reasons.append(Reason(code, f"{label}: {' '.join(block.split())[:60]!r} ({share:.0%} new)"))
    field = _new_field_line(pair)
    if field is not None:
        reasons.append(Reason("invented_example", f"a new input field {' '.join(field.split())[:60]!r}"))
    for line in pair.rewrite.splitlines():
        if sentence_is_instruction(line) or "<" in line or re.search(r"[\"'][^\"']*(?:->|→)", line):
            continue
        if _ARROW.search(line) and normalise(line) not in pair.known_norm:
            left, right = _ARROW.split(line, maxsplit=1)
            near = " ".join(left.split()[-3:]) + " " + " ".join(right.split()[:3])
            if content_stems(near) - pair.known_stems or numbers(near) - numbers(pair.known):
                reasons.append(Reason("invented_example", f"{' '.join(line.split())[:60]!r}"))
    for match in _EXAMPLE_CUE.finditer(region):
        clause = match.group(1)
        if region[: match.start()].count("(") > region[: match.start()].count(")"):
            continue  # a parenthetical illustration of the instruction
        share, new = _new_share(clause, pair)
        if normalise(clause) not in pair.known_norm and new >= 2 and share > 0.5:
            reasons.append(Reason("invented_example", repr(" ".join(clause.split())[:60])))
    reasons += _statement_reasons(pair)
    reasons += _given_away(pair)
    original_options = {label for label, _ in options(pair.original)}
    if original_options:
        for label, text in options(pair.rewrite):
            if label not in original_options:
                reasons.append(Reason("invented_example", f"a new option {label}) {text[:40]!r}"))
    template_term = _TEMPLATE_TERMS.search(pair.rewrite)
    if template_term and not _TEMPLATE_TERMS.search(pair.original):
        reasons.append(Reason("meta_echo", f"template vocabulary {template_term.group(0)!r}"))
    states_budget = max_words is not None and re.search(rf"\b{max_words}\s+words?\b", pair.rewrite, re.I)
    if states_budget and str(max_words) not in numbers(pair.original):
        reasons.append(Reason("meta_echo", f"the template's budget of {max_words} words became an instruction"))
    return _dedupe(reasons)


_INSTRUCTION_VOCAB = re.compile(
    r"\b(?:answer|format|steps?|lines?|output|reply|respond|response|write|task|problem|question|examples?|solution|"
    r"calculation|equation|result|final|instructions?|sentences?|words?|list|N|note|do\s+not|don't|only|"
    r"need|below|above|following|given|if|each|every|use|using|include|keep|end|start|label|option)\b",
    re.IGNORECASE,
)


# Not a claim: a fragment of a split sentence ("noun, verb)."), a labelled line ("Place: ..."), or a
# verbless format rule ("Nothing else.", "No introduction or explanations.").
_NOT_A_CLAIM = re.compile(r"\s*(?:[a-z)(]|[\w' -]{1,25}:|(?i:no|nothing|never|always|only|just)\b)")


#: A statement that gives a value: "... is 1", "prints [1, 2]", "equals 'abc'", "is (B)", "is true".
_ASSERTS_VALUE = re.compile(
    r"\b(?:is|are|was|were|equals?|prints?|returns?|outputs?|evaluates\s+to)\s+(?:just\s+|exactly\s+)?"
    r"(?:-?\$?\d|\[|[\"“‘']\w|\(?[A-H]\)(?:\W|$)|(?:true|false|yes|no)\b)",
    re.I,
)


#: A sentence that reports what the task's result is: "It prints ...", "The answer to the question ... is ...".
_RESULT_CLAIM = re.compile(
    r"\s*(?:it|(?:this|that)(?:\s+one)?|the\s+(?:output|result|answer|code|program|function|value|sum|total|solution)\b"
    r"[^.!?\n]{0,80}?)\s+(?:is|are|was|were|equals?|prints?|returns?|outputs?|evaluates\s+to|gives?)\s",
    re.I,
)
#: A sentence that shows a format rather than a result: "Reply in the form: The answer is (A).".
_FORMAT_CUE = re.compile(r"\b(?:form|format|formatted|like|e\.g\.|such\s+as|line|template|pattern)\b|:", re.I)


def _statement_reasons(pair: Pair) -> list[Reason]:
    """A statement after the task that asserts something new (an answer, an invented fact)."""
    reasons = []
    body = strip_placeholders(pair.rewrite)
    all_sentences = sentences(body)
    for index, sentence in enumerate(all_sentences):
        if index < len(all_sentences) - 2 or re.match(r"\s*[-*#•\d]", sentence):
            continue
        if (
            _RESULT_CLAIM.match(sentence)
            and _ASSERTS_VALUE.search(sentence)
            and not _FORMAT_CUE.search(sentence)
            and normalise(sentence) not in pair.known_norm
        ):
            # "It prints [1, 2, 3, 4] because ...", 'The answer to the question "..." is 10^3.'
            reasons.append(Reason("answers_task", f"states a result: {' '.join(sentence.split())[:60]!r}"))
            continue
        if _INSTRUCTION_VOCAB.search(sentence):
            continue
        if _NOT_A_CLAIM.match(sentence):
            continue
        if "?" in sentence or sentence.rstrip().endswith(":") or normalise(sentence) in pair.known_norm:
            continue
        if sentence_is_instruction(sentence) or not re.search(r"[A-Za-z]{3}", sentence):
            continue
        share, new = _new_share(sentence, pair)
        if new >= 1 and share >= 0.5 and _covers(body.replace(sentence, " "), pair):
            reasons.append(Reason("invented_fact", repr(" ".join(sentence.split())[:60])))
        elif _ASSERTS_VALUE.search(sentence) and _covers(body.replace(sentence, " "), pair, share=0.9):
            # The original's own words with a value: "The smallest value is 1.", "It prints [1, 2, 3, 4] ..."
            reasons.append(Reason("answers_task", f"states a result: {' '.join(sentence.split())[:60]!r}"))
    return reasons


#: A note about the reply's shape rather than its content.
_SHAPE_NOTE = re.compile(
    r"\s*(?:no|not|without|only|just|e\.g|i\.e|optional|optionally|if|in|as|or|and|one|each|per|max|min|at\s+most|"
    r"at\s+least|up\s+to|about|approx|roughly|rounded|round|including|excluding|incl|excl|plural|singular|see)\b",
    re.I,
)
#: A parenthetical note at the end of the rewrite (or of one of its lines).
_TRAILING_NOTE = re.compile(r"\(([^()\n]{2,100})\)[.!]?[ \t]*(?:\n|$)")


#: A concrete value given as the result: "the final answer should be 600 g", "the total is 42".
_STATED_VALUE = re.compile(
    r"\b(?:answer|result|total|solution|sum|product|difference)\b[^.?!\n]{0,20}?\b(?:is|should\s+be|will\s+be|"
    r"must\s+be|equals|comes\s+(?:out\s+)?to)\s+\$?(\d[\d,]*(?:\.\d+)?)",
    re.I,
)


def _given_away(pair: Pair) -> list[Reason]:
    """An answer tucked onto a faithful rewrite: a closing note with new content ("... (NaCl)", "(This one is
    negative.)") or an arrow followed by the original's own items rearranged ("... → apple, kiwi, mango")."""
    reasons = []
    body = strip_placeholders(pair.rewrite)
    for match in _TRAILING_NOTE.finditer(body):
        note = match.group(1)
        if normalise(note) in pair.known_norm or _INSTRUCTION_VOCAB.search(note) or _FORMAT_CUE.search(note):
            continue
        if _SHAPE_NOTE.match(note):
            continue  # "(no units)", "(in km)", "(optional)": the reply's shape, not its content
        quoted_arrow = re.search(r"[\"'“‘][^\"'”’]*(?:->|=>|→)", note)
        arrow = bool(_ARROW.search(note)) and not _ARROW.search(pair.original) and not quoted_arrow
        claim = bool(_ASSERTS_VALUE.search(note) or _RESULT_CLAIM.match(note)) or arrow
        if claim:
            reasons.append(Reason("answers_task", f"a closing note: {' '.join(note.split())[:60]!r}"))
    for match in _STATED_VALUE.finditer(body):
        if match.group(1) not in numbers(pair.known):
            reasons.append(Reason("answers_task", f"states the result: {' '.join(match.group(0).split())[:60]!r}"))
    if not _ARROW.search(pair.original):
        for line in body.splitlines():
            if re.search(r"[\"'“‘][^\"'”’]*(?:->|=>|→)", line):
                continue  # a format shown in quotes ("Reply as '#HEX -> rgb(r, g, b)'"), or an instruction
            parts = _ARROW.split(line)
            tail = parts[-1].strip(" .") if len(parts) > 1 else ""
            items = [w for w in re.findall(r"[\w'-]+", tail) if w.lower() not in STOPWORDS]
            rearranged = not pair.new_stems(tail) and not numbers(tail) - numbers(pair.known)
            if len(items) >= 2 and rearranged and not _INSTRUCTION_VOCAB.search(tail):
                reasons.append(Reason("answers_task", f"a result after an arrow: {' '.join(tail.split())[:60]!r}"))
    return reasons


def _dedupe(reasons: list[Reason]) -> list[Reason]:
    seen: set[Reason] = set()
    out = []
    for reason in reasons:
        if reason not in seen:
            seen.add(reason)
            out.append(reason)
    return out
