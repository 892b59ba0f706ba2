"""Prompt sources: ``naive`` (the instruction as written) and one or more FIPO optimizers.

An optimizer spec is ``none`` (naive), ``default`` (``PromptOptimizer()``: the embedded Qwen2.5-Coder-0.5B with
the bundled adapter, append scope), a local model directory, a PEFT adapter directory (``adapter_config.json``;
its base model comes from the adapter config or its ``fipo_training.json``, else the default optimizer's base),
``embedded:NAME``, an endpoint ``http://host/v1#MODEL``, a model name served at ``--optimizer-base-url``, or
``file:PATH``: fixed rewrites read from a JSONL file of ``{"naive": ..., "rewrite": ...}`` lines (hand-written
"expert" rewrites, say; instructions the file does not cover stay naive). ``LABEL=SPEC`` sets the column name
in the report.

Each optimizer rewrites every distinct naive instruction once, in one batch; few-shot examples are never
rewritten.

>>> [source.label for source in parse_sources(["none", "default", "mine=/tmp/adapter"])]
['naive', 'default', 'mine']
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..backends import release_backend
from ..spec import ModelSpec, split_label

__all__ = ["InstructionRewrite", "PromptSource", "optimize_instructions", "parse_sources"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptSource:
    """Where the instructions of a run come from; ``spec`` is ``None`` for the naive prompts."""

    label: str
    spec: str | None = None
    base_url: str | None = None

    @property
    def naive(self) -> bool:
        return self.spec is None

    @property
    def rewrites_file(self) -> Path | None:
        """The JSONL file of fixed rewrites for a ``file:PATH`` source, else ``None``."""
        if self.spec is None or not self.spec.startswith("file:"):
            return None
        return Path(self.spec[len("file:") :]).expanduser()

    def model_spec(self, *, device: str | None = None) -> ModelSpec:
        """The optimizer model: the spec string parsed once; a plain model name goes to ``base_url`` when set."""
        if self.spec is None:
            raise ValueError("the naive source has no optimizer")
        spec = ModelSpec.parse(self.spec)
        if spec.resolved_backend != "transformers":
            return spec
        name = spec.model
        served = name is not None and not name.startswith("embedded:") and not Path(name).expanduser().is_dir()
        if self.base_url is not None and spec.adapter is None and served:
            return ModelSpec(model=name, base_url=self.base_url)
        return replace(spec, device=device)

    def make_optimizer(self, *, device: str | None = None, cache: bool = True, max_new_tokens: int = 256) -> Any:
        """The :class:`~fipo_integrations.PromptOptimizer` this source describes."""
        from ..engine import PromptOptimizer

        return PromptOptimizer(self.model_spec(device=device), cache=cache, max_new_tokens=max_new_tokens)


def parse_sources(specs: Sequence[str], *, base_url: str | None = None) -> list[PromptSource]:
    """Prompt sources from ``--optimizer`` values; ``naive`` always comes first (it is the baseline)."""
    sources: list[PromptSource] = []
    for raw in specs or ["none"]:
        label, spec = split_label(raw)
        if not spec:
            raise ValueError(f"empty optimizer spec in {raw!r}; use none, default, a path or a model name")
        if spec.lower() in {"none", "naive"}:
            source = PromptSource(label or "naive")
        elif (path := PromptSource("", spec).rewrites_file) is not None:
            if not path.is_file():
                raise ValueError(f"{raw!r}: no rewrites file at {path}; give file:PATH to a JSONL of naive/rewrite")
            source = PromptSource(label or path.stem, spec)
        else:
            source = PromptSource(label or ModelSpec.parse(spec).default_label, spec, base_url)
        if any(existing.label == source.label for existing in sources):
            raise ValueError(
                f"two prompt sources are both labelled {source.label!r}; name them with LABEL=SPEC, "
                "e.g. --optimizer small=/path/a --optimizer large=/path/b"
            )
        sources.append(source)
    naive = [source for source in sources if source.naive]
    if len(naive) > 1:
        raise ValueError("--optimizer none was given twice")
    if not naive:
        sources.insert(0, PromptSource("naive"))
    return sorted(sources, key=lambda source: not source.naive)


@dataclass(frozen=True)
class InstructionRewrite:
    """One optimized instruction (``optimized`` equals ``naive`` when the guard kept the original)."""

    naive: str
    optimized: str
    accepted: bool
    reason: str | None
    candidate: str
    model_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "naive": self.naive,
            "optimized": self.optimized,
            "accepted": self.accepted,
            "reason": self.reason,
            "candidate": self.candidate,
            "model_id": self.model_id,
        }


def optimize_instructions(
    source: PromptSource,
    instructions: Sequence[str],
    *,
    optimizer: Any = None,
    device: str | None = None,
    cache: bool = True,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    progress: Callable[[int], None] | None = None,
) -> dict[str, InstructionRewrite]:
    """Rewrite each distinct instruction once with ``source``'s optimizer (or the ``optimizer`` given).

    Returns ``{naive instruction: rewrite}``; the naive source maps every instruction to itself.
    """
    unique = list(dict.fromkeys(instructions))
    if source.naive:
        return {text: InstructionRewrite(text, text, True, None, text, "naive") for text in unique}
    if source.rewrites_file is not None:
        return _fixed_rewrites(source.rewrites_file, unique)
    owned = optimizer is None
    engine = (
        optimizer
        if optimizer is not None
        else source.make_optimizer(device=device, cache=cache, max_new_tokens=max_new_tokens)
    )
    rewrites: dict[str, InstructionRewrite] = {}
    try:
        for start in range(0, len(unique), batch_size):
            chunk = unique[start : start + batch_size]
            for text, result in zip(chunk, engine.optimize_batch(chunk), strict=True):
                rewrites[text] = InstructionRewrite(
                    text, result.optimized, result.accepted, result.reason, result.candidate, result.model_id
                )
            if progress is not None:
                progress(len(chunk))
    finally:
        if owned:
            del engine
            release_backend(source.model_spec(device=device))
            gc.collect()
    return rewrites


def _fixed_rewrites(path: Path, instructions: Sequence[str]) -> dict[str, InstructionRewrite]:
    """Rewrites read from ``path`` (JSONL of ``naive``/``rewrite``); uncovered instructions stay naive."""
    from ..validation import iter_jsonl

    table: dict[str, str] = {}
    for number, row in iter_jsonl(path.read_text(encoding="utf-8"), str(path)):
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("naive"), str)
            or not isinstance(row.get("rewrite"), str)
        ):
            raise ValueError(f"{path}:{number}: expected an object with string fields 'naive' and 'rewrite'")
        table[row["naive"].strip()] = row["rewrite"]
    model_id = f"file:{path.name}"
    rewrites: dict[str, InstructionRewrite] = {}
    for text in instructions:
        found = table.get(text.strip())
        if found is None:
            rewrites[text] = InstructionRewrite(text, text, False, f"not in {path.name}", text, model_id)
        else:
            rewrites[text] = InstructionRewrite(text, found, True, None, found, model_id)
    return rewrites
