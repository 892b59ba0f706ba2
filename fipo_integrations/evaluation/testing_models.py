"""The testing models: the downstream models that answer the benchmark prompts.

A spec names one:

- ``embedded:smollm2-135m-instruct``, ``embedded:gemma-3-270m``, a local model directory or a hub id in the
  local cache: a transformers causal LM (via :class:`~fipo_integrations.backends.hf.TransformersBackend`);
  batched generation with stop strings, and option-letter log-probabilities in one forward pass;
- ``http://host:8000/v1#MODEL`` (or ``openai:http://...#MODEL``): an OpenAI-compatible endpoint, generation
  only (multiple-choice benchmarks are then scored from the generated letter);
- ``vllm:PATH``: the vLLM offline engine (GPU), when vllm is installed.

``LABEL=SPEC`` sets the name shown in the report. A prompt is either plain text (a ``str``: scored as
text, with no chat template, the way lm-evaluation-harness scores multiple choice) or a list of chat turns
(rendered with the model's chat template; a model without one gets the turns joined as plain text).

>>> model = make_testing_model("embedded:smollm2-135m-instruct")
>>> model.label, model.key
('smollm2-135m-instruct', 'embedded:smollm2-135m-instruct')
"""

from __future__ import annotations

import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._deps import require
from ..precision import normalise_dtype

__all__ = [
    "EndpointTestingModel",
    "Prompt",
    "TestingModel",
    "TransformersTestingModel",
    "VLLMTestingModel",
    "make_testing_model",
    "truncate_at_stop",
]

logger = logging.getLogger(__name__)

#: Plain text, or chat turns (``[{"role": ..., "content": ...}, ...]``).
Prompt = str | list[dict[str, str]]


def _as_plain(prompt: Prompt) -> str:
    """A prompt as plain text: chat turns joined the way :func:`~.data.build_prompt` joins blocks."""
    if isinstance(prompt, str):
        return prompt
    parts: list[str] = []
    for message in prompt:
        if message["role"] == "assistant" and parts:
            parts[-1] = f"{parts[-1]} {message['content']}"
        else:
            parts.append(message["content"])
    return "\n\n".join(parts)


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first stop string, stripped.

    >>> truncate_at_stop("(B)\\n\\nQ: next question", ["\\n\\n", "\\nQ:"])
    '(B)'
    """
    cut = len(text)
    for marker in stop:
        position = text.find(marker)
        if position >= 0:
            cut = min(cut, position)
    return text[:cut].strip()


class TestingModel(ABC):
    """A model under test. ``key`` identifies it in the result cache and is known before loading."""

    #: Name in the report.
    label: str
    #: Stable identity for cache keys.
    key: str
    #: Whether :meth:`option_logprobs` works (otherwise multiple choice is scored by generation).
    supports_logprobs: bool = False

    @property
    def chat(self) -> bool:
        """Whether the model is a chat model (generation then goes through its chat template by default)."""
        return False

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load weights (called once before the first request; loading is lazy so cached runs skip it)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the weights."""

    @abstractmethod
    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        stop_pattern: str | None = None,
    ) -> list[str]:
        """Greedy replies, each cut at its first stop string; ``stop_pattern`` may end generation early."""

    def option_logprobs(self, prompts: Sequence[Prompt], letters: Sequence[str]) -> list[list[float]]:
        """Log-likelihood of each option letter, as the continuation ``" X"`` after each prompt."""
        raise NotImplementedError(f"{type(self).__name__} cannot score option log-probabilities")

    def prompt_tokens(self, prompt: Prompt) -> int | None:
        """Tokens the prompt takes as the model sees it, or ``None`` when unknown."""
        return None

    @property
    def context_window(self) -> int | None:
        return None


