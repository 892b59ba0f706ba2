"""Data diversification as in the FIPO paper (Sec. 3.3), seeded and reproducible.

For each POP record:

* **Format.** A fraction of the records (``multiple_choice_fraction``, half in the paper) becomes an A/B
  multiple-choice task whose options are the naive and the golden response in random order. The golden
  response becomes the golden option's letter, the naive response the other letter, except that with
  probability ``label_noise`` (20% in the paper) the naive response is the golden letter too. Only records
  that have both responses can become multiple choice. Unlike the paper, the options block is also appended
  to the chosen and rejected rewrites, so the target keeps every option verbatim (the runtime guard rejects
  rewrites that drop data).
* **Template variant.** One of ``none``/``silver``/``golden``/``both`` is drawn uniformly among those the
  record supports (``silver`` and ``both`` need a naive response).
* **Length budget.** The chosen rewrite's word count (``budget="chosen"``, the paper), or the budget the
  runtime shows for the prompt when that is larger (``budget="runtime"``: the model sees at training time the
  number it will see at inference, and learns to stay concise under a generous budget).
* **Response-free share.** ``none_fraction`` (optional) shows that share of the records in the ``none``
  variant, the naive prompt alone: the form the runtime uses when no responses are given. The rest draw
  uniformly among the other variants they support. Unset, all variants are drawn uniformly (the paper).

Templates are rendered only through :func:`fipo_integrations.templates.render_optimizer_messages` and
:func:`~fipo_integrations.templates.render_discriminator_messages`: the same text the runtime engine sends,
so training and inference agree. Chat messages stay as messages; the trainer applies the target model's
chat template.

>>> from training.pop import POPRecord
>>> record = POPRecord.from_dict({"id": "a", "raw_prompt": "Add 2 and 3.", "naive_response": "5",
...     "golden_response": "2 + 3 = 5", "chosen_prompt": "Add 2 and 3. Reply with the sum only.",
...     "rejected_prompt": "Add numbers."})
>>> result = diversify([record], seed=1)
>>> result.items[0].variant in ("none", "silver", "golden", "both")
True
>>> sorted(sft_rows(result)[0])
['case_type', 'id', 'messages', 'multiple_choice', 'variant']
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fipo_integrations.templates import (
    VARIANTS,
    ChatMessage,
    Variant,
    default_max_words,
    render_discriminator_messages,
    render_optimizer_messages,
)

from .pop import POPRecord

__all__ = [
    "DiversifiedItem",
    "DiversifyResult",
    "diversify",
    "diversify_with",
    "ipl_rows",
    "optimizer_messages",
    "preference_rows",
    "sft_rows",
    "write_datasets",
]

#: The paper's case types for optimizer items: (variant, multiple choice) -> case.
_CASE_TYPES: dict[tuple[str, bool], int] = {
    ("none", False): 0,
    ("none", True): 0,
    ("silver", True): 1,
    ("silver", False): 2,
    ("golden", False): 3,
    ("golden", True): 3,
    ("both", True): 4,
    ("both", False): 5,
}
#: Auxiliary IPL items: answer the task (multiple choice / generation) and judge two rewrites.
CASE_RESPONSE_MC, CASE_RESPONSE_GEN, CASE_DISCRIMINATOR = 6, 7, 8


@dataclass
class DiversifiedItem:
    """One record after diversification: what the optimizer sees and what it should write."""

    id: str
    #: The record's raw prompt, untouched.
    raw_prompt: str
    #: The prompt being optimized (the raw prompt plus the options block for multiple choice).
    silver_prompt: str
    #: Options block appended for multiple choice ("" otherwise).
    post_options: str
    multiple_choice: bool
    #: Naive (silver) response: a letter for multiple choice; "" when the record has none.
    silver_response: str
    #: Golden response: a letter for multiple choice.
    golden_response: str
    chosen: str
    rejected: str
    variant: Variant
    max_words: int
    case_type: int
    #: True when label noise made the silver letter equal the golden letter.
    noisy_label: bool = False
    #: Which auxiliary IPL item this record contributes: "response" or "discriminator".
    auxiliary: str = "discriminator"
    #: For the discriminator item: True when the chosen rewrite is option A.
    chosen_is_a: bool = True


@dataclass
class DiversifyResult:
    """The diversified items plus counts that describe them."""

    items: list[DiversifiedItem]
    seed: int
    multiple_choice_fraction: float
    label_noise: float
    stats: dict[str, Any] = field(default_factory=dict)


def _options_block(first: str, second: str) -> str:
    return "\n" + "A: " + first.strip() + "\n" + "B: " + second.strip() + "\nAnswer:"


def _word_count(text: str) -> int:
    return max(1, len(text.split()))


def diversify(
    records: Sequence[POPRecord],
    *,
    seed: int = 0,
    multiple_choice_fraction: float = 0.5,
    label_noise: float = 0.2,
    none_fraction: float | None = None,
    budget: str = "chosen",
) -> DiversifyResult:
    """Diversify POP records (see the module docstring). Same records + same seed -> same result.

    Each record draws from its own generator seeded by ``(seed, id)``, so a record's variant does not depend
    on which other records are present; the multiple-choice subset is an exact ``multiple_choice_fraction``
    of the eligible records, drawn with ``seed``.
    """
    if not 0.0 <= multiple_choice_fraction <= 1.0:
        raise ValueError(f"multiple_choice_fraction must be in [0, 1], got {multiple_choice_fraction}")
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must be in [0, 1], got {label_noise}")
    if none_fraction is not None and not 0.0 <= none_fraction <= 1.0:
        raise ValueError(f"none_fraction must be in [0, 1] or None, got {none_fraction}")
    if budget not in ("chosen", "runtime"):
        raise ValueError(f"budget must be 'chosen' or 'runtime', got {budget!r}")
    if not records:
        raise ValueError("diversify() got no records; load a non-empty POP dataset first")
    eligible = sorted(r.id for r in records if r.naive_response.strip() and r.golden_response.strip())
    picker = random.Random(f"{seed}\x00multiple-choice")
    chosen_mc = set(picker.sample(eligible, round(multiple_choice_fraction * len(eligible))))
    items = [
        _diversify_one(record, seed, record.id in chosen_mc, label_noise, none_fraction, budget) for record in records
    ]
    variants = Counter(item.variant for item in items)
    stats = {
        "records": len(items),
        "multiple_choice": sum(item.multiple_choice for item in items),
        "multiple_choice_eligible": len(eligible),
        "noisy_labels": sum(item.noisy_label for item in items),
        "variants": {name: variants.get(name, 0) for name in VARIANTS},
        "without_rejected": sum(not item.rejected.strip() for item in items),
        "without_naive_response": sum(not item.silver_response.strip() for item in items),
    }
    return DiversifyResult(items, seed, multiple_choice_fraction, label_noise, stats)


def diversify_with(records: Sequence[POPRecord], settings: Any) -> DiversifyResult:
    """:func:`diversify` with the settings of the same names on ``settings``: a
    :class:`~training.config.TrainConfig` or the parsed ``fipo pop diversify`` arguments."""
    return diversify(
        records,
        seed=settings.seed,
        multiple_choice_fraction=settings.multiple_choice_fraction,
        label_noise=settings.label_noise,
        none_fraction=settings.none_fraction,
        budget=settings.budget,
    )


def _diversify_one(
    record: POPRecord,
    seed: int,
    multiple_choice: bool,
    label_noise: float,
    none_fraction: float | None = None,
    budget: str = "chosen",
) -> DiversifiedItem:
    rng = random.Random(f"{seed}\x00{record.id}")
    silver_prompt, post_options = record.raw_prompt, ""
    silver, golden = record.naive_response, record.golden_response
    chosen, rejected = record.chosen_prompt, record.rejected_prompt
    noisy = False
    if multiple_choice:
        golden_first = rng.random() < 0.5
        first, second = (golden, silver) if golden_first else (silver, golden)
        post_options = _options_block(first, second)
        silver_prompt = record.raw_prompt + post_options
        golden_letter, other_letter = ("A", "B") if golden_first else ("B", "A")
        noisy = rng.random() < label_noise
        golden, silver = golden_letter, golden_letter if noisy else other_letter
        chosen = chosen + post_options
        rejected = rejected + post_options if rejected.strip() else rejected
    has_silver = bool(silver.strip())
    available: list[Variant] = [v for v in VARIANTS if has_silver or v in ("none", "golden")]
    if not golden.strip():
        available = [v for v in available if v in ("none", "silver")]
    if none_fraction is None:
        variant = rng.choice(available)
    else:
        others = [v for v in available if v != "none"]
        variant = "none" if not others or rng.random() < none_fraction else rng.choice(others)
    max_words = _word_count(chosen)
    if budget == "runtime":
        max_words = max(max_words, default_max_words(silver_prompt))
    auxiliary = "response" if has_silver and golden.strip() and rng.random() < 0.5 else "discriminator"
    return DiversifiedItem(
        id=record.id,
        raw_prompt=record.raw_prompt,
        silver_prompt=silver_prompt,
        post_options=post_options,
        multiple_choice=multiple_choice,
        silver_response=silver,
        golden_response=golden,
        chosen=chosen,
        rejected=rejected,
        variant=variant,
        max_words=max_words,
        case_type=_CASE_TYPES[(variant, multiple_choice)],
        noisy_label=noisy,
        auxiliary=auxiliary,
        chosen_is_a=rng.random() < 0.5,
    )


def optimizer_messages(
    item: DiversifiedItem, *, silver_prompt: str | None = None, silver_response: str | None = None
) -> list[ChatMessage]:
    """The optimizer conversation for ``item`` in its variant (overrides are used by IPL rounds)."""
    prompt = item.silver_prompt if silver_prompt is None else silver_prompt
    silver = item.silver_response if silver_response is None else silver_response
    return render_optimizer_messages(
        prompt,
        silver_response=silver if item.variant in ("silver", "both") else None,
        golden_response=item.golden_response if item.variant in ("golden", "both") else None,
        max_words=item.max_words,
    )


def _assistant(text: str) -> list[ChatMessage]:
    return [{"role": "assistant", "content": text}]


def sft_rows(result: DiversifyResult) -> list[dict[str, Any]]:
    """Chat-format SFT rows: ``messages`` = optimizer turn + the chosen rewrite as the assistant turn."""
    return [
        {
            "id": item.id,
            "messages": optimizer_messages(item) + _assistant(item.chosen),
            "raw_prompt": item.raw_prompt,
            "variant": item.variant,
            "case_type": item.case_type,
            "multiple_choice": item.multiple_choice,
        }
        for item in result.items
    ]


def preference_rows(result: DiversifyResult) -> list[dict[str, Any]]:
    """Conversational DPO/IPO rows (``prompt``/``chosen``/``rejected``); records without a rejected rewrite
    are left out (see ``stats["without_rejected"]``)."""
    return [
        {
            "id": item.id,
            "prompt": optimizer_messages(item),
            "chosen": _assistant(item.chosen),
            "rejected": _assistant(item.rejected),
        }
        for item in result.items
        if item.rejected.strip()
    ]


def _ipl_common(item: DiversifiedItem) -> dict[str, Any]:
    return {
        "raw_prompt": item.raw_prompt,
        "silver_prompt": item.silver_prompt,
        "silver_response": item.silver_response,
        "golden_response": item.golden_response,
        "post_options": item.post_options,
        "variant": item.variant,
        "max_words": item.max_words,
        "multiple_choice": item.multiple_choice,
        "chosen_text": item.chosen,
        "rejected_text": item.rejected,
    }


def ipl_rows(result: DiversifyResult) -> list[dict[str, Any]]:
    """IPL rows: preference rows plus the fields a round needs to regenerate them, and per record one
    auxiliary row: answering the task (chosen = golden response, rejected = naive response) or judging
    the chosen against the rejected rewrite with the discriminator template."""
    rows: list[dict[str, Any]] = []
    for item in result.items:
        if not item.rejected.strip():
            continue
        rows.append(
            {
                "id": item.id,
                "kind": "optimizer",
                "case_type": item.case_type,
                "prompt": optimizer_messages(item),
                "chosen": _assistant(item.chosen),
                "rejected": _assistant(item.rejected),
                **_ipl_common(item),
            }
        )
        if item.auxiliary == "response":
            prompt: list[ChatMessage] = [{"role": "user", "content": item.silver_prompt}]
            chosen, rejected = item.golden_response, item.silver_response
            kind, case = "response", CASE_RESPONSE_MC if item.multiple_choice else CASE_RESPONSE_GEN
        else:
            a, b = (item.chosen, item.rejected) if item.chosen_is_a else (item.rejected, item.chosen)
            prompt = render_discriminator_messages(item.silver_prompt, a, b, golden_response=item.golden_response)
            chosen, rejected = ("A", "B") if item.chosen_is_a else ("B", "A")
            kind, case = "discriminator", CASE_DISCRIMINATOR
        rows.append(
            {
                "id": f"{item.id}#{kind}",
                "kind": kind,
                "case_type": case,
                "prompt": prompt,
                "chosen": _assistant(chosen),
                "rejected": _assistant(rejected),
                **_ipl_common(item),
            }
        )
    return rows


def _write_jsonl(rows: Sequence[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_datasets(result: DiversifyResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``sft.jsonl``, ``dpo.jsonl`` (for DPO and IPO), ``ipl.jsonl``, ``items.jsonl`` and ``stats.json``."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    paths = {name: target / f"{name}.jsonl" for name in ("sft", "dpo", "ipl", "items")}
    _write_jsonl(sft_rows(result), paths["sft"])
    _write_jsonl(preference_rows(result), paths["dpo"])
    _write_jsonl(ipl_rows(result), paths["ipl"])
    _write_jsonl([asdict(item) for item in result.items], paths["items"])
    stats = {
        "seed": result.seed,
        "multiple_choice_fraction": result.multiple_choice_fraction,
        "label_noise": result.label_noise,
        **result.stats,
    }
    paths["stats"] = target / "stats.json"
    paths["stats"].write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return paths
