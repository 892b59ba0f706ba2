"""Kept-content checks: what the original states must survive the rewrite.

Placeholders verbatim; numbers (as digits or words); quoted strings, still quoted; names; option labels
and texts; every label of a label set, and no label added to it; output-format and length constraints; and
the instruction paragraph that precedes a passage.
"""

from __future__ import annotations

import difflib
import re

from .lexicon import (
    FORMAT_GROUPS,
    IMPERATIVE_VERBS,
    LENGTH_GROUPS,
    NUMBER_WORDS,
    OPPOSITES,
    STOPWORDS,
    TASK_FAMILIES,
)
from .placeholders import extract_placeholders, strip_placeholders
from .reasons import Reason
from .text import (
    Pair,
    content_stems,
    has_phrase,
    normalise,
    numbers,
    plain,
    proper_nouns,
    quoted,
    sentences,
    stem,
    words,
)

__all__ = ["kept_reasons", "options"]

_OPTION_LINE = re.compile(
    r"^\s*(?:[(\[]([A-Ha-h1-9]|(?:i{1,3}|iv|vi{0,3}|ix|x))[)\]]|([A-Ha-h1-9])[).:])\s+(\S.*)$", re.MULTILINE
)
_QUOTE_CHARS = "\"'“”‘’`«»"
# "positive, negative or neutral", "spam or ham", "yes/no": a set of alternatives (labels, choices).
_ITEM = r"(?:[\"“‘][^\"“”‘’\n]{1,40}[\"”’]|[\w][\w'’-]*)"
_ALTERNATIVES = re.compile(rf"({_ITEM}(?:\s*,\s*{_ITEM})*,?\s+or\s+{_ITEM})", re.UNICODE)
_SLASHED = re.compile(r"\b([A-Za-z]+(?:/[A-Za-z]+)+)\b|\b([A-Za-z]+(?: [A-Za-z]+)?(?: / [A-Za-z]+(?: [A-Za-z]+)?)+)\b")
_OPTIONS_LINE = re.compile(
    r"(?:^\s*|\b)(?:options|labels|choices|categories|classes|intents|tags|answers|candidates|alternatives|one\s+of|"
    r"allowed\s+\w+|"
    r"possible\s+\w+|either)\s*:\s*([^\n.]+)",
    re.I | re.MULTILINE,
)
_INLINE_BARE_OPTION = re.compile(r"(?<![\w(])([A-H])[).]\s+([^\n]+?)\s*(?=(?<![\w(])[A-H][).]\s|$|\n)", re.MULTILINE)
_INLINE_OPTION = re.compile(r"[(\[]([a-hA-H1-9])[)\]]\s*([^()\[\]\n]+?)\s*(?=[(\[][a-hA-H1-9][)\]]|$|\n)")
_LENGTH_CUE = re.compile(
    r"\b(?:under|at\s+most|at\s+least|no\s+more\s+than|no\s+longer\s+than|fewer\s+than|less\s+than|maximum(?:\s+of)?|"
    r"max|up\s+to|within|exactly|one|a\s+single|single|\d+(?:-|\s)?|"
    + "|".join(w for w, v in NUMBER_WORDS.items() if isinstance(v, int) and 1 < v <= 1000)
    + r")\s+(?:[\w-]+\s+)?(words?|sentences?|paragraphs?|lines?|characters?|pages?|bullets?|items?|points?|tips|"
    r"ideas|examples|ways|reasons|steps|questions|names|suggestions|facts|bullet\s+points)\b",
    re.IGNORECASE,
)
_NOT_LABELS = {
    "fewer",
    "less",
    "more",
    "so",
    "not",
    "otherwise",
    "else",
    "later",
    "sooner",
    "above",
    "below",
    "higher",
    "lower",
    "longer",
    "shorter",
}
_ITEM_STOP = {"the", "a", "an", "it", "not", "is", "are", "this", "that", "and", "either", "whether", "them"}