class TransformersTestingModel(TestingModel):
    """A local transformers causal LM, in the precision the device runs best (see
    :mod:`fipo_integrations.precision`), batched, longest prompts first."""

    supports_logprobs = True

    def __init__(
        self,
        spec: str,
        *,
        label: str | None = None,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.spec = spec
        self.label = label or _default_label(spec)
        # An explicit precision is part of the identity: cached results of another precision are not reused.
        self.key = _model_key(spec) + ("" if dtype in ("auto", "", None) else f"@{normalise_dtype(dtype)}")
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.backend: Any = None

    # ---------------------------------------------------------------------------------------- loading
    def load(self) -> None:
        if self.backend is None:
            from ..backends.hf import TransformersBackend

            self.backend = TransformersBackend(
                self.spec, device=self.device, dtype=self.dtype, batch_size=self.batch_size
            )
            logger.info("loaded %s in %.1f s (chat template: %s)", self.label, self.backend.load_seconds, self.chat)

    def close(self) -> None:
        self.backend = None

    @property
    def chat(self) -> bool:
        """Whether the tokenizer has a chat template (else prompts go in as plain text)."""
        self.load()
        return bool(getattr(self.backend.tokenizer, "chat_template", None))

    @property
    def context_window(self) -> int | None:
        self.load()
        window: int | None = self.backend.context_window
        return window

    def _text(self, prompt: Prompt) -> tuple[str, bool]:
        """``(text, rendered by the chat template)``."""
        if isinstance(prompt, str) or not self.chat:
            return _as_plain(prompt), False
        return str(self.backend.render(prompt)), True

    def _encode(self, texts: list[str], templated: bool) -> Any:
        tokenizer = self.backend.tokenizer
        tokenizer.padding_side = "left"
        # A chat template writes its own special tokens; plain text gets the tokenizer's BOS (Gemma needs it).
        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not templated)
        return encoded.to(self.backend.model.device)

    def prompt_tokens(self, prompt: Prompt) -> int | None:
        self.load()
        text, templated = self._text(prompt)
        return len(self.backend.tokenizer(text, add_special_tokens=not templated)["input_ids"])

    def _batches(self, texts: list[str]) -> list[list[int]]:
        order = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
        return [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]

    # ---------------------------------------------------------------------------------------- scoring
    def _continuation_ids(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Token ids of ``context`` and of ``continuation`` after it, split as lm-evaluation-harness splits
        them: the whole text is encoded once and the continuation is what follows the context's tokens."""
        tokenizer = self.backend.tokenizer
        trailing = len(context) - len(context.rstrip(" "))
        if trailing:  # a space ending the context belongs to the continuation
            context, continuation = context[:-trailing], context[-trailing:] + continuation
        special = self._bos_ids()
        whole = special + tokenizer.encode(context + continuation, add_special_tokens=False)
        context_ids = special + tokenizer.encode(context, add_special_tokens=False)
        return whole[: len(context_ids)], whole[len(context_ids) :]

    def _bos_ids(self) -> list[int]:
        """The BOS token plain text starts with, where the tokenizer adds one (Gemma), else nothing."""
        tokenizer = self.backend.tokenizer
        probe = tokenizer("a", add_special_tokens=True)["input_ids"]
        bare = tokenizer("a", add_special_tokens=False)["input_ids"]
        return list(probe[: len(probe) - len(bare)]) if probe[len(probe) - len(bare) :] == bare else []

    def option_logprobs(self, prompts: Sequence[Prompt], letters: Sequence[str]) -> list[list[float]]:
        """Log-likelihood of the continuation ``" X"`` for every option letter X after each prompt.

        The context is encoded once per prompt; every option's continuation tokens are scored from the same
        forward pass when each is a single token (the usual case), else by a pass per option.
        """
        torch = require("torch")
        self.load()
        model = self.backend.model
        pad = self.backend.tokenizer.pad_token_id or 0
        scores: list[list[float]] = [[] for _ in prompts]
        rows: list[tuple[int, list[int], list[list[int]]]] = []
        for index, prompt in enumerate(prompts):
            text, _ = self._text(prompt)
            pairs = [self._continuation_ids(text, f" {letter}") for letter in letters]
            rows.append((index, pairs[0][0], [continuation for _, continuation in pairs]))
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i][1]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = [rows[i] for i in order[start : start + self.batch_size]]
                # Context plus the first token of each continuation: one pass scores all single-token options.
                longest = max(len(context) for _, context, _ in batch)
                ids = torch.full((len(batch), longest), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), longest), dtype=torch.long)
                for row, (_, context, _) in enumerate(batch):
                    ids[row, longest - len(context) :] = torch.tensor(context)
                    mask[row, longest - len(context) :] = 1
                ids, mask = ids.to(model.device), mask.to(model.device)
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                try:
                    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1).logits
                except TypeError:  # an architecture without logits_to_keep
                    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
                logprobs = torch.log_softmax(logits[:, -1, :].float(), dim=-1)
                for row, (index, context, continuations) in enumerate(batch):
                    values = []
                    for continuation in continuations:
                        if len(continuation) == 1:
                            values.append(float(logprobs[row, continuation[0]]))
                        else:
                            values.append(self._loglikelihood(context, continuation))
                    scores[index] = values
        return scores

    def _loglikelihood(self, context: list[int], continuation: list[int]) -> float:
        torch = require("torch")
        model = self.backend.model
        ids = torch.tensor([context + continuation], device=model.device)
        logits = model(input_ids=ids).logits[0, len(context) - 1 : -1, :].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        return float(sum(logprobs[position, token] for position, token in enumerate(continuation)))

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        stop_pattern: str | None = None,
    ) -> list[str]:
        torch = require("torch")
        self.load()
        tokenizer = self.backend.tokenizer
        rendered = [self._text(prompt) for prompt in prompts]
        texts = [text for text, _ in rendered]
        replies = [""] * len(texts)
        stop_ids = _eos_ids(tokenizer, self.backend.model)
        with torch.inference_mode():
            for batch in self._batches(texts):
                # Chat and plain prompts are not mixed in one batch by the runner; the first decides.
                encoded = self._encode([texts[i] for i in batch], rendered[batch[0]][1])
                length = encoded["input_ids"].shape[1]
                criteria = _stop_criteria(tokenizer, length, stop, stop_pattern)
                output = self.backend.model.generate(
                    **encoded,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=stop_ids,
                    stopping_criteria=criteria,
                )
                decoded = tokenizer.batch_decode(output[:, length:], skip_special_tokens=True)
                for row, index in enumerate(batch):
                    replies[index] = truncate_at_stop(decoded[row], stop)
        return replies


