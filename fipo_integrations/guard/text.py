"""Text helpers shared by the checks: words, stems, numbers, quotes, names, sentences."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from .lexicon import COMMON_CAPITALISED, FORMAT_WORDS, NUMBER_WORDS, STOPWORDS, SYNONYMS
from .placeholders import extract_placeholders, strip_placeholders

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
_SUFFIXES = (
    "isations", "izations", "isation", "ization", "fulness", "iveness", "ational", "ically", "ations",
    "ation", "ments", "ment", "ingly", "ings", "ing", "edly", "ness", "ised", "ized", "ises", "izes", "ise",
    "ize", "ies", "ied", "ily", "ly", "ed", "es", "er", "s", "e", "y",
)  # fmt: skip
NUMBER = re.compile(r"(?<![\w.])[$£€]?\d+(?:[.,:/]\d+)*%?")
_DOUBLE_QUOTED = re.compile(r"[\"“”«]([^\"“”«»\n]{1,300})[\"”“»]")
_SINGLE_QUOTED = re.compile(r"(?<![\w'’])['‘]([^'‘’\n]{1,200})['’](?![\w'’])")
_BACKTICK = re.compile(r"`([^`\n]{1,200})`")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")
_COMMON_SUFFIX = re.compile(r"(?:ly|tion|tions|ness|ment|ments|able|ible|ive|ous|ful|less|ing|ings|ity|ies|ed|ers)$")
_CAPITALISED = re.compile(r"(?<![\w'’-])(?:[A-Z][\w'’-]*|[A-Z]{2,}\d*)(?![\w'’])")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix-stripping stem: ``closed``/``close`` -> ``clos``, ``summarise``/``summary`` -> ``summar``."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return SYNONYMS.get(word, word)


def words(text: str) -> list[str]:
    """Word tokens (letters, inner apostrophes and hyphens) of ``text``, placeholders removed."""
    return _WORD.findall(strip_placeholders(text))


def content_stems(text: str) -> set[str]:
    """Stems of the content words: no stop words, at least 3 letters; character bigrams for CJK runs."""
    found = set()
    for word in words(text):
        lowered = word.lower()
        if _CJK.match(lowered):
            found |= {lowered[i : i + 2] for i in range(max(1, len(lowered) - 1))}
            continue
        for part in re.split(r"[-']", lowered):
            if part in STOPWORDS or (len(part) < 3 and part.isascii()) or len(part) < 2:
                continue
            found.add(stem(part))
    return found


def normalise(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"').split())


def plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def has_phrase(text_plain: str, phrase: str) -> bool:
    """``phrase`` (a stem or words) occurs at a word start in ``text_plain``."""
    phrase = plain(phrase) if phrase.strip(" -") and re.search(r"\w", phrase) else phrase
    return re.search(r"(?<!\w)" + re.escape(phrase), text_plain) is not None


def numbers(text: str) -> set[str]:
    """Numbers of ``text`` as digit strings (currency and percent signs and trailing dots removed)."""
    found = set()
    for match in NUMBER.finditer(strip_placeholders(text)):
        value = match.group(0).lstrip("$£€").rstrip("%").rstrip(".,:/")
        found.add(value)
        found.add(value.replace(",", ""))
    return found


def number_values(text: str) -> set[float]:
    """Every number of ``text``, from digits or number words (``ten`` and ``10``, ``twice``)."""
    values: set[float] = set()
    for value in numbers(text):
        try:
            values.add(float(value.replace(",", "")))
        except ValueError:
            continue
    for word in words(text):
        for part in word.lower().split("-"):
            if part in NUMBER_WORDS:
                values.add(float(NUMBER_WORDS[part]))
    return values


def quoted(text: str) -> list[str]:
    """Quoted spans: double quotes and guillemets, single quotes around 2+ characters, backticks."""
    spans = [m.group(1).strip() for m in _DOUBLE_QUOTED.finditer(text)]
    spans += [m.group(1).strip() for m in _SINGLE_QUOTED.finditer(text) if " " in m.group(1) or len(m.group(1)) > 2]
    spans += [m.group(1).strip() for m in _BACKTICK.finditer(text)]
    return [span for span in spans if span]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _sentence_initial(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t*_#>([“\"'‘`")
    return not before or before[-1] in ".!?:;\n-–—•|)" or before.endswith(("\n", "..."))


def proper_nouns(text: str) -> set[str]:
    """Lowercased capitalised words that are not sentence-initial and not format words (``JSON``)."""
    # Format sketches, quoted spans (checked as quotes) and labels ("Note:") are not names.
    text = re.sub(r"<[^<>\n]{1,40}>|\[[^\[\]\n]{1,40}\]", " ", strip_placeholders(text))
    text = re.sub(r"[\"“][^\"“”\n]{1,300}[\"”]|(?<!\w)'[^'\n]{1,120}'(?!\w)|`[^`\n]*`", " . ", text)
    found = set()
    for match in _CAPITALISED.finditer(text):
        word = match.group(0).rstrip("'’-")
        lowered = word.lower()
        if lowered in FORMAT_WORDS or len(word) < 2:
            continue
        if _sentence_initial(text, match.start()):
            continue
        if lowered in STOPWORDS or lowered in COMMON_CAPITALISED or _COMMON_SUFFIX.search(lowered):
            continue
        if re.search(r"(?<![\w'-])" + re.escape(lowered) + r"(?![\w'-])", text):
            continue  # also written in lower case: a common word, capitalised here for emphasis or as a title
        if re.fullmatch(r"[YMDHSXN]+(?:[-/:][YMDHSXN]+)+", word):  # a format: YYYY-MM-DD
            continue
        before, after = text[max(0, match.start() - 1) : match.start()], text[match.end() : match.end() + 3]
        if re.fullmatch(r"[A-Z]{2,}", word) and (
            before in (":", "/", "#", "<", "-") or re.match(r"[:/>-]|\s*=", after)
        ):
            continue  # a slot of a format: HH:MM, "#HEX", "NUMERAL = number"
        found.add(lowered)
    return found


class Pair:
    """An original and its rewrite, with what the checks read from both (computed once)."""

    def new_stems(self, text: str) -> set[str]:
        """Content stems of ``text`` that neither the known text nor a word sharing 5 letters contains."""
        return {s for s in content_stems(text) - self.known_stems if len(s) < 5 or s[:5] not in self.known_prefixes}

    def __init__(self, original: str, rewrite: str, silver: str | None = None, golden: str | None = None) -> None:
        self.original = original
        self.rewrite = rewrite
        self.known = "\n".join(t for t in (original, silver, golden) if t)
        #: The silver/golden responses: facts only they contain are the task's answer, not invented.
        self.responses = "\n".join(t for t in (silver, golden) if t)
        self.original_plain = plain(strip_placeholders(original))
        self.rewrite_plain = plain(strip_placeholders(rewrite))
        self.original_norm = normalise(original)
        self.rewrite_norm = normalise(rewrite)
        self.known_norm = normalise(self.known)
        names = " ".join(re.sub(r"[^\w]+", " ", t) for t in extract_placeholders(self.known))
        self.known_stems = content_stems(self.known + " " + names) | {stem(w) for w in words(self.known)}
        self.known_prefixes = {s[:5] for s in self.known_stems if len(s) >= 5}
        self.known_words = {w.lower() for w in words(self.known)}
        self.original_stems = content_stems(original)
        self.rewrite_stems = content_stems(rewrite)


def loop_period(sequence: Sequence[Any], *, min_period: int, max_period: int = 200, repeats: int = 3) -> int:
    """The length of a block that ``sequence`` ends with ``repeats`` times in a row, or 0 if none.

    Works on token ids (the backends stop a generation loop with it) and on text (the guard rejects a
    rewrite that ends in one).

    >>> loop_period(" Keep it short. Keep it short. Keep it short.", min_period=6)
    15
    >>> loop_period("List three colours: red, green, blue.", min_period=6)
    0
    """
    size = len(sequence)
    for period in range(min_period, min(max_period, size // repeats) + 1):
        block = sequence[size - period :]
        if all(sequence[size - (k + 1) * period : size - k * period] == block for k in range(1, repeats)):
            return period
    return 0


def ends_in_loop(text: str, *, min_chars: int = 12) -> bool:
    """``text`` ends with the same block of at least ``min_chars`` characters three times in a row (a
    generation loop cut short; whitespace between the copies is normalised).

    >>> ends_in_loop("Summarize the text. Use bullet points. Use bullet points. Use bullet points.")
    True
    """
    return loop_period(" " + " ".join(text.split()), min_period=min_chars) > 0
