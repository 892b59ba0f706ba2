"""POP records for the append scope: the naive prompt kept word for word plus, at most, one statement of the form.

The default optimizer runs in the append scope: its reply is prefilled with the user's prompt, and it writes
only what to add, a short statement of the reply's form ("Reply with the letter of the correct option only.")
or nothing. Full rewrites (POP seed v1/v2) teach it the shape of a good prompt but not this restraint. An
*append record* pairs a POP record's raw prompt with an expert's addition (the chosen prompt is the raw prompt
plus the addition, or the raw prompt itself when nothing helps) and a tempting bad addition (the rejected
prompt: a bare length cap, a widened label set, invented content ...), so SFT and IPO train exactly the
runtime's task.

Additions are authored per prompt (``training/data/pop-append/AUTHORING.md``) as JSON lines
``{"id", "addition", "bad_addition", "bad_kind"}`` whose ``id`` is the source record's. Every kept addition
passes the runtime guard's append scope, so the model is never trained on an addition the guard would reject.

>>> from training.pop import POPRecord
>>> source = POPRecord(id="s1", raw_prompt="Which is a mammal? A) shark B) whale", gpt4_optimized_prompt="x")
>>> authored = [{"id": "s1", "addition": "Reply with the letter only.", "bad_addition": "Answer in one sentence.",
...              "bad_kind": "length_cap"}]
>>> report = build_append_records([source], authored)
>>> report.records[0].chosen_prompt
'Which is a mammal? A) shark B) whale\\nReply with the letter only.'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fipo_integrations.guard.scope import continue_original, scope_reasons
from fipo_integrations.guard.text import Pair
from fipo_integrations.models import DEFAULT_MAX_ADDED_WORDS

from .pop import POPRecord

__all__ = ["BAD_KINDS", "AppendReport", "addition_problem", "build_append_records", "tokenize_prefilled"]

#: The failure modes a bad addition shows (``rejected_kind`` of an append record).
BAD_KINDS = (
    "length_cap",
    "widened_labels",
    "wrong_form",
    "invented_content",
    "answers_task",
    "question_back",
    "verbose",
    "drift",
)


@dataclass
class AppendReport:
    """The records built and, for every authored line left out, why."""

    records: list[POPRecord] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        empty = sum(1 for record in self.records if record.chosen_prompt == record.raw_prompt)
        kinds = Counter(str(record.extra.get("rejected_kind")) for record in self.records)
        return (
            f"{len(self.records)} append records ({empty} with nothing to add), {len(self.dropped)} dropped; "
            f"rejected kinds: {dict(sorted(kinds.items()))}"
        )


def addition_problem(raw_prompt: str, addition: str, *, max_added_words: int = DEFAULT_MAX_ADDED_WORDS) -> str | None:
    """Why the default guard's append scope would reject ``addition`` after ``raw_prompt`` (``None``: it passes).

    >>> addition_problem("Is 7 prime?", "Answer yes or no.") is None
    True
    >>> addition_problem("Is 7 prime?", "Answer in one sentence.")
    "only caps the reply's length: 'Answer in one sentence.'"
    """
    reasons = scope_reasons(
        Pair(raw_prompt, continue_original(raw_prompt, addition)), max_added_words, length_caps=False
    )
    return reasons[0].detail if reasons else None


def build_append_records(
    sources: Iterable[POPRecord],
    authored: Sequence[dict[str, Any]],
    *,
    max_added_words: int = DEFAULT_MAX_ADDED_WORDS,
) -> AppendReport:
    """One append record per authored line whose ``id`` names a source record and whose addition passes the guard.

    The chosen prompt is ``continue_original(raw, addition)`` (the raw prompt itself when the addition is empty),
    the rejected prompt ``continue_original(raw, bad_addition)``; the responses, ``task_kind`` and licence come
    from the source record. Lines that name no source, repeat an id, lack a bad addition, use an unknown
    ``bad_kind`` or whose addition the guard would reject are dropped, with the reason in the report.

    A line may carry a ``header``: the instruction part of the source's raw prompt (its exact start, the lines
    before the items or worked examples), as the optimizer sees it in few-shot use, DSPy or a template header.
    The record is then built on the header alone (id ``append-<id>-header``), without the source's responses,
    which answer the whole prompt. A header equal to the whole raw prompt is an ordinary line.
    """
    by_id = {record.id: record for record in sources}
    report = AppendReport()
    seen: set[str] = set()
    for line in authored:
        source_id = str(line.get("id", ""))
        source = by_id.get(source_id)
        addition = str(line.get("addition") or "").strip()
        bad = str(line.get("bad_addition") or "").strip()
        kind = str(line.get("bad_kind") or "")
        header = str(line.get("header") or "").strip()
        raw = source.raw_prompt if source is not None else ""
        is_header = bool(header) and header != raw.strip()
        record_id = f"append-{source_id}-header" if is_header else f"append-{source_id}"
        problem: str | None = None
        if source is None:
            problem = "names no source record"
        elif record_id in seen:
            problem = "repeats an id"
        elif is_header and not raw.strip().startswith(header):
            problem = "has a header that is not the exact start of the source's raw prompt"
        elif not bad or bad == addition:
            problem = "has no bad addition different from the good one"
        elif kind not in BAD_KINDS:
            problem = f"bad_kind {kind!r} is not one of {', '.join(BAD_KINDS)}"
        if problem is None and source is not None:
            raw = header if is_header else raw
            if addition:
                problem = addition_problem(raw, addition, max_added_words=max_added_words)
        if problem is not None or source is None:
            report.dropped.append(f"{source_id or '<no id>'}: {problem}")
            continue
        seen.add(record_id)
        report.records.append(
            POPRecord(
                id=record_id,
                raw_prompt=raw,
                text003_response_based_raw="" if is_header else source.naive_response,
                gpt4_response_based_raw="" if is_header else source.golden_response,
                chatgpt_optimized_prompt=continue_original(raw, bad),
                gpt4_optimized_prompt=continue_original(raw, addition) if addition else raw,
                extra={
                    "task_kind": source.extra.get("task_kind", ""),
                    "addition": addition,
                    "bad_addition": bad,
                    "rejected_kind": kind,
                    "source": f"{'header of the raw prompt' if is_header else 'raw prompt'} of POP record {source_id}; "
                    "additions authored for this project",
                    "license": source.extra.get("license", "Apache-2.0"),
                },
            )
        )
    return report


def tokenize_prefilled(rows: Sequence[dict[str, Any]], tokenizer: Any) -> tuple[list[dict[str, Any]], int]:
    """SFT rows as the append scope generates: the reply prefilled with the raw prompt, loss on what follows.

    Each row (``messages`` ending with the chosen prompt, and ``raw_prompt``) becomes ``input_ids`` and
    ``labels``: the chat template rendered up to the end of the prefilled raw prompt (tokenized alone, exactly as
    the runtime's prompt is), then the rest of the chosen prompt and the end of the turn (tokenized alone, as the
    model writes it), with the labels of the first part set to -100. Tokenizing the two parts together would merge
    tokens across the boundary (``".\\n"``) that the model never sees at run time. Rows whose chosen prompt does
    not start with the raw prompt are left out; returns the rows and how many were left out.
    """
    out: list[dict[str, Any]] = []
    skipped = 0
    for row in rows:
        messages = list(row["messages"])
        raw = str(row.get("raw_prompt", ""))
        chosen = str(messages[-1]["content"])
        if not raw or not chosen.startswith(raw):
            skipped += 1
            continue
        head = messages[:-1]
        prefix = tokenizer.apply_chat_template(
            [*head, {"role": "assistant", "content": raw}], tokenize=False, continue_final_message=True
        )
        full = tokenizer.apply_chat_template([*head, {"role": "assistant", "content": chosen}], tokenize=False)
        if not full.startswith(prefix):
            skipped += 1
            continue
        prompt_ids = list(tokenizer(prefix, add_special_tokens=False)["input_ids"])
        completion_ids = list(tokenizer(full[len(prefix) :], add_special_tokens=False)["input_ids"])
        out.append(
            {
                "input_ids": prompt_ids + completion_ids,
                "labels": [-100] * len(prompt_ids) + completion_ids,
            }
        )
    return out, skipped
