"""vLLM offline engine backend (GPU; ``pip install 'fipo-integrations[vllm]'``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._deps import require
from ..models import directory_fingerprint
from ..templates import ChatMessage
from .base import Backend, GenerationParams, cut_at_stop

__all__ = ["VLLMBackend"]


class VLLMBackend(Backend):
    """Batched generation with ``vllm.LLM.chat`` (the model's own chat template), optional LoRA adapter."""

    def __init__(
        self,
        model: str | Path,
        *,
        adapter: str | Path | None = None,
        trust_remote_code: bool = False,
        engine_kwargs: dict[str, Any] | None = None,
    ) -> None:
        vllm = require("vllm", feature="the vLLM backend")
        self._vllm = vllm
        options: dict[str, Any] = {"model": str(model), "trust_remote_code": trust_remote_code}
        if adapter is not None:
            options["enable_lora"] = True
        options.update(engine_kwargs or {})
        self.engine = vllm.LLM(**options)
        self.lora_request = None
        self.model_id = f"vllm:{model}"
        if adapter is not None:
            lora_module = require("vllm.lora.request", feature="LoRA adapters with vLLM")
            self.lora_request = lora_module.LoRARequest("fipo-adapter", 1, str(adapter))
            self.model_id += f"+adapter@{directory_fingerprint(adapter)}"

    @property
    def context_window(self) -> int | None:
        config = getattr(getattr(self.engine, "llm_engine", None), "model_config", None)
        value = getattr(config, "max_model_len", None)
        return value if isinstance(value, int) else None

    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        sampling = self._vllm.SamplingParams(
            n=params.num_candidates,
            temperature=params.temperature,
            top_p=params.top_p if not params.greedy else 1.0,
            max_tokens=params.max_new_tokens,
            seed=None if params.greedy else params.seed,
            stop=list(params.stop) or None,
        )
        outputs = self.engine.chat(
            [list(conversation) for conversation in conversations],
            sampling,
            lora_request=self.lora_request,
            use_tqdm=False,
        )
        return [
            [cut_at_stop(completion.text, params.stop).strip() for completion in output.outputs] for output in outputs
        ]
