"""Same-task checks: the rewrite is still a prompt for the original's task.

Rejects loops, refusals, answers (appended or instead of the prompt), requests for the input, chat
preambles and sign-offs, echoes of the optimizer's meta-prompt, a different task, and drift away from the
task (few of the original's words kept and, when the embedding model is available, low similarity).
"""

from __future__ import annotations

import re
from collections import Counter

from ..templates import OPTIMIZER_TEMPLATE
from .lexicon import ARTIFACTS, IMPERATIVE_VERBS, NUMBER_WORDS, TASK_FAMILIES
from .placeholders import extract_placeholders, strip_placeholders
from .reasons import Reason
from .text import NUMBER, Pair, content_stems, ends_in_loop, has_phrase, normalise, numbers, plain, sentences, words

__all__ = ["families", "is_instruction", "lead_verbs", "sentence_is_instruction", "task_reasons"]

_REFUSAL = re.compile(
    r"^\s*(?:i'?m\s+sorry|i\s+am\s+sorry|sorry,|i\s+can(?:not|'t)\s+(?:help|assist|do|provide|comply)|"
    r"as\s+an\s+ai\b|i\s+am\s+unable|i'm\s+unable)",
    re.IGNORECASE,
)
_ANSWER_START = re.compile(r"^\s*(?:the\s+(?:final\s+)?answer\s+is|answer\s*:|solution\s*:|result\s*:)", re.I)
_CONCRETE_ANSWER = re.compile(
    r"\b(?:the\s+)?(?:final\s+|correct\s+)?(?:answer|result|solution|sum|total|product|difference)\s+(?:is|=|was|:)"
    r"\s*:?\s*\(?[$£€]?-?\d",
    re.I,
)
_LETTER_ANSWER = re.compile(
    r"(?i:\bthe\s+(?:correct\s+|right\s+|final\s+|best\s+)?(?:answer|option|choice)\s+is)\s*:?\s*\(?(?:[A-H]\b|"
    r"(?!(?:N|X|Y|one|either|a|an|the|your|this|that|not|in|of|on|to|as|what|which|given|stated|correct|"
    r"letter|number|option|word|label|\$N)\b)[A-Za-z][\w-]*[.!]?\s*$)(?![-'])(?!\)?\s*(?:,|/|or\b))",
    re.MULTILINE,
)
_WORKED = re.compile(r"(\d+(?:\.\d+)?)\s*[-+*/×x]\s*(\d+(?:\.\d+)?)\s*=\s*[$£€]?\d")
_EXAMPLE_BEFORE = re.compile(
    r"(?:for\s+example|for\s+instance|e\.g\.|such\s+as|like|format|end\s+with|finish\s+with|the\s+line|"
    r"reply\s+with|respond\s+with|in\s+the\s+form|write)\W*$",
    re.I,
)
_PREAMBLE = re.compile(
    r"^\W*(?:(?:sure|certainly|of\s+course|absolutely|okay|ok|great|got\s+it|alright|no\s+problem|happy\s+to\s+help|"
    r"gladly|definitely|here\s+you\s+go)\b[^\n]{0,80}?(?:[!.:,]|$)|"
    r"(?:here(?:'s|\s+is|\s+are)|below\s+is|this\s+is)\s+(?:a|an|the|your|my)\s+[\w\s-]{0,40}?"
    r"(?:prompt|version|rewrite|instruction|request)s?\b[^\n]{0,40}?(?::|\.|$)|"
    r"i(?:'ve|\s+have)\s+(?:rewritten|revised|improved|rephrased|optimi[sz]ed|updated)\b)",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNOFF = re.compile(
    r"\b(?:let\s+me\s+know|hope\s+(?:this|that|it)\s+helps|i\s+hope|feel\s+free\s+to|happy\s+to\s+help|"
    r"good\s+luck|if\s+you\s+(?:need|have|want)\s+(?:any|anything|more|further)|anything\s+else|"
    r"glad\s+to\s+help|enjoy!|cheers|this\s+(?:revised|improved|rewritten|new)\s+(?:prompt|version)|"
    r"(?:the|this)\s+prompt\s+(?:now|is\s+clearer|should))\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"\b(?:please\s+|kindly\s+|could\s+you\s+(?:please\s+)?|can\s+you\s+(?:please\s+)?|would\s+you\s+)?"
    r"(?:provide|share|send|paste|upload|supply|give\s+me|tell\s+me|attach|enter|specify|include)\s+"
    r"(?:me\s+)?(?:with\s+)?(?:more\s+(?:about|on|details\s+about)\s+)?(?:the|your|a|an|some|us)\b[^.?!\n]{0,80}?"
    r"(?:you(?:'d|\s+would)\s+like|you\s+want|so\s+(?:that\s+)?i\s+can|for\s+me\s+to|and\s+i(?:'ll|\s+will)|"
    r"to\s+(?:be\s+)?(?:answer|summari|translat|analy|review|classif|process|work)|[?])|"
    r"\b(?:i\s+(?:need|will\s+need|would\s+need)\s+(?:the|your|you\s+to\s+(?:provide|share|send))|"
    r"once\s+you\s+(?:provide|share|send|paste)|what\s+(?:is|are)\s+the\s+[^.?!\n]{1,40}\s+you(?:'d|\s+would)\s+like|"
    r"which\s+[^.?!\n]{1,40}\s+(?:would|do)\s+you\s+like\s+me\s+to|(?:please\s+)?provide\s+(?:the|your)\s+[^.?!\n]{1,60}"
    r"(?:\.|$))",
    re.IGNORECASE,
)
_ANSWERED = re.compile(
    r"^\W*(?:i(?:'ve|\s+have)\s+(?:completed|done|finished|written|rewritten|translated|summari[sz]ed|corrected|"
    r"fixed|solved|answered|created|composed|generated|classified|extracted)|"
    r"(?:here(?:'s|\s+is|\s+are)|below\s+is)\s+(?:the|a|an|your|my)\s+(?:summary|translation|answer|story|poem|"
    r"email|letter|list|solution|result|essay|response|tweet|code|rewritten\s+sentence|classification)\b|"
    r"(?:done|completed)[.!])",
    re.IGNORECASE,
)
_ADDRESS = re.compile(
    r"\b(?:you|your|i\s+want|i\s+need|i'd\s+like|i\s+would\s+like|help\s+me|can\s+you|could\s+you|let's|should|"
    r"must|need\s+to|task|goal|instruction|respond|reply|answer|output|return|format)\b",
    re.IGNORECASE,
)


def is_instruction(text: str) -> bool:
    """A question, an imperative sentence, or an address to the assistant."""
    stripped = strip_placeholders(text)
    if "?" in stripped or _ADDRESS.search(stripped) or extract_placeholders(text):
        return True
    if not re.search(r"[A-Za-z]{3}", stripped):
        return True  # another script: not judged
    return any(_imperative(sentence) for sentence in sentences(stripped))


def _imperative(sentence: str) -> bool:
    """The sentence, or a clause of it ("In Rust, write ..."), starts with an instruction verb."""
    return any(_starts_imperative(clause) for clause in re.split(r"[,;:]|\bthen\b|\band\b", sentence))


def _lead_verb(sentence: str) -> str | None:
    tokens = [w.lower() for w in words(sentence)[:4]]
    tokens = [t for t in tokens if t not in {"please", "now", "then", "also", "first", "briefly", "carefully",
                                             "finally", "next", "always", "never", "don't", "do", "not"}]  # fmt: skip
    return tokens[0] if tokens and tokens[0] in IMPERATIVE_VERBS else None


def _starts_imperative(sentence: str) -> bool:
    return _lead_verb(sentence) is not None


def lead_verbs(text: str) -> list[str]:
    """The instruction verbs that open the sentences and clauses of ``text``."""
    found = []
    for sentence in sentences(strip_placeholders(text)):
        for clause in re.split(r"[,;:]|\bthen\b", sentence):
            verb = _lead_verb(clause)
            if verb is not None:
                tail = clause.lower().split(verb, 1)[-1].split()[:3]
                found.append(" ".join([verb, *tail]))
    return found


_SENTENCE_ADDRESS = re.compile(
    r"\b(?:you|your|please|make\s+sure|let's|i\s+(?:want|need|would\s+like)|i'd\s+like)\b|"
    r"\b(?:it|answer|response|reply|output|summary|list|result|text|each\s+\w+|every\s+\w+)\s+(?:should|must|"
    r"needs?\s+to|has\s+to)\b",
    re.IGNORECASE,
)


def sentence_is_instruction(sentence: str) -> bool:
    """A question, an imperative clause or an address to the assistant (stricter than :func:`is_instruction`)."""
    return "?" in sentence or bool(_SENTENCE_ADDRESS.search(sentence)) or _imperative(sentence)


_PROVIDE = re.compile(
    r"(?:^|(?<=[.!?\n]))\s*(?:please\s+|kindly\s+|could\s+you\s+|can\s+you\s+)?(?:provide|share|send|paste|upload|"
    r"supply|give\s+me|enter|attach)\s+(?:me\s+)?(?:with\s+)?(?:the|your|a|an|some|us)?\s*([^.?!\n]{3,80})",
    re.IGNORECASE,
)


#: Asking the user for more before doing the task: "ask me for its dimensions", "Please upload the image first",
#: "please tell me your name and experience".
_ASK_USER = re.compile(
    r"\bask\s+(?:me|the\s+user|them|the\s+customer|the\s+client)\s+(?:for|about|to\s+(?:provide|share|send|upload|"
    r"give|tell|clarify|confirm|specify))\b|"
    r"\b(?:please\s+|kindly\s+)(?:upload|attach|paste|send\s+me|share)\b[^.?!\n]{0,60}?\bfirst\b|"
    r"\b(?:please\s+|kindly\s+)?tell\s+me\s+(?:your|about\s+your|more\s+about)\b|"
    r"\bbefore\s+(?:writing|answering|you\s+(?:start|begin|write|answer)|starting)\b[^.?!\n]{0,20}?\bask\b|"
    # a question about the user's own wishes: "What courses are you interested in?", "Which do you prefer?"
    r"\b(?:what|which|how\s+many|how\s+much)\b[^.?!\n]{0,40}?\b(?:are|do|would)\s+you\s+(?:interested\s+in|"
    r"like|prefer|want|need|wish|looking\s+for|hoping)\b[^.?!\n]{0,40}\?",
    re.IGNORECASE,
)


def _requests_input(pair: Pair) -> str | None:
    """ "Please provide a table of penguins" for "Answer questions about a table of penguins": the rewrite asks
    for the input the original is about and drops the original's task."""
    for match in _PROVIDE.finditer(pair.rewrite):
        if not (content_stems(match.group(1)) & pair.original_stems) or _PROVIDE.search(pair.original):
            continue
        if any(has_phrase(plain(match.group(1)), m) for members in ARTIFACTS.values() for m in members):
            continue  # "share a joke": an output, not the input
        wanted = families(" ".join(lead_verbs(pair.original)))
        if wanted and not (wanted & families(pair.rewrite.replace(match.group(0), " "))):
            return match.group(0).strip()
    return None


def repetition_score(text: str, n: int = 4) -> float:
    """Share of word n-grams that are repeats; ~0 for normal prose, high for loops (numbered ones too)."""
    tokens = re.sub(r"\b(?:\d+|[A-Z])\b", "#", text).lower().split()
    if len(tokens) < 3 * n:
        return 0.0
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    counts = Counter(grams)
    return sum(c - 1 for c in counts.values() if c > 1) / len(grams)


def _repeated_sentence(pair: Pair) -> bool:
    counts = Counter(normalise(s) for s in sentences(pair.rewrite) if len(s.split()) >= 3)
    before = Counter(normalise(s) for s in sentences(pair.original) if len(s.split()) >= 3)
    return any(c >= 2 and c > before.get(s, 0) for s, c in counts.items())


def _works_the_problem(original: str, text: str) -> bool:
    original_numbers = numbers(original)
    for match in _WORKED.finditer(text):
        if _EXAMPLE_BEFORE.search(text[max(0, match.start() - 30) : match.start()]):
            continue
        if match.group(1) in original_numbers or match.group(2) in original_numbers:
            return True
    return False


def _answers_a_choice(text: str) -> bool:
    for match in _LETTER_ANSWER.finditer(text):
        before = text[max(0, match.start() - 30) : match.start()]
        if _EXAMPLE_BEFORE.search(before) or before.rstrip().endswith(("'", '"', "“", "`")):
            continue
        return True
    return False


def _concrete_answer(text: str, original: str) -> bool:
    for match in _CONCRETE_ANSWER.finditer(text):
        before = text[max(0, match.start() - 30) : match.start()]
        if _EXAMPLE_BEFORE.search(before) or before.rstrip().endswith(("'", '"', "“", "`")):
            continue
        if normalise(match.group(0)) not in normalise(original):
            return True
    return False


_META = re.compile(  # the optimizer's vocabulary; "prompt" only as the object being rewritten
    r"(?:\b(?:the|this|your|user'?s?|original|improved|optimi[sz]ed|rewritten|revised|golden|silver|better|new|"
    r"following)\s+prompts?\b|^\W*prompt\s*:|\bprompt\s+(?:optimi[sz]er|engineer)|"
    r"\b(?:all|every|keep|kept)\s+(?:the\s+)?placeholders?|\boptimi[sz]ed\b|\boptimi[sz]er\b|"
    r"\bthis\s+rewrite\b|\brewritten\s+to\b|\bword\s+count\b|\bfacts?\s+(?:added|kept)|"
    r"\b(?:add|adds|added)\s+(?:no\s+)?new\s+facts|\bkeep\s+every\s+fact\s+(?:of|and\s+placeholder)|"
    r"\b(?:the|every)\s+facts?\s+of\s+the\s+original|\bthe\s+original\s+(?:prompt|instruction|task)\b|"
    r"\bdo\s+not\s+add\s+new\s+facts|\bdo\s+not\s+answer\s+the\s+(?:question|task|prompt))",
    re.IGNORECASE | re.MULTILINE,
)


def _meta_echo(original: str, rewrite: str) -> str | None:
    """The optimizer's template, its vocabulary ("prompt", "placeholder") or its rules, absent from the original."""
    lowered = rewrite.lower()
    for marker in OPTIMIZER_TEMPLATE.markers:
        if marker.lower() in lowered and marker.lower() not in original.lower():
            return marker
    fixed = [OPTIMIZER_TEMPLATE.intro, OPTIMIZER_TEMPLATE.output_label, "Do not answer the task"]
    for sentence in fixed:
        if normalise(sentence)[:60] in normalise(rewrite) and normalise(sentence)[:60] not in normalise(original):
            return sentence[:40]
    original_norm = normalise(original)
    for match in _META.finditer(rewrite):
        if normalise(match.group(0)) not in original_norm:
            return match.group(0)
    return None


def families(text: str) -> set[str]:
    """Task families whose words occur in ``text`` (see :data:`~.lexicon.TASK_FAMILIES`)."""
    text_plain = plain(strip_placeholders(text))
    return {name for name, members in TASK_FAMILIES.items() if any(has_phrase(text_plain, m) for m in members)}


#: A numeric answer format: "The answer is N", "end with the number", "reply with the number only".
_NUMERIC_FORMAT = re.compile(
    r"\b(?:the\s+(?:final\s+)?answer\s+is\s+(?:N|<?number>?|\$?\d[\d,.]*)\b|answer:\s*<?(?:N|number)>?\b|"
    r"(?:end|finish|reply|respond|answer)\s+with\s+(?:only\s+)?(?:the|a|one)\s+(?:final\s+)?(?:number|integer|"
    r"numeric\s+(?:value|answer))|(?:as|give)\s+(?:only\s+)?(?:a|the)\s+(?:single\s+)?(?:number|integer)\b)",
    re.I,
)
_NUMERIC_TASK = re.compile(
    r"\b(?:how\s+(?:many|much|long|far|old)|calculat\w*|comput\w*|count\w*|solv\w*|sum|total|average|mean|"
    r"percent\w*|cost\w*|price\w*|numbers?|numeric\w*|math\w*|arithmetic|equation\w*|digits?|score\w*|rate|"
    r"rating|probabilit\w*|estimat\w*|measure\w*|quantit\w*|amount|year|date|age|temperature|distance|"
    r"fahrenheit|celsius|kelvin|degrees?|boiling|freezing|melting|speed|height|weight|length|width|area|volume|"
    r"population|size|how\s+(?:tall|big|heavy|fast|high|deep|wide|large|small|often))\b",
    re.I,
)


#: Layouts that exclude each other: one item per line against all items on one line.
_PER_LINE = re.compile(
    r"\b(?:one\s+(?:\w+\s+)?per\s+line|one\s+line\s+(?:per|for\s+each)|each\s+on\s+(?:its|a)\s+own\s+line)\b", re.I
)
_ONE_LINE = re.compile(r"\b(?:(?:a|one)\s+comma[-\s]separated\s+list|(?:on|in)\s+(?:a\s+single|one)\s+line)\b", re.I)


def _format_conflict(text: str) -> str | None:
    """Two layouts that cannot both hold ("one per line, as a comma-separated list"), or ``None``."""
    per_line, one_line = _PER_LINE.search(text), _ONE_LINE.search(text)
    if per_line and one_line:
        return f"{per_line.group(0)!r} and {one_line.group(0)!r}"
    return None


def _numeric_task(text: str) -> bool:
    """The task involves numbers: it has some, or asks how many, to calculate, count, solve, ..."""
    return bool(NUMBER.search(strip_placeholders(text)) or _NUMERIC_TASK.search(text)) or bool(
        {w.lower() for w in words(text)} & NUMBER_WORDS.keys()
    )


def task_reasons(pair: Pair, golden_response: str | None) -> list[Reason]:
    original, rewrite = pair.original, pair.rewrite
    reasons: list[Reason] = []
    looped = ends_in_loop(rewrite) and not ends_in_loop(original)  # a loop the backend stopped early
    if repetition_score(rewrite) > max(0.3, repetition_score(original) + 0.2) or _repeated_sentence(pair) or looped:
        reasons.append(Reason("loop", "repeated text (generation loop)"))
    if _REFUSAL.match(rewrite) and not _REFUSAL.match(original):
        reasons.append(Reason("refusal", "refusal instead of a prompt"))
    answers = (
        (_ANSWER_START.match(rewrite) and not _ANSWER_START.match(original))
        or _concrete_answer(rewrite, original)
        or (_works_the_problem(original, rewrite) and not _works_the_problem(original, original))
        or (_answers_a_choice(rewrite) and not _answers_a_choice(original))
    )
    if answers:
        reasons.append(Reason("answers_task", "an answer to the task instead of a prompt"))
    elif golden_response and len(golden_response.strip()) >= 8:
        golden = normalise(golden_response)
        if golden in pair.rewrite_norm and golden not in pair.original_norm:
            reasons.append(Reason("answers_task", "the rewrite contains the golden response"))
    if _ANSWERED.search(rewrite) and not _ANSWERED.search(original):
        reasons.append(Reason("answered_instead", "the rewrite reports or presents a result"))
    elif is_instruction(original) and not is_instruction(rewrite):
        reasons.append(Reason("answered_instead", "the rewrite is a statement, not an instruction or question"))
    request = _REQUEST.search(rewrite) or _ASK_USER.search(rewrite)
    if request and not (_REQUEST.search(original) or _ASK_USER.search(original)):
        reasons.append(Reason("request_for_input", repr(" ".join(request.group(0).split())[:60])))
    else:
        asked = _requests_input(pair)
        if asked is not None:
            reasons.append(Reason("request_for_input", repr(" ".join(asked.split())[:60])))
    preamble = _PREAMBLE.match(rewrite)
    if preamble and not _PREAMBLE.match(original):
        reasons.append(Reason("chat_preamble", repr(preamble.group(0).strip()[:60])))
    signoff = _SIGNOFF.search(rewrite)
    if signoff and not _SIGNOFF.search(original):
        reasons.append(Reason("chat_preamble", f"sign-off {signoff.group(0)!r}"))
    forced = _NUMERIC_FORMAT.search(rewrite)
    visible = not extract_placeholders(original)  # a template's task may be numeric in its {input}
    if forced and visible and not _NUMERIC_FORMAT.search(original) and not _numeric_task(original):
        reasons.append(Reason("wrong_format", f"asks for a number: {' '.join(forced.group(0).split())!r}"))
    conflict = _format_conflict(rewrite)
    if conflict is not None and _format_conflict(original) is None:
        reasons.append(Reason("wrong_format", f"contradictory formats: {conflict}"))
    meta = _meta_echo(original, rewrite)
    if meta is not None:
        reasons.append(Reason("meta_echo", f"the optimizer's meta-prompt: {meta!r}"))
    return reasons
