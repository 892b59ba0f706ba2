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
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._deps import require
from ..backends import GenerationParams, load_backend, release_backend
from ..backends.base import cut_at_stop
from ..models import DEFAULT_MODEL
from ..precision import normalise_dtype
from ..spec import ModelSpec

__all__ = [
    "EndpointTestingModel",
    "Prompt",
    "TestingModel",
    "TransformersTestingModel",
    "VLLMTestingModel",
    "make_testing_model",
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

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        stop_pattern: str | None = None,
    ) -> list[str]:
        """Greedy replies, each cut at its first stop string and stripped; ``stop_pattern`` may end generation
        early. Subclasses implement :meth:`_complete`."""
        self.load()
        params = GenerationParams(max_new_tokens=max_new_tokens, stop=tuple(stop))
        return [reply.strip() for reply in self._complete(list(prompts), params, stop_pattern)] if prompts else []

    def _complete(self, prompts: list[Prompt], params: GenerationParams, stop_pattern: str | None) -> list[str]:
        """One greedy reply a prompt, cut before the first of ``params.stop``."""
        raise NotImplementedError(f"{type(self).__name__} implements neither generate nor _complete")

    def option_logprobs(self, prompts: Sequence[Prompt], letters: Sequence[str]) -> list[list[float]]:
        """Log-likelihood of each option letter, as the continuation ``" X"`` after each prompt."""
        raise NotImplementedError(f"{type(self).__name__} cannot score option log-probabilities")

    def prompt_tokens(self, prompt: Prompt) -> int | None:
        """Tokens the prompt takes as the model sees it, or ``None`` when unknown."""
        return None

    @property
    def context_window(self) -> int | None:
        return None


class _LocalTestingModel(TestingModel):
    """A model whose weights this process loads, on first use, from the shared backend registry."""

    supports_logprobs = True
    spec: str
    model_spec: ModelSpec
    backend: Any = None

    def load(self) -> None:
        if self.backend is None:
            self.backend = load_backend(self.model_spec)

    def close(self) -> None:
        self.backend = None
        release_backend(self.model_spec)

    @property
    def chat(self) -> bool:
        """Whether the tokenizer has a chat template (else prompts go in as plain text)."""
        self.load()
        return bool(getattr(self._tokenizer(), "chat_template", None))

    @abstractmethod
    def _tokenizer(self) -> Any:
        """The tokenizer of the loaded backend."""


class TransformersTestingModel(_LocalTestingModel):
    """A local transformers causal LM, in the precision the device runs best (see
    :mod:`fipo_integrations.precision`), batched, longest prompts first."""

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
        self.model_spec = ModelSpec.parse(spec, device=device, dtype=dtype, batch_size=batch_size)
        self.label = label or self.model_spec.default_label
        # An explicit precision is part of the identity: cached results of another precision are not reused.
        self.key = _model_key(spec) + ("" if dtype in ("auto", "", None) else f"@{normalise_dtype(dtype)}")
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size

    # ---------------------------------------------------------------------------------------- loading
    def load(self) -> None:
        first = self.backend is None
        super().load()
        if first:
            logger.info("loaded %s in %.1f s (chat template: %s)", self.label, self.backend.load_seconds, self.chat)

    def _tokenizer(self) -> Any:
        return self.backend.tokenizer

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

    def prompt_tokens(self, prompt: Prompt) -> int | None:
        self.load()
        text, templated = self._text(prompt)
        return len(self.backend.tokenizer(text, add_special_tokens=not templated)["input_ids"])

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

    def _complete(self, prompts: list[Prompt], params: GenerationParams, stop_pattern: str | None) -> list[str]:
        # Chat and plain prompts are not mixed in one call by the runner; the first decides the special tokens.
        rendered = [self._text(prompt) for prompt in prompts]
        texts = [text for text, _ in rendered]
        replies = self.backend.complete(texts, params, add_special_tokens=not rendered[0][1], stop_pattern=stop_pattern)
        return [reply[0] for reply in replies]


class EndpointTestingModel(TestingModel):
    """An OpenAI-compatible chat endpoint (generation only)."""

    def __init__(self, base_url: str, model: str | None = None, *, label: str | None = None) -> None:
        self.backend = load_backend(ModelSpec(model=model, base_url=base_url))
        self.key = self.backend.model_id
        self.label = label or (model or base_url)

    @property
    def chat(self) -> bool:
        return True

    def _complete(self, prompts: list[Prompt], params: GenerationParams, stop_pattern: str | None) -> list[str]:
        conversations: list[Any] = [[{"role": "user", "content": p}] if isinstance(p, str) else p for p in prompts]
        return [reply[0] if reply else "" for reply in self.backend.generate(conversations, params)]


class VLLMTestingModel(_LocalTestingModel):
    """The vLLM offline engine: batched generation with stop strings; option letters from top-20 logprobs."""

    def __init__(self, model: str, *, label: str | None = None) -> None:
        self.spec = model
        self.model_spec = ModelSpec(model=model, backend="vllm")
        self.key = f"vllm:{_model_key(model)}"
        self.label = label or self.model_spec.default_label

    def _tokenizer(self) -> Any:
        return self.backend.engine.get_tokenizer()

    def _texts(self, prompts: Sequence[Prompt]) -> list[str]:
        tokenizer = self._tokenizer()
        if not getattr(tokenizer, "chat_template", None):
            return [_as_plain(p) for p in prompts]
        return [
            p
            if isinstance(p, str)
            else str(tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True))
            for p in prompts
        ]

    def _complete(self, prompts: list[Prompt], params: GenerationParams, stop_pattern: str | None) -> list[str]:
        sampling = self.backend._vllm.SamplingParams(
            temperature=0.0, max_tokens=params.max_new_tokens, stop=list(params.stop) or None
        )
        outputs = self.backend.engine.generate(self._texts(prompts), sampling, use_tqdm=False)
        return [cut_at_stop(output.outputs[0].text, params.stop) for output in outputs]

    def option_logprobs(self, prompts: Sequence[Prompt], letters: Sequence[str]) -> list[list[float]]:
        self.load()
        tokenizer = self._tokenizer()
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
    """Build a testing model from ``[LABEL=]SPEC`` (the grammar of :mod:`fipo_integrations.spec`)."""
    model = ModelSpec.parse(spec, device=device, batch_size=batch_size, dtype=dtype)
    backend = model.resolved_backend
    if backend == "openai":
        return EndpointTestingModel(str(model.base_url), model.model, label=model.label)
    if backend == "vllm":
        return VLLMTestingModel(str(model.model), label=model.label)
    if backend == "llamacpp" or model.adapter is not None:
        raise ValueError(
            f"testing model {spec!r}: llama.cpp models and adapter directories are not supported as testing models; "
            "use embedded:NAME, a model directory or hub id, URL#MODEL or vllm:PATH"
        )
    return TransformersTestingModel(
        model.model or DEFAULT_MODEL, label=model.label, device=device, batch_size=batch_size, dtype=dtype
    )