def _inline_text(text: str) -> str:
    """An inline option's own text: "Greenpeace, " -> "Greenpeace"; "Fund. Explain." -> "Fund"."""
    return re.split(r"(?<=\w)[.?!]\s", text.strip(), maxsplit=1)[0].strip().rstrip(",;.")


def options(text: str) -> list[tuple[str, str]]:
    """Option labels and texts: one per line ("A) red") or inline ("(a) go (b) goes", "A) red, B) blue")."""
    found = [((m.group(1) or m.group(2)).upper(), m.group(3).strip()) for m in _OPTION_LINE.finditer(text)]
    if len(found) < 2:
        found = [(m.group(1).upper(), _inline_text(m.group(2))) for m in _INLINE_OPTION.finditer(text)]
    if len(found) < 2:
        for line in text.splitlines():
            inline = [(m.group(1).upper(), _inline_text(m.group(2))) for m in _INLINE_BARE_OPTION.finditer(line)]
            if len(inline) >= 3 and [label for label, _ in inline] == list("ABCDEFGH"[: len(inline)]):
                found = inline
    return found if len(found) >= 2 else []


def _keeps_quote(span: str, rewrite_norm: str) -> bool:
    needle = normalise(span)
    start = rewrite_norm.find(needle)
    while start != -1:
        before = rewrite_norm[:start].rstrip()[-1:]
        after = rewrite_norm[start + len(needle) :].lstrip()[:1]
        if before and after and before in _QUOTE_CHARS and after in _QUOTE_CHARS:
            return True
        start = rewrite_norm.find(needle, start + 1)
    return False


def _keeps_number(number: str, pair: Pair) -> bool:
    if number in numbers(pair.rewrite):
        return True
    try:
        value = float(number.replace(",", ""))
    except ValueError:
        return False
    spelled = [w for w, v in NUMBER_WORDS.items() if v == value]
    return any(re.search(rf"\b{w}\b", pair.rewrite_norm) for w in spelled)


_COUNT_WORDS = {w for w, v in NUMBER_WORDS.items() if isinstance(v, int) and v >= 2} - {
    "second", "third", "fourth", "fifth", "pair", "couple", "twice", "thrice", "dozen"}  # fmt: skip


def _number_words(text: str) -> set[str]:
    return {p for w in words(text) for p in w.lower().split("-") if p in _COUNT_WORDS}


_COLON_LABELS = re.compile(
    r"\b(?:classify|label|categori[sz]e|tag|mark|rate|sort)\b[^:\n]{0,60}:\s*"
    r"([A-Za-z][\w-]*(?: [A-Za-z][\w-]*)?(?:\s*,\s*[A-Za-z][\w-]*(?: [A-Za-z][\w-]*)?){1,7})\s*(?:[.\n]|$)",
    re.I,
)