def _eos_ids(tokenizer: Any, model: Any) -> list[int]:
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return sorted(i for i in ids if isinstance(i, int))


def _stop_criteria(tokenizer: Any, prompt_length: int, stop: Sequence[str], stop_pattern: str | None) -> Any:
    """A stopping-criteria list that ends each sequence at a stop string or ``stop_pattern`` match."""
    transformers = require("transformers")
    torch = require("torch")
    if not stop and not stop_pattern:
        return transformers.StoppingCriteriaList()
    pattern = re.compile(stop_pattern) if stop_pattern else None
    window = 48  # tokens decoded per check: enough for every stop string and "The answer is N."

    class _StopOnText(transformers.StoppingCriteria):  # type: ignore[misc, name-defined]
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            generated = input_ids[:, prompt_length:]
            tails = tokenizer.batch_decode(generated[:, -window:], skip_special_tokens=True)
            done = [any(marker in tail for marker in stop) or bool(pattern and pattern.search(tail)) for tail in tails]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return transformers.StoppingCriteriaList([_StopOnText()])


class EndpointTestingModel(TestingModel):
    """An OpenAI-compatible chat endpoint (generation only)."""

    def __init__(self, base_url: str, model: str | None = None, *, label: str | None = None) -> None:
        from ..backends.openai_compat import OpenAICompatibleBackend

        self.backend = OpenAICompatibleBackend(base_url, model=model)
        self.key = self.backend.model_id
        self.label = label or (model or base_url)

    @property
    def chat(self) -> bool:
        return True

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        stop_pattern: str | None = None,
    ) -> list[str]:
        from ..backends.base import GenerationParams

        conversations: list[Any] = [
            [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt for prompt in prompts
        ]
        replies = self.backend.generate(conversations, GenerationParams(max_new_tokens=max_new_tokens))
        return [truncate_at_stop(reply[0] if reply else "", stop) for reply in replies]


class VLLMTestingModel(TestingModel):
    """The vLLM offline engine: batched generation with stop strings; option letters from top-20 logprobs."""

    supports_logprobs = True

    def __init__(self, model: str, *, label: str | None = None) -> None:
        self.spec = model
        self.key = f"vllm:{_model_key(model)}"
        self.label = label or _default_label(model)
        self.backend: Any = None

    def load(self) -> None:
        if self.backend is None:
            from ..backends.vllm_offline import VLLMBackend

            self.backend = VLLMBackend(self.spec)

    def close(self) -> None:
        self.backend = None

    @property
    def chat(self) -> bool:
        self.load()
        return bool(getattr(self.backend.engine.get_tokenizer(), "chat_template", None))

    def _texts(self, prompts: Sequence[Prompt]) -> list[str]:
        tokenizer = self.backend.engine.get_tokenizer()
        if not getattr(tokenizer, "chat_template", None):
            return [_as_plain(p) for p in prompts]
        return [
            p
            if isinstance(p, str)
            else str(tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True))
            for p in prompts
        ]

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        stop_pattern: str | None = None,
    ) -> list[str]:
        self.load()
        params = self.backend._vllm.SamplingParams(temperature=0.0, max_tokens=max_new_tokens, stop=list(stop) or None)
        outputs = self.backend.engine.generate(self._texts(prompts), params, use_tqdm=False)
        return [truncate_at_stop(output.outputs[0].text, stop) for output in outputs]

    def option_logprobs(self, prompts: Sequence[Prompt], letters: Sequence[str]) -> list[list[float]]:
        self.load()
        tokenizer = self.backend.engine.get_tokenizer()
        params = self.backend._vllm.SamplingParams(temperature=0.0, max_tokens=1, logprobs=20)
        outputs = self.backend.engine.generate(self._texts(prompts), params, use_tqdm=False)
        scores = []
        for output in outputs:
            top = output.outputs[0].logprobs[0]  # token id -> Logprob
            by_letter = {letter: -math.inf for letter in letters}
            for token_id, entry in top.items():
                text = tokenizer.decode([token_id]).strip()
                if text in by_letter:
                    by_letter[text] = float(math.log(math.exp(by_letter[text]) + math.exp(entry.logprob)))
            scores.append([by_letter[letter] for letter in letters])
        return scores


