"""Prompt sources: ``naive`` (the instruction as written) and one or more FIPO optimizers.

An optimizer spec is ``none`` (naive), ``default`` (``PromptOptimizer()``: the embedded SmolLM2 with the
bundled adapter), a local model directory, a PEFT adapter directory (``adapter_config.json``; its base model
comes from the adapter config when that is a local directory, else the embedded default), ``embedded:NAME``,
an endpoint ``http://host/v1#MODEL``, or a model name served at ``--optimizer-base-url``. ``LABEL=SPEC`` sets
the column name in the report.

Each optimizer rewrites every distinct naive instruction once, in one batch; few-shot examples are never
rewritten.

>>> [source.label for source in parse_sources(["none", "default", "mine=/tmp/adapter"])]
['naive', 'default', 'mine']
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    def make_optimizer(self, *, device: str | None = None, cache: bool = True, max_new_tokens: int = 256) -> Any:
        """The :class:`~fipo_integrations.PromptOptimizer` this source describes."""
        from functools import partial

        from ..engine import PromptOptimizer as Optimizer

        make = partial(Optimizer, max_new_tokens=max_new_tokens)

        if self.spec is None:
            raise ValueError("the naive source has no optimizer")
        if self.spec == "default":
            return make(device=device, cache=cache)
        endpoint = self.spec[len("openai:") :] if self.spec.startswith("openai:") else self.spec
        if endpoint.startswith(("http://", "https://")):
            url, _, model = endpoint.partition("#")
            return make(model or None, base_url=url, cache=cache)
        path = Path(self.spec).expanduser()
        if (path / "adapter_config.json").is_file():
            base = _adapter_base(path)
            return make(base, adapter=path, device=device, cache=cache)
        if path.is_dir() or self.spec.startswith("embedded:") or self.base_url is None:
            return make(self.spec, device=device, cache=cache)
        return make(self.spec, base_url=self.base_url, cache=cache)


def _adapter_base(adapter: Path) -> str | None:
    """The adapter's base model when it is a local directory; ``None`` (the embedded default) otherwise."""
    try:
        config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    base = config.get("base_model_name_or_path")
    if isinstance(base, str) and Path(base).expanduser().is_dir():
        return base
    return None


def parse_sources(specs: Sequence[str], *, base_url: str | None = None) -> list[PromptSource]:
    """Prompt sources from ``--optimizer`` values; ``naive`` always comes first (it is the baseline)."""
    sources: list[PromptSource] = []
    for raw in specs or ["none"]:
        label: str | None = None
        spec = raw.strip()
        if "=" in spec and not spec.split("=", 1)[0].startswith(("http", "openai:", "/", ".", "~")):
            label, spec = (part.strip() for part in spec.split("=", 1))
        if not spec:
            raise ValueError(f"empty optimizer spec in {raw!r}; use none, default, a path or a model name")
        if spec.lower() in {"none", "naive"}:
            source = PromptSource(label or "naive")
        else:
            source = PromptSource(label or _default_label(spec), spec, base_url)
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


def _default_label(spec: str) -> str:
    if spec == "default":
        return "default"
    if "#" in spec:
        return spec.rsplit("#", 1)[1]
    if spec.startswith("embedded:"):
        return spec.split(":", 1)[1]
    return Path(spec.rstrip("/")).name or spec


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
            gc.collect()
    return rewrites