def _alternatives(text: str) -> list[list[str]]:
    """Sets of alternatives (``a, b or c``; ``yes/no``; ``Options: a, b, c``), each item lowercased."""
    sets = []
    text = re.sub(r"\{\{?\s*([\w-]+)\s*\}\}?", r"\1", text)
    for match in _ALTERNATIVES.finditer(text):
        cue = text[max(0, match.start() - 40) : match.start()]
        cued = re.search(
            r"(?:\b(?:as|classify|label|answer|reply|respond|choose|pick|select|either|whether|one\s+of|"
            r"options?|categor\w*|tag|mark|say|is|are|was|were|if|into|between|rate|output|return)\b|:)"
            r"(?:\s+\w+){0,2}\W*$",
            cue,
            re.I,
        )
        # "Is this headline about SPORTS, POLITICS or SCIENCE?": a set of three or more after "about"
        about = re.search(r"\babout\W*$", cue, re.I) and match.group(1).count(",") >= 1
        if not (cued or about):
            continue
        items = [plain(i) for i in re.split(r"\s*,\s*(?:or\s+)?|\s+or\s+", match.group(1))]
        items = [" ".join(w for w in i.split() if w not in _ITEM_STOP) for i in items]
        items = [i for i in items if i]
        if len(items) >= 2 and not any(i in _NOT_LABELS for i in items):
            sets.append(items)
    for match in re.finditer(r"\(([^()\n]{3,100})\)", text):  # "(agree, disagree, unsure)"
        items = [plain(i) for i in re.split(r"\s*[,;/|]\s*|\s+or\s+", match.group(1)) if plain(i)]
        if 2 <= len(items) <= 8 and all(len(i.split()) <= 2 for i in items) and "," in match.group(1) + " or ":
            sets.append(items)
    bullets = re.findall(r"(?m)^\s*[-*•]\s+([^\n:]{1,30})$", text)
    if 2 <= len(bullets) <= 8 and all(len(b.split()) <= 3 for b in bullets):
        sets.append([plain(b) for b in bullets])
    for match in _SLASHED.finditer(text):
        items = [i.strip().lower() for i in (match.group(1) or match.group(2)).split("/")]
        if all(len(i) <= 12 for i in items):
            sets.append(items)
    for match in re.finditer(r"[:：]\s*([^\n:：。.?]+[、，][^\n:：。.?]+)", text):
        items = [plain(i) for i in re.split(r"\s*[、，]\s*", match.group(1)) if plain(i)]
        if len(items) >= 2 and all(len(i) <= 12 for i in items):
            sets.append(items)
    for match in _COLON_LABELS.finditer(text):  # "Classify the tweet: Positive, Negative."
        items = [plain(i) for i in match.group(1).split(",")]
        if 2 <= len(items) <= 8 and all(i and len(i.split()) <= 2 for i in items):
            sets.append(items)
    for match in _OPTIONS_LINE.finditer(text):
        items = [plain(i) for i in re.split(r"\s*[,;|/、]\s*|\s+or\s+", match.group(1)) if plain(i)]
        if len(items) >= 2:
            sets.append(items)
    return sets


def _item_in(item: str, text_plain: str) -> bool:
    if re.search(r"(?<!\w)" + re.escape(item) + r"(?!\w)", text_plain):
        return True
    item_stems = {stem(w) for w in item.split()}
    return bool(item_stems) and item_stems <= {stem(w) for w in text_plain.split()}


def _label_reasons(pair: Pair) -> list[Reason]:
    reasons = []
    original_sets = _alternatives(pair.original)
    rewrite_plain = plain(pair.rewrite)
    original_plain = plain(pair.original)
    for items in original_sets:
        if len(items) > 8 or any(len(i.split()) > 4 for i in items):
            continue
        missing = [i for i in items if not _item_in(i, rewrite_plain)]
        if (missing and len(missing) < len(items)) or (missing and len(items) <= 4):
            reasons.append(Reason("lost_label", ", ".join(missing)))
    known_items = {i for items in original_sets for i in items}
    if known_items:
        for items in _alternatives(pair.rewrite):
            if not any(i in known_items for i in items):
                continue
            added = [i for i in items if i not in known_items and not _item_in(i, original_plain)]
            if added:
                reasons.append(Reason("widened_labels", ", ".join(added)))
    return reasons


def _group_present(members: tuple[str, ...], text_plain: str, raw: str) -> bool:
    for member in members:
        if not re.search(r"\w", member) or member in ("1.", "1)", "- "):
            if re.search(r"(?m)^\s*" + re.escape(member.strip()), raw) or (member == "```" and member in raw):
                return True
            continue
        if has_phrase(text_plain, member):
            return True
    return False


_OUTPUT_PATTERNS = {
    "yes/no": r"\byes\b",
    "true/false": r"\btrue\b",
    "title": r"\b(?:title|heading)\b",
    "table": r"\btable\b",
    "quoted": r"\b(?:in|with|inside|within|between)\s+(?:double\s+|single\s+)?quot",
    "letter": r"\bletter\b",
    "one word": r"\b(?:one|single|a)[ -]word\b",
}


