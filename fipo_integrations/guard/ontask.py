"""The on-task check: a different task, or a drift away from the original's task.

Two signals, neither alone: the share of the original's content words the rewrite keeps (stems and
synonyms, so "closed"/"close" and "summary"/"condense" match) and, when the embedding model is installed,
the cosine similarity of the two prompts' embeddings. A rewrite drifts when both are low. A rewrite asks
for a different task when it names none of the original's task families (summarise, translate, classify,
write, ...) but names another one, unless the embedding says the two prompts mean the same.
"""

from __future__ import annotations

import re

from .lexicon import ARTIFACTS
from .placeholders import extract_placeholders, strip_placeholders
from .reasons import Reason
from .similarity import similarity
from .task import families, lead_verbs
from .text import Pair, content_stems, normalise, plain, sentences

__all__ = ["ontask_reasons"]

#: Families that any rewrite may add without changing the task (answering is what every prompt asks).
_NEUTRAL = {"answer", "list", "explain"}


def recall(pair: Pair) -> float | None:
    keywords = pair.original_stems
    if len(keywords) < 3:
        return None
    return len(keywords & pair.rewrite_stems) / len(keywords)


def ontask_reasons(
    pair: Pair, min_recall: float, min_similarity: float, same_task_similarity: float, use_embeddings: bool
) -> tuple[list[Reason], float | None]:
    reasons: list[Reason] = []
    sim = similarity(strip_placeholders(pair.original), strip_placeholders(pair.rewrite)) if use_embeddings else None
    kept = recall(pair)
    if kept is not None and kept < min_recall and (sim is None or sim < min_similarity):
        detail = f"keeps {kept:.0%} of the original's content words (< {min_recall:.0%})"
        if sim is not None:
            detail += f", similarity {sim:.2f} (< {min_similarity:.2f})"
        reasons.append(Reason("drifted", detail))
    # The families of the verbs that lead the instructions, compared with every task word of the other side.
    lead_before = families(" ".join(lead_verbs(pair.original))) - _NEUTRAL
    lead_after = families(" ".join(lead_verbs(pair.rewrite))) - _NEUTRAL
    if lead_before == {"code"} and lead_after - {"code"}:  # "code" names a domain; the task is the other verb
        lead_before = families(" ".join(lead_verbs(pair.original))) & _NEUTRAL
        lead_after = lead_after - {"code"}
    changed = lead_before and lead_after and not (_related(lead_before) & families(pair.rewrite))
    original_leads = families(" ".join(lead_verbs(pair.original)))
    if changed and not (lead_after & original_leads) and (sim is None or sim < same_task_similarity):
        shown = f"{'/'.join(sorted(lead_before))} -> {'/'.join(sorted(lead_after))}"
        reasons.append(Reason("different_task", shown))
    if not any(r.code == "different_task" for r in reasons):
        before_text = plain(pair.original + " " + " ".join(extract_placeholders(pair.original)).replace("_", " "))
        new_kinds = sorted(_requested_artifacts(pair.rewrite) - _artifacts(before_text))
        if new_kinds and (sim is None or sim < same_task_similarity):
            reasons.append(Reason("different_task", f"asks for a {'/'.join(new_kinds)}"))
    if not any(r.code == "different_task" for r in reasons):
        made = _QUESTION_MAKING.search(pair.rewrite)
        if made and not _QUESTION_MAKING.search(pair.original):
            reasons.append(Reason("different_task", f"asks to make up a question: {' '.join(made.group(0).split())!r}"))
    if not any(r.code == "different_task" for r in reasons):
        lead = _new_lead_task(pair)
        if lead is not None and (sim is None or sim < same_task_similarity):
            reasons.append(Reason("different_task", f"leads with another task: {' '.join(lead.split())[:60]!r}"))
    if not any(r.code == "different_task" for r in reasons):
        added = _added_task(pair)
        if added is not None:
            reasons.append(Reason("different_task", f"adds a task: {' '.join(added.split())[:60]!r}"))
    return reasons, sim


_RELATED = [{"summarise", "rewrite"}, {"classify", "extract"}, {"extract", "list"}, {"proofread", "rewrite"},
            {"solve", "answer"}, {"critique", "explain"}, {"order", "classify"}, {"classify", "critique"},
            {"proofread", "extract"}]  # fmt: skip


#: Classification verbs: a rewrite that opens with one where the original neither classifies nor picks between
#: alternatives asks for another task ("What are the primary colors?" -> "Classify the primary colors ... as a noun
#: or a plural noun"; a trained 0.5B optimizer collapsed onto that shape). Other task verbs (summarise, translate,
#: compare, sort) are too often a faithful restatement ("keep it short" -> "Summarise") to count alone.
_SPECIFIC_VERBS = {"classify", "categorize", "categorise", "label", "tag"}
#: A question that picks between alternatives is a classification in other words ("Which of these are fruits?",
#: "Tell me if these are body parts or places", "mark each sentence as FACT or OPINION").
_CHOICE_QUESTION = re.compile(
    r"\b(?:which\s+(?:of|one|ones)|select|choose|pick|categori[sz]|group|sort)\w*|"
    r"\b(?:whether|if|as|mark|tell)\b[^.?!\n]{0,80}\bor\b",
    re.I,
)


