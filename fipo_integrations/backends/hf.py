"""Local transformers backend (CPU or GPU): the default."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._deps import require
from ..guard.text import loop_period
from ..models import DEFAULT_MODEL, ModelNotAvailableError, directory_fingerprint, resolve_model_path
from ..precision import resolve_dtype
from ..templates import ChatMessage
from .base import Backend, GenerationParams, cut_at_stop

__all__ = ["QUANTIZATION_CHOICES", "TransformersBackend", "load_causal_lm", "resolve_quantization"]

logger = logging.getLogger(__name__)


def _pick_device(device: str | None) -> str:
    if device:
        return device
    torch = require("torch")
    return "cuda" if torch.cuda.is_available() else "cpu"


def _limit_cpu_threads(device: str) -> None:
    """Cap torch's CPU threads with ``$FIPO_TORCH_THREADS``: on a busy CPU, spinning OpenMP threads can make
    generation more than 10x slower than one thread."""
    wanted = os.environ.get("FIPO_TORCH_THREADS")
    if device != "cpu" or not wanted:
        return
    if not wanted.isdigit() or int(wanted) < 1:
        raise ValueError(f"FIPO_TORCH_THREADS must be a positive integer, got {wanted!r}")
    require("torch").set_num_threads(int(wanted))


QUANTIZATION_CHOICES = ("none", "int8")


def _quantize(lm: Any, quantization: str) -> None:
    """Weight-only int8 quantization of every linear layer, in place, with torchao."""
    torchao = require("torchao.quantization", feature=f"quantization={quantization!r}")
    torchao.quantize_(lm, torchao.Int8WeightOnlyConfig())


def resolve_quantization(quantization: str | None) -> str:
    """``quantization``, else ``$FIPO_QUANTIZATION``, else ``"none"``; checked against the choices."""
    value = quantization if quantization is not None else os.environ.get("FIPO_QUANTIZATION", "none")
    value = (value or "none").strip().lower()
    if value not in QUANTIZATION_CHOICES:
        raise ValueError(
            f"quantization={value!r} is not supported; use one of {', '.join(QUANTIZATION_CHOICES)} "
            "(int8 needs the 'quantization' extra: pip install 'fipo-integrations[quantization]')"
        )
    return value


def load_causal_lm(
    model: str | Path | None = None,
    *,
    adapter: str | Path | None = None,
    device: str | None = None,
    dtype: str = "auto",
    trust_remote_code: bool = False,
    merge_adapter: bool = True,
    quantization: str | None = None,
) -> tuple[Any, Any, str]:
    """Load ``(model, tokenizer, model_id)`` for a model spec (see :mod:`fipo_integrations.models`).

    Safetensors only; ``trust_remote_code`` is off unless asked for. ``adapter`` is a PEFT LoRA directory,
    merged into the weights for fast inference. ``model_id`` identifies weights and adapter for cache keys.
    ``dtype="auto"`` picks the precision by what the device runs natively (:mod:`fipo_integrations.precision`);
    ``quantization="int8"`` (or ``$FIPO_QUANTIZATION``) stores the linear weights as int8 (torchao,
    weight-only), after the adapter is merged.
    """
    torch = require("torch")
    transformers = require("transformers")
    path, default_adapter = resolve_model_path(model)
    adapter_path = Path(adapter) if adapter is not None else default_adapter
    if adapter_path is not None and not (adapter_path / "adapter_config.json").is_file():
        raise FileNotFoundError(
            f"adapter={str(adapter_path)!r} is not a PEFT adapter directory (no adapter_config.json); "
            "pass the directory written by `fipo train` or `PeftModel.save_pretrained`"
        )
    resolved_device = _pick_device(device)
    _limit_cpu_threads(resolved_device)
    torch_dtype = getattr(torch, resolve_dtype(dtype, resolved_device))
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        lm = transformers.AutoModelForCausalLM.from_pretrained(
            path, dtype=torch_dtype, use_safetensors=True, trust_remote_code=trust_remote_code
        )
    except OSError as exc:
        raise ModelNotAvailableError(
            f"Could not load model {path!r} from a local directory or the local hub cache ({exc}). "
            "Pass a directory with config.json and *.safetensors, or omit `model` for the embedded default."
        ) from exc
    if adapter_path is not None:
        peft = require("peft", feature="loading a LoRA adapter")
        lm = peft.PeftModel.from_pretrained(lm, str(adapter_path))
        if merge_adapter:
            lm = lm.merge_and_unload()
    lm.to(resolved_device)
    lm.eval()
    quantization = resolve_quantization(quantization)
    if quantization != "none":
        if adapter_path is not None and not merge_adapter:
            raise ValueError("quantization needs the adapter merged; pass merge_adapter=True")
        _quantize(lm, quantization)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    identity = str(model) if model is not None else DEFAULT_MODEL
    if Path(path).is_dir():
        identity += f"@{directory_fingerprint(path)}"
    if adapter_path is not None:
        identity += f"+adapter@{directory_fingerprint(adapter_path)}"
    if quantization != "none":
        identity += f"#{quantization}"
    return lm, tokenizer, identity


class TransformersBackend(Backend):
    """Runs a local Hugging Face causal LM with its own chat template.

    >>> backend = TransformersBackend()  # doctest: +SKIP
    >>> conversation = [{"role": "user", "content": "Say hi."}]
    >>> backend.generate([conversation], GenerationParams(max_new_tokens=8))  # doctest: +SKIP
    [['Hi!']]
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        adapter: str | Path | None = None,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = 8,
        trust_remote_code: bool = False,
        preloaded: tuple[Any, Any] | None = None,
        quantization: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        started = time.perf_counter()
        if preloaded is not None:
            self.model, self.tokenizer = preloaded
            self.model_id = f"preloaded:{getattr(self.model.config, '_name_or_path', 'model')}"
        else:
            self.model, self.tokenizer, self.model_id = load_causal_lm(
                model,
                adapter=adapter,
                device=device,
                dtype=dtype,
                trust_remote_code=trust_remote_code,
                quantization=quantization,
            )
        self.load_seconds = time.perf_counter() - started
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._lock = threading.Lock()
        if not getattr(self.tokenizer, "chat_template", None):
            logger.warning(
                "Model %s has no chat template; messages are joined as plain text. "
                "Use an instruction-tuned model for best results.",
                self.model_id,
            )

    @property
    def context_window(self) -> int | None:
        config = self.model.config
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    supports_prefill = True

    def render(self, conversation: Sequence[ChatMessage]) -> str:
        """The conversation as the model's chat template renders it, ready for the assistant's reply (or, when
        the last message is the assistant's, ready to continue it)."""
        prefill = bool(conversation) and conversation[-1]["role"] == "assistant"
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                list(conversation),
                tokenize=False,
                add_generation_prompt=not prefill,
                continue_final_message=prefill,
            )
            return str(text)
        if prefill:
            return "\n\n".join(message["content"] for message in conversation)
        return "\n\n".join(message["content"] for message in conversation) + "\n\n"

    def count_tokens(self, conversation: Sequence[ChatMessage]) -> int | None:
        return len(self.tokenizer(self.render(conversation), add_special_tokens=False)["input_ids"])

    def _encode(self, texts: list[str], add_special_tokens: bool | None = None) -> Any:
        self.tokenizer.padding_side = "left"
        # A chat template adds its own special tokens; plain-text models (no template) need their BOS token.
        if add_special_tokens is None:
            add_special_tokens = not getattr(self.tokenizer, "chat_template", None)
        encoded = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=add_special_tokens)
        return encoded.to(self.model.device)

    def eos_token_ids(self) -> list[int]:
        """Token ids that end a reply: the tokenizer's EOS and the generation config's."""
        ids = {self.tokenizer.eos_token_id}
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(configured if isinstance(configured, list) else [configured])
        return sorted(i for i in ids if isinstance(i, int))

    def generate(self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams) -> list[list[str]]:
        return self.complete(
            [self.render(conversation) for conversation in conversations], params, add_special_tokens=None
        )

    def complete(
        self,
        texts: Sequence[str],
        params: GenerationParams,
        *,
        add_special_tokens: bool | None = True,
        stop_pattern: str | None = None,
    ) -> list[list[str]]:
        """Continuations of raw ``texts`` (no chat template): ``params.num_candidates`` per text, each cut at the
        first stop string. ``add_special_tokens`` adds the tokenizer's BOS (``None``: only without a chat
        template); a ``stop_pattern`` match also ends generation (the text is not cut there).

        >>> backend.complete(["Q: 2+2?\\nA:"], GenerationParams(max_new_tokens=8, stop=("\\n",)))  # doctest: +SKIP
        [['4']]
        """
        torch = require("torch")
        # Longest first, so each batch pads little and memory peaks early.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        replies: list[list[str]] = [[] for _ in texts]
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.eos_token_ids(),
            "num_return_sequences": params.num_candidates,
        }
        if params.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
        with self._lock, torch.inference_mode():
            if not params.greedy and params.seed is not None:
                torch.manual_seed(params.seed)
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                encoded = self._encode([texts[i] for i in batch], add_special_tokens)
                length = encoded["input_ids"].shape[1]
                criteria = _stop_criteria(
                    self.tokenizer, length, params.stop, stop_pattern, params.stop_on_loop, params.max_words
                )
                processors = _first_stop(self.eos_token_ids(), length, params.first_stop_probability)
                output = self.model.generate(
                    **encoded, **kwargs, stopping_criteria=criteria, logits_processor=processors
                )
                decoded = self.tokenizer.batch_decode(output[:, length:], skip_special_tokens=True)
                for position, index in enumerate(batch):
                    first = position * params.num_candidates
                    chosen = decoded[first : first + params.num_candidates]
                    replies[index] = [cut_at_stop(d, params.stop).strip() for d in chosen]
        return replies

    def choice_logprobs(
        self, conversations: Sequence[Sequence[ChatMessage]], choices: Sequence[str]
    ) -> list[list[float]] | None:
        torch = require("torch")
        choice_ids = []
        for choice in choices:
            ids = self.tokenizer.encode(choice, add_special_tokens=False)
            if not ids:
                raise ValueError(f"choice {choice!r} encodes to no token")
            choice_ids.append(ids[0])
        texts = [self.render(conversation) for conversation in conversations]
        scores: list[list[float]] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                encoded = self._encode(texts[start : start + self.batch_size])
                # Only the last position's logits: full logits of a 262k-token vocabulary take gigabytes.
                positions = (encoded["attention_mask"].cumsum(-1) - 1).clamp(min=0)
                output = self.model(**encoded, position_ids=positions, logits_to_keep=1)
                logits = output.logits[:, -1, :].float()
                logprobs = torch.log_softmax(logits, dim=-1)[:, choice_ids]
                scores.extend(logprobs.tolist())
        return scores