def _format_reasons(pair: Pair) -> list[Reason]:
    reasons = []
    original_plain, rewrite_plain = plain(pair.original), plain(pair.rewrite)
    for name, members in FORMAT_GROUPS.items():
        if name == "only" and not re.search(
            r"\b(?:only|just|nothing else|solely)\b[^.?!\n]{0,40}\b(?:word|letter|answer|label|"
            r"option|json|digit|output|yes|no|reply|respond|return)|"
            r"\b(?:reply|respond|answer|return|output|give|write|print)\b[^.?!\n]{0,40}\b(?:only|just|solely)\b",
            pair.original,
            re.I,
        ):
            continue
        if name in ("yes/no", "true/false", "title", "table", "quoted", "letter", "one word"):
            # Only as an output constraint ("Reply with the letter"), not as data ("a table of penguins").
            pattern = _OUTPUT_PATTERNS[name]
            cue = r"\b(?:reply|respond|answer|return|output|format|give|write|print|present|as|in|with|end)\b"
            if not re.search(cue + r"[^.?!\n]{0,50}" + pattern, pair.original, re.I):
                continue
        if _group_present(members, original_plain, pair.original) and not _group_present(
            members, rewrite_plain, pair.rewrite
        ):
            reasons.append(Reason("lost_format", name))
    return reasons


_FORMAT_CLAUSE = re.compile(
    r"(?:^|(?<=[.!?:;,\n]))\s*(?:please\s+)?(?:(?:reply|respond|answer|return|output|format|express|round|end|"
    r"present|(?:give|write|put)\s+(?:the|your|each|every)\s+(?:answer|result|output|response|reply|title|name|item)s?)\b[^.!?\n]{0,80}?\b(?:as|in|with|only|using|to|by|each|"
    r"on|per|separated|format|form)\b[^.!?\n]*|(?:format|output|answer\s+format)\s*:[^\n]*|"
    r"(?:as|in)\s+(?:a|an)\s+[^.!?\n]{0,30}\b(?:list|table|array|object|json|fraction|percentage|decimal)\b[^.!?\n]*|"
    r"(?:keeping|keep|using|use|in)\s+(?:the\s+)?(?:formal|informal|casual|polite|same)\s+\w+[^.!?\n]*|"
    r"(?:formatted|written|presented|given|returned|listed|shown)\s+as\b[^.!?\n]*|in\s+the\s+(?:form|format)\s+of\b[^.!?\n]*|"
    r"one\s+per\s+line[^.!?\n]*|(?:wrap|enclose|surround)\b[^.!?\n]*|(?:start|begin|end)\s+(?:each|every|your|the)\b[^.!?\n]*|"
    r"(?:no|without)\s+(?:explanation|extra\s+text|other\s+text|commentary)[^.!?\n]*)",
    re.IGNORECASE,
)
_GENERIC_FORMAT = {"repli", "respond", "answer", "return", "output", "give", "write", "present", "put", "format",
                   "provid", "each", "the", "your", "own", "list", "form", "result"}  # fmt: skip
#: The literal shape of a reply: "HH:MM", "YYYY-MM-DD", "km/h", "POS".
_FORMAT_LITERAL = re.compile(r"\b[A-Za-z0-9]+(?:[:/.-][A-Za-z0-9]+)+\b|\b[A-Z]{2,}\b")


