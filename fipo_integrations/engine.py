"""The FIPO engine: render the template, generate on a backend, clean, guard, cache.

>>> from fipo_integrations import PromptOptimizer
>>> optimizer = PromptOptimizer()  # embedded Qwen2.5-Coder-0.5B + bundled adapter, on CPU  # doctest: +SKIP
>>> result = optimizer.optimize("Answer the question: {question}")  # doctest: +SKIP
>>> "{question}" in result.optimized  # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from . import models as defaults
from ._async import in_executor
from ._isolation import InvalidItem, generate_shared
from .backends import Backend, GenerationParams, load_backend
from .cache import RewriteCache, SingleFlight, make_cache_key
from .cleaning import clean_rewrite
from .exemplars import ExemplarPool
from .guard import GuardConfig, GuardVerdict, check_rewrite
from .guard.scope import append_statements, continue_original, form_statements
from .judge import duel_wins, judge_pairs
from .results import OptimizationRequest, OptimizationResult
from .spec import BackendName, ModelSpec
from .templates import TEMPLATE_VERSION, ChatMessage, render_optimizer_messages
from .validation import check_max_words

__all__ = ["OptimizationRequest", "OptimizationResult", "PromptOptimizer"]

logger = logging.getLogger(__name__)

#: Sampling temperature for the extra candidates when the engine itself is greedy.
_CANDIDATE_TEMPERATURE = 0.7
#: Words a reply may run past the guard's word limit before generation stops: a chat preamble or sign-off
#: that cleaning cuts (e.g. "Sure, here is a clearer version of your prompt:").
_CLEANING_SLACK_WORDS = 24


class PromptOptimizer:
    """Turns naive prompts into optimized ones with a local FIPO model; never silently makes them worse.

    Args:
        model: ``None``/``"default"`` (embedded Qwen2.5-Coder-0.5B + bundled FIPO adapter),
            ``"embedded:NAME"``, a local directory or hub id, a model name on the endpoint when ``base_url`` is
            set, or a :class:`~fipo_integrations.backends.Backend`, or any spec string or
            :class:`~fipo_integrations.spec.ModelSpec`; the model is shared through
            :func:`~fipo_integrations.backends.load_backend`.
        adapter: PEFT LoRA adapter directory for a local model.
        base_url: OpenAI-compatible endpoint (vLLM server, llama.cpp server, Ollama).
        backend: ``"auto"``, ``"transformers"``, ``"openai"``, ``"vllm"`` or ``"llamacpp"``.
        cache: ``True`` for the shared on-disk cache, ``False`` for none, a path, or a :class:`RewriteCache`.
        temperature, seed, max_new_tokens: decoding (greedy by default, so results are deterministic).
        judge: also ask the discriminator template whether the rewrite beats the original (both orders).
        num_candidates: rewrites per prompt: the greedy one plus ``num_candidates - 1`` sampled ones (at
            ``temperature`` or 0.7); ``optimize`` returns the first that passes guard (and judge).
        guard: a :class:`GuardConfig` to tune the checks. ``None``: the defaults, in the ``"append"`` scope for the
            default model (only a short statement of the reply's form may be added) and ``"free"`` for any other.
        exemplars: worked examples shown before each prompt (an :class:`~fipo_integrations.exemplars.ExemplarPool`,
            or ``"bundled"`` for the package's pool); helps a plain instruct model imitate concise rewrites.
        prefill: start the model's reply with the original prompt, so that it writes only what to add (the
            append scope's way to generate: fewer tokens, and no restatement that changes the task). ``None``:
            on in the ``"append"`` scope where the backend can continue a reply (the transformers backend).
        stop_probability: with prefill, the model adds nothing when its probability of adding nothing is at least
            this (``GenerationParams.first_stop_probability``): it changes a prompt only when it is confident.
            ``None``: ``DEFAULT_STOP_PROBABILITY`` for the default model, off for any other; ``1.0`` turns it off.

    In the ``"append"`` scope, a rewrite the scope rejects still gives its statements of the reply's form
    ("Reply with the code only."): the engine appends them to the original and guards that instead.

    >>> optimizer = PromptOptimizer(cache=False)  # doctest: +SKIP
    >>> optimizer.optimize("Summarise {text}").optimized  # doctest: +SKIP
    'Summarise {text} in two sentences that keep its main claim and its conclusion.'
    """

    def __init__(
        self,
        model: str | Path | ModelSpec | Backend | None = None,
        *,
        adapter: str | Path | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        backend: BackendName = "auto",
        device: str | None = None,
        cache: bool | str | Path | RewriteCache = True,
        temperature: float = 0.0,
        seed: int | None = 0,
        max_new_tokens: int = 256,
        judge: bool = False,
        num_candidates: int = 1,
        guard: GuardConfig | None = None,
        trust_remote_code: bool = False,
        exemplars: ExemplarPool | Literal["bundled"] | None = None,
        prefill: bool | None = None,
        stop_probability: float | None = None,
    ) -> None:
        self.params = GenerationParams(
            max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, stop_on_loop=True
        )
        fields: dict[str, Any] = {"adapter": adapter, "base_url": base_url, "api_key": api_key, "device": device}
        default_model = False
        if isinstance(model, Backend):
            self.backend: Backend = model
        else:
            spec = ModelSpec.from_options(model, backend=backend, trust_remote_code=trust_remote_code, **fields)
            default_model = spec.is_default and defaults.bundled_adapter_dir() is not None
            self.backend = load_backend(spec)
        if cache is True:
            self.cache: RewriteCache | None = RewriteCache.default()
        elif cache is False or cache is None:
            self.cache = None
        elif isinstance(cache, RewriteCache):
            self.cache = cache
        else:
            self.cache = RewriteCache(cache)
        self.judge = judge
        if not isinstance(num_candidates, int) or num_candidates < 1:
            raise ValueError(f"num_candidates must be a positive int, got {num_candidates!r}")
        self.num_candidates = num_candidates
        self.guard = guard or (defaults.default_guard() if default_model else GuardConfig())
        self.exemplars = ExemplarPool.bundled() if exemplars == "bundled" else exemplars
        if self.exemplars is not None and not isinstance(self.exemplars, ExemplarPool):
            raise TypeError(f"exemplars must be an ExemplarPool, 'bundled' or None, got {exemplars!r}")
        if prefill and not self.backend.supports_prefill:
            raise ValueError(
                f"prefill=True needs a backend that continues a reply; {type(self.backend).__name__} does not "
                "(use the transformers backend, or prefill=None)"
            )
        self.prefill = self.guard.scope == "append" and self.backend.supports_prefill if prefill is None else prefill
        if stop_probability is not None and not 0.0 < stop_probability <= 1.0:
            raise ValueError(f"stop_probability must be in (0, 1] or None, got {stop_probability!r}")
        if stop_probability is None and default_model:
            stop_probability = defaults.DEFAULT_STOP_PROBABILITY
        if self.prefill and stop_probability is not None and stop_probability < 1.0:
            self.params = replace(self.params, first_stop_probability=stop_probability)
        # Concurrent identical cache misses (threads, async callers) generate once and share the reply.
        self._flights = SingleFlight()

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    # ----------------------------------------------------------------------------------------- public API
    def optimize(
        self,
        prompt: str,
        *,
        silver_response: str | None = None,
        golden_response: str | None = None,
        max_words: int | None = None,
    ) -> OptimizationResult:
        """Optimize one prompt; see the class docstring."""
        request = OptimizationRequest(prompt, silver_response, golden_response, max_words)
        return self.optimize_batch([request])[0]

    def optimize_batch(
        self, prompts: Sequence[str | OptimizationRequest], *, max_words: int | None = None
    ) -> list[OptimizationResult]:
        """Optimize many prompts with one batched generate call for all cache misses.

        Items are isolated: a string that is not valid prompt text (empty, a lone surrogate) and an item the
        backend fails on come back as the original with ``error`` set, while the others are optimized. Only
        an item that is not a ``str``/``OptimizationRequest``, or a backend that fails on every item, raises.

        >>> from fipo_integrations.testing import ScriptedBackend
        >>> optimizer = PromptOptimizer(ScriptedBackend(lambda p: p + " Be brief."), cache=False)
        >>> [(r.optimized, r.error is not None) for r in optimizer.optimize_batch(["Define {x}.", " "])]
        [('Define {x}. Be brief.', False), (' ', True)]
        """
        items = self._requests(prompts, max_words)
        requests = [item for item in items if isinstance(item, OptimizationRequest)]
        if self.num_candidates == 1:
            results = [group[0] for group in self._run(requests, self.params)] if requests else []
        else:
            groups = self.candidates_batch(
                requests,
                num_candidates=self.num_candidates,
                temperature=self.params.temperature or _CANDIDATE_TEMPERATURE,
            )
            results = [self._first_accepted(group) for group in groups]
        merged = iter(results)
        return [next(merged) if isinstance(item, OptimizationRequest) else self._invalid(item) for item in items]

    @staticmethod
    def _first_accepted(group: list[OptimizationResult]) -> OptimizationResult:
        """The first accepted candidate (greedy first), else the greedy fallback."""
        return next((result for result in group if result.accepted), group[0])

    def candidates(
        self,
        prompt: str | OptimizationRequest,
        *,
        num_candidates: int = 4,
        temperature: float = _CANDIDATE_TEMPERATURE,
        seed: int | None = None,
    ) -> list[OptimizationResult]:
        """Several rewrites of one prompt: the greedy one first, then ``num_candidates - 1`` sampled ones."""
        return self.candidates_batch([prompt], num_candidates=num_candidates, temperature=temperature, seed=seed)[0]

    def candidates_batch(
        self,
        prompts: Sequence[str | OptimizationRequest],
        *,
        num_candidates: int = 4,
        temperature: float = _CANDIDATE_TEMPERATURE,
        seed: int | None = None,
    ) -> list[list[OptimizationResult]]:
        """:meth:`candidates` for many prompts, batched on the backend."""
        if num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
        items = self._requests(prompts, None)
        requests = [item for item in items if isinstance(item, OptimizationRequest)]
        if len(requests) < len(items):
            valid = iter(
                self.candidates_batch(requests, num_candidates=num_candidates, temperature=temperature, seed=seed)
            )
            return [next(valid) if isinstance(item, OptimizationRequest) else [self._invalid(item)] for item in items]
        greedy = self._run(requests, replace(self.params, temperature=0.0, num_candidates=1))
        if num_candidates == 1:
            return greedy
        sampled_params = replace(
            self.params,
            temperature=temperature if temperature > 0 else _CANDIDATE_TEMPERATURE,
            num_candidates=num_candidates - 1,
            seed=self.params.seed if seed is None else seed,
        )
        sampled = self._run(requests, sampled_params)
        return [first + rest for first, rest in zip(greedy, sampled, strict=True)]

    #: Async :meth:`optimize` / :meth:`optimize_batch`: the same call in an executor, with the caller's context
    #: variables (e.g. tracing), so the event loop is never blocked.
    aoptimize = in_executor(optimize)
    aoptimize_batch = in_executor(optimize_batch)

    def judge_pair(
        self, raw_prompt: str, prompt_a: str, prompt_b: str, *, golden_response: str | None = None
    ) -> Literal["A", "B"] | None:
        """Ask the discriminator template which of two rewrites is better (one order)."""
        return judge_pairs(self.backend, [(raw_prompt, prompt_a, prompt_b, golden_response)])[0]

    # ------------------------------------------------------------------------------------------ internals
    @staticmethod
    def _requests(
        prompts: Sequence[str | OptimizationRequest], max_words: int | None
    ) -> list[OptimizationRequest | InvalidItem]:
        """Requests, with each string that is not valid prompt text kept as an :class:`InvalidItem`."""
        if isinstance(prompts, str):
            raise TypeError("optimize_batch takes a list of prompts; for one prompt use optimize()")
        check_max_words(max_words)
        requests: list[OptimizationRequest | InvalidItem] = []
        for position, item in enumerate(prompts):
            if isinstance(item, OptimizationRequest):
                requests.append(item)
            elif isinstance(item, str):
                try:
                    requests.append(OptimizationRequest(item, max_words=max_words))
                except (TypeError, ValueError) as exc:
                    requests.append(InvalidItem(item, max_words, str(exc)))
            else:
                raise TypeError(
                    f"item {position} of the batch is a {type(item).__name__}; each prompt must be a str or an "
                    "OptimizationRequest (convert it with str() or drop it)"
                )
        return requests

    def _invalid(self, item: OptimizationRequest | InvalidItem) -> OptimizationResult:
        assert isinstance(item, InvalidItem)
        return OptimizationResult(
            original=item.text,
            optimized=item.text,
            candidate="",
            accepted=False,
            reason=f"invalid input: {item.message}",
            variant="none",
            max_words=item.max_words or 0,
            model_id=self.backend.model_id,
            error=item.message,
        )

    def _render(self, prompt: str, silver: str | None, golden: str | None, budget: int | None) -> list[ChatMessage]:
        messages = render_optimizer_messages(prompt, silver_response=silver, golden_response=golden, max_words=budget)
        if self.exemplars is not None:
            messages = self.exemplars.messages(prompt, messages)
        if self.prefill:  # the reply starts as the original; the model writes what follows
            messages = [*messages, {"role": "assistant", "content": prompt}]
        return messages

    def _fit_to_context(self, request: OptimizationRequest) -> tuple[list[ChatMessage] | None, list[str]]:
        """Render; cut silver/golden responses to fit the context window. ``None`` if the prompt can't fit."""
        messages = self._render(request.prompt, request.silver_response, request.golden_response, request.budget)
        window = self.backend.context_window
        if window is None:
            return messages, []
        limit = window - self.params.max_new_tokens
        used = self.backend.count_tokens(messages)
        if used is None or used <= limit:
            return messages, []
        truncated: list[str] = []
        silver, golden = request.silver_response, request.golden_response
        for _ in range(8):  # shrink the data (responses), never the instruction
            if not silver and not golden:
                break
            ratio = max(0.0, min(0.9, limit / used) - 0.05)
            if silver:
                silver = silver[: int(len(silver) * ratio)] if ratio > 0.05 else None
            if golden:
                golden = golden[: int(len(golden) * ratio)] if ratio > 0.05 else None
            messages = self._render(request.prompt, silver, golden, request.budget)
            used = self.backend.count_tokens(messages) or 0
            if used <= limit:
                break
        if request.silver_response and silver != request.silver_response:
            truncated.append(f"silver_response cut to {len(silver or '')} of {len(request.silver_response)} chars")
        if request.golden_response and golden != request.golden_response:
            truncated.append(f"golden_response cut to {len(golden or '')} of {len(request.golden_response)} chars")
        if truncated:
            logger.warning("Optimizer input exceeded the model's context (%d tokens): %s", window, "; ".join(truncated))
        if used > limit:
            return None, truncated
        return messages, truncated

    def _request_params(self, request: OptimizationRequest, params: GenerationParams) -> GenerationParams:
        """``params`` with ``max_words`` set past the guard's word limit for this request's budget (room for a
        chat preamble or sign-off that cleaning cuts), or unchanged when the guard checks no length."""
        if params.max_words is not None:
            return params
        if self.prefill:  # only the continuation is generated, and the scope allows it max_added_words
            return replace(params, max_words=self.guard.max_added_words + _CLEANING_SLACK_WORDS // 2)
        limit = self.guard.word_limit(request.budget)
        if limit is None:
            return params
        return replace(params, max_words=limit + _CLEANING_SLACK_WORDS)

    def _cache_key(self, messages: list[ChatMessage], params: GenerationParams) -> str:
        return make_cache_key(
            {
                "model": self.backend.model_id,
                "template": TEMPLATE_VERSION,
                "messages": messages,
                "params": params.as_key(),
            }
        )

    def _run(self, requests: list[OptimizationRequest], params: GenerationParams) -> list[list[OptimizationResult]]:
        started = time.perf_counter()
        rendered: list[tuple[list[ChatMessage] | None, list[str]]] = []
        render_errors: dict[int, str] = {}  # items the tokenizer failed on (a batch of one re-raises)
        for index, request in enumerate(requests):
            try:
                rendered.append(self._fit_to_context(request))
            except Exception as exc:
                if len(requests) == 1:
                    raise
                render_errors[index] = f"{type(exc).__name__}: {exc}"
                rendered.append((None, []))
        replies: list[list[str] | None] = [None] * len(requests)
        from_cache = [False] * len(requests)
        keys: list[str | None] = [None] * len(requests)
        misses: list[int] = []
        # Each request stops a little past the guard's word limit: a longer rewrite would be rejected anyway.
        request_params = [self._request_params(request, params) for request in requests]
        for index, (messages, _) in enumerate(rendered):
            if messages is None:
                continue
            keys[index] = self._cache_key(messages, request_params[index])
            cached = self.cache.get(keys[index]) if self.cache is not None else None  # type: ignore[arg-type]
            if cached is not None and len(cached) == params.num_candidates:
                replies[index], from_cache[index] = cached, True
            else:
                misses.append(index)
        generate_started = time.perf_counter()
        failures: dict[str, str] = {}
        if misses:
            # Identical requests in one batch are generated once, and the batch in one backend call that stops at
            # the largest word limit among them (a longer reply is over its own limit either way).
            unique: dict[str, list[ChatMessage]] = {}
            for index in misses:
                unique.setdefault(keys[index], rendered[index][0])  # type: ignore[arg-type]
            caps = [request_params[index].max_words for index in misses]
            batch_params = params if None in caps else replace(params, max_words=max(c for c in caps if c))
            by_key, failures = generate_shared(self.backend, self.cache, self._flights, unique, batch_params)
            for index in misses:
                replies[index] = by_key.get(keys[index])  # type: ignore[arg-type]
        generate_seconds = time.perf_counter() - generate_started
        guard_started = time.perf_counter()
        groups: list[list[OptimizationResult]] = []
        for index, request in enumerate(requests):
            messages, truncated = rendered[index]
            error = render_errors.get(index) or failures.get(keys[index])  # type: ignore[arg-type]
            if error is not None:
                failed = self._fallback(request, "", f"error: {error}", truncated)
                failed.error = error
                groups.append([failed])
                continue
            if messages is None:
                groups.append([self._fallback(request, "", "prompt longer than the model's context window", truncated)])
                continue
            group = []
            for raw in replies[index] or [""]:
                if self.prefill:
                    raw = continue_original(request.prompt, raw)
                result = self._guarded(request, clean_rewrite(raw, original=request.prompt), truncated)
                result.cached = from_cache[index]
                group.append(result)
            groups.append(group)
        guard_seconds = time.perf_counter() - guard_started
        judge_seconds = self._apply_judge(requests, groups) if self.judge else 0.0
        total = time.perf_counter() - started
        for group in groups:
            for result in group:
                result.timings = {
                    "generate": generate_seconds,
                    "guard": guard_seconds,
                    "judge": judge_seconds,
                    "total": total,
                }
        return groups

    def _guarded(self, request: OptimizationRequest, candidate: str, truncated: list[str]) -> OptimizationResult:
        """The result of guarding ``candidate``; in the append scope, a rejected candidate's statements of the
        reply's form, appended to the original, get a second check."""

        def check(text: str) -> GuardVerdict:
            return check_rewrite(
                request.prompt,
                text,
                max_words=request.budget,
                golden_response=request.golden_response,
                config=self.guard,
            )

        verdict = check(candidate)
        if verdict.accepted:
            return self._result(request, candidate, candidate, True, None, truncated)
        if self.guard.scope == "append":
            statements = form_statements(
                request.prompt, candidate, self.guard.max_added_words, length_caps=self.guard.length_caps
            )
            kept = append_statements(request.prompt, statements) if statements else None
            if kept is not None and check(kept).accepted:
                logger.debug("Kept the form statements %r of a rejected rewrite (%s)", statements, verdict.reason)
                return self._result(request, kept, kept, True, None, truncated)
        result = self._fallback(request, candidate, f"guard: {verdict.reason}", truncated)
        result.guard_reasons = list(verdict.reasons)
        return result

    def _result(
        self,
        request: OptimizationRequest,
        optimized: str,
        candidate: str,
        accepted: bool,
        reason: str | None,
        truncated: list[str],
    ) -> OptimizationResult:
        return OptimizationResult(
            original=request.prompt,
            optimized=optimized,
            candidate=candidate,
            accepted=accepted,
            reason=reason,
            variant=request.variant,
            max_words=request.budget,
            model_id=self.backend.model_id,
            truncated=list(truncated),
        )

    def _fallback(
        self, request: OptimizationRequest, candidate: str, reason: str, truncated: list[str]
    ) -> OptimizationResult:
        return self._result(request, request.prompt, candidate, False, reason, truncated)

    def _apply_judge(self, requests: list[OptimizationRequest], groups: list[list[OptimizationResult]]) -> float:
        """Keep a guarded rewrite only if the judge prefers it in both A/B orders (cancels position bias)."""
        started = time.perf_counter()
        pending = [
            (request, result)
            for request, group in zip(requests, groups, strict=True)
            for result in group
            if result.accepted
        ]
        if not pending:
            return 0.0
        duels = [(req.prompt, result.candidate, req.prompt, req.golden_response) for req, result in pending]
        for (_, result), wins in zip(pending, duel_wins(self.backend, duels), strict=True):
            if wins == 2:
                result.judge_choice = "rewrite"
            else:
                result.judge_choice = "original"
                result.accepted = False
                result.optimized = result.original
                result.reason = "judge preferred the original prompt"
        return time.perf_counter() - started