def _default_label(spec: str) -> str:
    if spec.startswith("embedded:"):
        return spec.split(":", 1)[1]
    return Path(spec.rstrip("/")).name or spec


def _model_key(spec: str) -> str:
    """``spec``, plus a content hash for a local directory (so retrained weights are not mixed up)."""
    path = Path(spec).expanduser()
    if not spec.startswith("embedded:") and path.is_dir():
        from ..models import directory_fingerprint

        return f"{path.resolve()}@{directory_fingerprint(path)}"
    return spec


def make_testing_model(
    spec: str, *, device: str | None = None, batch_size: int = 8, dtype: str = "auto"
) -> TestingModel:
    """Build a testing model from ``[LABEL=]SPEC`` (see the module docstring)."""
    label: str | None = None
    if "=" in spec and not spec.split("=", 1)[0].startswith(("http", "openai:", "vllm:", "/", ".")):
        label, spec = spec.split("=", 1)
    if not spec:
        raise ValueError("empty testing-model spec; use e.g. embedded:smollm2-135m-instruct")
    endpoint = spec[len("openai:") :] if spec.startswith("openai:") else spec
    if endpoint.startswith(("http://", "https://")):
        url, _, name = endpoint.partition("#")
        return EndpointTestingModel(url, name or None, label=label)
    if spec.startswith("vllm:"):
        return VLLMTestingModel(spec[len("vllm:") :], label=label)
    return TransformersTestingModel(spec, label=label, device=device, batch_size=batch_size, dtype=dtype)