def _format_clause_reasons(pair: Pair) -> list[Reason]:
    """A reply-shape clause of the original ("Give the answer as a fraction") whose words the rewrite lost."""
    reasons = []
    for match in _FORMAT_CLAUSE.finditer(strip_placeholders(pair.original)):
        clause = match.group(0).strip()
        stems = content_stems(clause) - _GENERIC_FORMAT
        stems |= {n for n in numbers(clause)}
        if len(stems) < 1 or normalise(clause) in pair.rewrite_norm:
            continue
        kept = stems & (pair.rewrite_stems | numbers(pair.rewrite))
        literals = set(_FORMAT_LITERAL.findall(clause))
        if literals and all(literal in pair.rewrite for literal in literals):
            continue  # the exact shape is kept, in other words ("Format your answer as HH:MM")
        if len(kept) / len(stems) < 0.5:
            reasons.append(Reason("lost_format", repr(" ".join(clause.split())[:60])))
    return reasons


def _length_reasons(pair: Pair) -> list[Reason]:
    reasons = []
    original_plain, rewrite_plain = plain(pair.original), plain(pair.rewrite)
    has_size = _LENGTH_CUE.search(pair.rewrite) is not None
    for name in ("short", "long") if not has_size else ():
        members = LENGTH_GROUPS[name]
        pattern = r"\b(?:" + "|".join(re.escape(m) for m in members) + r")\w*"
        cue = re.search(
            r"\b(?:a|an|be|is|keep|in|make|brief|write|short|give|compose|with|reply|answer|respond)\b\s+(?:\w+\s+)?"
            + pattern,
            pair.original,
            re.I,
        )
        if (
            cue
            and any(has_phrase(original_plain, m) for m in members)
            and not any(has_phrase(rewrite_plain, m) for m in members)
        ):
            reasons.append(Reason("lost_length", name))
    for match in _LENGTH_CUE.finditer(pair.original):
        if re.search(r"\b(?:every|each|any)\s*$", pair.original[: match.start()], re.I):
            continue  # "every single sentence": emphasis, not a size
        unit = stem(match.group(1).split()[-1])
        unit_members = next((m for m in LENGTH_GROUPS.values() if unit in {stem(x) for x in m}), (unit,))
        rewrite_parts = [p for w in words(pair.rewrite) for p in w.lower().split("-")]
        count = match.group(0).split()[0].lower()
        if (
            count in ("one", "a", "single") and not {"one", "single", "each", "a", "an"} & set(rewrite_parts)
        ) or not any(stem(w) in {stem(x) for x in unit_members} or stem(w) == unit for w in rewrite_parts):
            reasons.append(Reason("lost_length", " ".join(match.group(0).split())))
    return reasons