def _new_lead_task(pair: Pair) -> str | None:
    """The opening instruction of the rewrite's first sentence when it is a classification the original never
    asks for."""
    first = next(iter(sentences(strip_placeholders(pair.rewrite))), "")
    leads = lead_verbs(first)
    if not leads or leads[0].split()[0].lower() not in _SPECIFIC_VERBS:
        return None
    opened = families(leads[0].split()[0])
    if _related(opened) & families(pair.original):
        return None
    if "classify" in opened and _CHOICE_QUESTION.search(pair.original):
        return None
    return leads[0]


def _related(found: set[str]) -> set[str]:
    related = set(found)
    for group in _RELATED:
        if group & found:
            related |= group
    return related


def _artifacts(text_plain: str) -> set[str]:
    return {
        kind
        for kind, members in ARTIFACTS.items()
        if any(re.search(r"(?<!\w)" + re.escape(m) + r"s?(?!\w)", text_plain) for m in members)
    }


_CREATE = (
    r"\b(?:write|compose|draft|create|make|produce|generate|craft|design|prepare|tell|give\s+me|come\s+up\s+with|"
    r"pen|script)\b"
)


def _requested_artifacts(text: str) -> set[str]:
    """Kinds of artifact a creation verb asks for ("write a poem", "give me a news report")."""
    found = set()
    for match in re.finditer(_CREATE + r"[^.?!\n]{0,40}", plain(strip_placeholders(text))):
        found |= _artifacts(match.group(0))
    return found


#: Asking the assistant to write a question, quiz or exercise: a different task unless the original asks for one
#: ("Rewrite the last question as ...", "Write a short question about biology" for a question-answering prompt).
_QUESTION_MAKING = re.compile(
    r"\b(?:write|rewrite|re-write|create|compose|generate|make\s+up|craft|formulate|draft|pose|invent)\b"
    r"[^.?!\n]{0,50}?\b(?:questions?|quiz(?:zes)?|exercises?|riddles?)\b",
    re.IGNORECASE,
)

_ADD_VERBS = {"translate", "rewrite", "continue", "summarize", "summarise", "paraphrase", "rephrase"}
_METHOD_WORDS = re.compile(
    r"\b(?:answer|reasoning|steps?|working|solution|choice|thinking|logic|result|why|solve|formula|equation|"
    r"calculation|values?|known)\b",
    re.I,
)


#: A further step joined to the task: "Then explain ...", "Also recommend ...", ", and then rewrite it ...".
_THEN = re.compile(
    r"(?:^|[.!?:]\s+|,\s*|;\s*|\band\s+)(?:and\s+)?(?:then|also|additionally|afterwards|after\s+that|finally|"
    r"next|in\s+addition)\b,?\s+(?:please\s+)?(\w+)([^.!?\n]*)",
    re.IGNORECASE,
)


#: Verbs that ask for a second deliverable, not a step of the same answer ("then explain ..." usually is one).
_DELIVERABLE_VERBS = {"write", "compose", "draft", "create", "generate", "translate", "rewrite", "rephrase",
                      "recommend", "suggest", "design", "plan", "produce"}  # fmt: skip
_IF_NEEDED = re.compile(
    r"\b(?:if|where|when|as)\s+(?:needed|necessary|required|relevant|appropriate|possible|applicable)\b|\bunits?\b",
    re.I,
)


def _added_task(pair: Pair) -> str | None:
    """A sentence that asks for another task next to the whole original ("... Then write a poem about it.")."""
    if not _THEN.search(pair.original):
        for match in _THEN.finditer(strip_placeholders(pair.rewrite)):
            verb, rest = match.group(1), match.group(2)
            step = match.group(0).strip(" ,;.")
            wanted = families(verb) - _NEUTRAL
            if (
                verb.lower() not in _DELIVERABLE_VERBS
                or not wanted
                or wanted & families(pair.original)
                or _METHOD_WORDS.search(step)
                or _IF_NEEDED.search(step)
            ):
                continue
            if normalise(step) in pair.original_norm or len(pair.new_stems(verb + rest)) < 2:
                continue
            return step
    for sentence in sentences(strip_placeholders(pair.rewrite))[1:]:  # the first one states the task
        verbs = lead_verbs(sentence)
        if not verbs or verbs[0].split()[0] not in _ADD_VERBS or _METHOD_WORDS.search(sentence):
            continue
        if families(verbs[0]) & families(pair.original):
            continue  # the original's own task, restated
        if normalise(sentence) in pair.original_norm:
            continue
        rest = pair.rewrite.replace(sentence, " ")
        if (
            len(pair.original_stems) >= 2
            and len(pair.original_stems & content_stems(rest)) / len(pair.original_stems) < 0.85
        ):
            continue
        if len(pair.new_stems(sentence)) >= 2:
            return sentence
    return None