def _first_stop(eos_ids: list[int], prompt_length: int, threshold: float | None) -> Any:
    """A logits-processor list that, at the first generated position only, leaves nothing but the end-of-turn
    token for each row where the end-of-turn tokens together have at least ``threshold`` probability (``None``:
    an empty list)."""
    transformers = require("transformers")
    processors = transformers.LogitsProcessorList()
    if threshold is None or not eos_ids:
        return processors
    torch = require("torch")

    class _FirstStop(transformers.LogitsProcessor):  # type: ignore[misc, name-defined]
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if input_ids.shape[1] != prompt_length:
                return scores
            stop = torch.softmax(scores.float(), dim=-1)[:, eos_ids].sum(dim=-1) >= threshold
            if bool(stop.any()):
                forced = torch.full_like(scores[0], float("-inf"))
                forced[eos_ids[0]] = 0.0
                scores = torch.where(stop[:, None], forced[None, :], scores)
            return scores

    processors.append(_FirstStop())
    return processors


def _stop_criteria(
    tokenizer: Any,
    prompt_length: int,
    stop: Sequence[str],
    stop_pattern: str | None,
    stop_on_loop: bool = False,
    max_words: int | None = None,
) -> Any:
    """A stopping-criteria list that ends each sequence at a stop string, a ``stop_pattern`` match, (with
    ``stop_on_loop``) a block of at least 4 tokens repeated three times in a row, or (with ``max_words``) more
    than that many words."""
    transformers = require("transformers")
    torch = require("torch")
    criteria = transformers.StoppingCriteriaList()
    if stop or stop_pattern:
        pattern = re.compile(stop_pattern) if stop_pattern else None
        window = 48  # tokens decoded per check: enough for every stop string and "The answer is N."

        class _StopOnText(transformers.StoppingCriteria):  # type: ignore[misc, name-defined]
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                tails = tokenizer.batch_decode(input_ids[:, prompt_length:][:, -window:], skip_special_tokens=True)
                done = [any(mark in tail for mark in stop) or bool(pattern and pattern.search(tail)) for tail in tails]
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        criteria.append(_StopOnText())
    if stop_on_loop:

        class _StopOnLoop(transformers.StoppingCriteria):  # type: ignore[misc, name-defined]
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                rows = input_ids[:, prompt_length:][:, -3 * 64 :].tolist()
                done = [loop_period(row, min_period=4, max_period=64) > 0 for row in rows]
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        criteria.append(_StopOnLoop())
    if max_words is not None:
        word_cap = max_words

        class _StopOnWords(transformers.StoppingCriteria):  # type: ignore[misc, name-defined]
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                generated = input_ids[:, prompt_length:]
                if 2 * generated.shape[1] <= word_cap:  # too few tokens to hold that many words
                    return torch.zeros(generated.shape[0], dtype=torch.bool, device=input_ids.device)
                texts = tokenizer.batch_decode(generated, skip_special_tokens=True)
                done = [len(text.split()) > word_cap for text in texts]
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        criteria.append(_StopOnWords())
    return criteria