def _drops_leading_instruction(pair: Pair) -> str | None:
    paragraphs = [p for p in re.split(r"\n\s*\n", pair.original.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return None
    instruction = content_stems(paragraphs[0])
    passage_start = " ".join(plain(paragraphs[1]).split()[:8])
    if len(instruction) < 2 or not passage_start or not plain(pair.rewrite).startswith(passage_start):
        return None
    kept = len(instruction & pair.rewrite_stems) / len(instruction)
    return paragraphs[0] if kept < 0.5 else None


def _opposite_reasons(pair: Pair) -> list[Reason]:
    """A word of the original replaced by its opposite ("in the future tense" -> "in the past tense"), a
    negation dropped, or in a light edit a term swapped for another ("hexagon" -> "pentagon")."""
    before = {w.lower() for w in words(pair.original)}
    after = {w.lower() for w in words(pair.rewrite)}
    reasons = []
    for a, b in OPPOSITES:
        for old, new in ((a, b), (b, a)):
            if old in before and old not in after and new in after and new not in before:
                reasons.append(Reason("changed_term", f"{old} -> {new}"))
    reasons += _light_edit_reasons(pair)
    return reasons


_NEGATION = re.compile(r"\b(?:not|never|no|none|nothing|nobody|neither|nor|without|cannot|\w+n't|except|avoid)\b", re.I)
#: Ways a rewrite may keep a negation in other words ("leave out", "exclude", "only", "must not").
_NEGATIVE_WORDS = re.compile(
    r"\b(?:exclud\w*|omit\w*|skip\w*|leave\s+out|refrain|forbid\w*|prohibit\w*|instead\s+of|other\s+than|"
    r"free\s+of|un\w+|non-?\w+|only|solely|absent|lack\w*|missing|fail\w*|false|don’t|won’t|can’t|isn’t)\b",
    re.I,
)


def _negations(text: str) -> set[str]:
    return {m.group(0).lower() for m in _NEGATION.finditer(strip_placeholders(text))}


def _task_word(word: str) -> bool:
    """``word`` is a task verb or noun of the lexicon, allowing an inflection ("summary", "rendering")."""
    return any(
        word.startswith(member) and len(word) - len(member) <= 4
        for members in TASK_FAMILIES.values()
        for member in members
        if " " not in member
    )


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: a swap of two neighbouring letters counts once ("recieve")."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


#: Words that give two terms a direction: "Fahrenheit to Celsius", "cats than dogs", "A before B".
_DIRECTED = {"to", "into", "than", "over", "vs", "versus", "before", "after"}


def _reversed_relation(before: list[str], after: list[str]) -> tuple[str, str] | None:
    """Two content words of the original around a directed word, in the other order in the rewrite and never in
    the original's ("Convert Fahrenheit to Celsius" -> "Convert Celsius to Fahrenheit")."""

    def triples(tokens: list[str]) -> set[tuple[str, str, str]]:
        return {
            (tokens[i - 1], tokens[i], tokens[i + 1])
            for i in range(1, len(tokens) - 1)
            if tokens[i] in _DIRECTED and tokens[i - 1] not in STOPWORDS and tokens[i + 1] not in STOPWORDS
        }

    kept, made = triples(before), triples(after)
    for x, link, y in kept:
        if x != y and (y, link, x) in made and (x, link, y) not in made:
            return x, y
    return None


def _light_edit_reasons(pair: Pair) -> list[Reason]:
    """In a light edit (most words kept, in order): a negation dropped, two terms exchanged, or a content word
    replaced by one the original lacks ("hexagon" -> "pentagon"; spelling fixes and verbs excepted)."""
    before = [w.lower().replace("’", "'") for w in words(pair.original)]
    after = [w.lower().replace("’", "'") for w in words(pair.rewrite)]
    if len(before) < 4:
        return []
    swapped = _reversed_relation(before, after)
    if swapped:
        return [Reason("changed_term", f"{swapped[0]} <-> {swapped[1]} exchanged")]
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    if sum(block.size for block in matcher.get_matching_blocks()) < 0.7 * len(before):
        return []
    reasons = []
    negations = _negations(pair.original)
    if negations and not _negations(pair.rewrite) and not _NEGATIVE_WORDS.search(pair.rewrite):
        reasons.append(Reason("changed_term", f"drops the negation {sorted(negations)[0]!r}"))
    replaced = [(before[i1:i2], after[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag == "replace"]
    for old, new in replaced:
        if (new, old) in replaced and old != new:  # two terms exchanged ("Fahrenheit to Celsius" reversed)
            reasons.append(Reason("changed_term", f"{' '.join(old)} <-> {' '.join(new)} exchanged"))
            break
    near_copy = sum(block.size for block in matcher.get_matching_blocks()) >= 0.85 * len(before) and len(
        after
    ) <= 1.3 * len(before)
    for old, new in replaced if near_copy else []:
        if len(old) != 1 or len(new) != 1 or not (old[0].isascii() and new[0].isascii()):
            continue
        a, b = old[0].replace("'", ""), new[0].replace("'", "")
        if a in STOPWORDS or b in STOPWORDS or len(a) < 4 or len(b) < 4 or {a, b} & IMPERATIVE_VERBS:
            continue
        if _edit_distance(a, b) <= (1 if len(a) <= 7 else 2) or stem(a) in pair.rewrite_stems:
            continue  # a spelling fix or an inflection; or the word is still there
        if stem(b) not in pair.original_stems and not (_task_word(a) or _task_word(b)):
            reasons.append(Reason("changed_term", f"{old[0]} -> {new[0]}"))
    return reasons


#: A fill-in slot a user would have to replace: "[Your Name]" (not a markdown link, not an option; "<label>" is
#: left alone: rewrites use it to show the shape of the reply).
_SLOT = re.compile(r"\[[A-Z][A-Za-z]+(?: [A-Za-z]+){0,3}\](?!\()")
_FORMAT_SENTENCE = re.compile(r"\b(?:form|format|reply|respond|answer|output|return|end\s+with|as\s+follows)\b", re.I)


def kept_reasons(pair: Pair, *, placeholders: bool, facts: bool, opts: bool, constraints: bool) -> list[Reason]:
    """What the original states and the rewrite lost."""
    reasons: list[Reason] = []
    if placeholders:
        before, after = extract_placeholders(pair.original), extract_placeholders(pair.rewrite)
        reasons += [Reason("lost_placeholder", token) for token in sorted(before) if token not in after]
        reasons += [Reason("new_placeholder", token) for token in sorted(after) if token not in before]
        slots = {m.group(0) for m in _SLOT.finditer(pair.original)}
        for sentence in sentences(pair.rewrite):
            if _FORMAT_SENTENCE.search(sentence):
                continue  # "Reply in the form 'Emotion: [label]'" describes the answer, no slot to fill
            for slot in sorted({m.group(0) for m in _SLOT.finditer(sentence)} - slots):
                reasons.append(Reason("new_placeholder", f"a fill-in slot {slot!r} the original does not have"))
    if facts:
        reasons += [Reason("lost_number", n) for n in sorted(numbers(pair.original)) if not _keeps_number(n, pair)]
        for word in sorted(_number_words(pair.original)):
            value = NUMBER_WORDS[word]
            synonyms = {"both", "pair", "couple", "either", "twin", "double"} if value == 2 else set()
            rewrite_words = {w.lower() for w in words(pair.rewrite)}
            if word in _number_words(pair.rewrite) or str(value) in numbers(pair.rewrite) or synonyms & rewrite_words:
                continue
            reasons.append(Reason("lost_number", word))
        rewrite_words = {w.lower() for w in words(pair.rewrite)}
        for name in sorted(proper_nouns(pair.original)):
            # Compound technical terms ("Dyck-n") may be paraphrased; names cannot.
            singular = name[:-1] if name.endswith("s") and len(name) > 4 else name  # "Saturdays" -> "Saturday"
            if name.isalpha() and name not in rewrite_words and singular not in pair.rewrite_norm:
                reasons.append(Reason("lost_name", name))
        reasons += [
            Reason("lost_quote", repr(q))
            for q in sorted(set(quoted(pair.original)))
            if not _keeps_quote(q, pair.rewrite_norm)
        ]
    if facts:
        reasons += _opposite_reasons(pair)
    if opts:
        rewrite_labels = {label for label, _ in options(pair.rewrite)}
        rewrite_labels |= {
            m.upper() for g in re.findall(r"\(([A-Ha-h1-9])\)|\b([A-H])[).:]", pair.rewrite) for m in g if m
        }
        for label, text in options(pair.original):
            if label not in rewrite_labels:
                reasons.append(Reason("lost_option_label", label))
            elif normalise(text) not in pair.rewrite_norm and not (
                content_stems(text)
                and content_stems(text) <= pair.rewrite_stems
                and numbers(text) <= numbers(pair.rewrite)
            ):
                reasons.append(Reason("lost_option_text", label))
    if constraints:
        reasons += _label_reasons(pair)
        format_reasons = _format_reasons(pair)
        reasons += format_reasons or _format_clause_reasons(pair)
        reasons += _length_reasons(pair)
        dropped = _drops_leading_instruction(pair)
        if dropped is not None:
            shown = " ".join(dropped.split())
            reasons.append(Reason("lost_instruction", f"drops {shown[:60]!r} and starts with the text after it"))
    return reasons
