"""``FIPOOptimizer``: a LangChain runnable that optimizes the instruction of a prompt on its way to the model.

>>> from langchain_core.prompts import ChatPromptTemplate
>>> from fipo_integrations import PromptOptimizer
>>> from fipo_integrations.testing import ScriptedBackend
>>> optimizer = PromptOptimizer(ScriptedBackend(lambda p: p + " Be concise."), cache=False)
>>> fipo = FIPOOptimizer(optimizer=optimizer)
>>> prompt = ChatPromptTemplate.from_messages([("system", "You are terse."), ("human", "Define {term}.")])
>>> (prompt | fipo).invoke({"term": "entropy"}).to_messages()[-1].content
'Define entropy. Be concise.'
>>> fipo.optimize_template(prompt).messages[1].prompt.template
'Define {term}. Be concise.'
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.language_models import BaseChatModel
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import (
    get_callback_manager_for_config,
    get_config_list,
    patch_config,
)
from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .._async import in_executor
from ..engine import OptimizationRequest, PromptOptimizer
from ..validation import check_max_words, check_text
from ._messages import Roles
from ._plans import Outcome, Plan, assemble, naive_value, plan_inputs
from ._templates import TemplateT, apply_template_rewrites, golden_from_examples, template_slots
from .chat_models import ChatModelBackend, nested_under, output_text

__all__ = ["FIPOInput", "FIPOOptimizer"]

logger = logging.getLogger("fipo_integrations.langchain")

#: What the runnable takes: a prompt value, a plain string, or a list of messages (or message-likes).
FIPOInput = PromptValue | str | Sequence[Any]

_SILVER_CACHE_SIZE = 1024
#: The warning's tail when the optimizer fails (the input then passes through unchanged).
_PASS_THROUGH = "the optimizer failed; passing the original prompt through"
_OPTIMIZER_OPTIONS = frozenset(inspect.signature(PromptOptimizer.__init__).parameters) - {
    "self",
    "model",
    "adapter",
    "base_url",
    "api_key",
}


class FIPOOptimizer(RunnableSerializable[FIPOInput, PromptValue]):  # type: ignore[misc]
    """Optimizes a prompt's instruction with a local FIPO model: ``prompt | FIPOOptimizer() | llm``.

    Input: a ``str``, a ``PromptValue`` (string or chat) or a list of messages; output: a prompt value of the
    same kind (a ``str`` becomes a ``StringPromptValue``, a message list a ``ChatPromptValue``) whose
    instruction is rewritten when the guard accepts the rewrite. Only text changes: image, tool and other
    content blocks, message ids, names and metadata pass through, and inputs are never mutated.

    ``batch``/``abatch`` send every instruction of every input to the backend in one generate call;
    ``ainvoke``/``abatch`` run the local model in an executor. Each call is traced as a run named
    ``FIPOOptimizer`` whose outputs hold ``output`` (the prompt) and ``fipo`` (per instruction: original,
    optimized, accepted, the guard's reason). On an optimizer error the original prompt passes through with
    a warning and ``fipo.error`` says why, unless ``on_error="raise"``.

    >>> from fipo_integrations import PromptOptimizer
    >>> from fipo_integrations.testing import ScriptedBackend
    >>> fipo = FIPOOptimizer(optimizer=PromptOptimizer(ScriptedBackend(lambda p: p + " Think step by step."),
    ...     cache=False))
    >>> fipo.invoke("Solve 12 * 7.").to_string()
    'Solve 12 * 7. Think step by step.'
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model: str | Path | BaseChatModel | None = None
    """The optimizer model: ``None`` for the embedded default (Qwen2.5-Coder-0.5B + bundled FIPO adapter), a local
    directory or cached hub id, a model name served at ``base_url``, or any LangChain ``BaseChatModel``
    (for example ``ChatOllama(model="fipo")``). Ignored when ``optimizer`` is given."""

    adapter: str | Path | None = None
    """A PEFT LoRA adapter directory to apply to a local ``model``."""

    base_url: str | None = None
    """An OpenAI-compatible endpoint serving the optimizer (vLLM, llama.cpp server, Ollama)."""

    api_key: str | None = Field(default=None, repr=False)
    """API key for ``base_url``, when the endpoint needs one."""

    optimizer: PromptOptimizer | None = Field(default=None, exclude=True)
    """An existing :class:`~fipo_integrations.PromptOptimizer` to use instead of building one."""

    optimizer_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra arguments for the built ``PromptOptimizer`` (``max_new_tokens``, ``judge``, ``cache``...)."""

    roles: Roles = "human"
    """Which messages hold the instruction: ``"human"`` (the last human message), ``"system"`` (every
    system message) or ``"all"`` (both). A string prompt is always rewritten as a whole."""

    max_words: int | None = None
    """Word budget for each rewrite; ``None`` lets the engine pick one from the instruction's length."""

    silver_from: Runnable[Any, Any] | None = Field(default=None, exclude=True)
    """A downstream model to run once per distinct instruction on the naive prompt; its answer is the paper's
    *silver response*, showing the optimizer what the naive prompt yields."""

    on_error: Literal["pass", "raise"] = "pass"
    """``"pass"``: on an optimizer error pass the original prompt through (warning logged, reason traced);
    ``"raise"``: re-raise the error."""

    _optimizer: PromptOptimizer | None = PrivateAttr(default=None)
    _silver_cache: OrderedDict[tuple[str, ...], str] = PrivateAttr(default_factory=OrderedDict)
    _silver_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    # ------------------------------------------------------------------------------------------ validation
    @field_validator("max_words", mode="before")
    @classmethod
    def _check_max_words(cls, value: Any) -> int | None:
        try:  # the shared validator: no coercion of "20" or True
            return check_max_words(value)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("optimizer_kwargs")
    @classmethod
    def _check_optimizer_kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - _OPTIMIZER_OPTIONS)
        if unknown:
            raise ValueError(
                f"optimizer_kwargs has unknown option(s) {unknown}; allowed: {sorted(_OPTIMIZER_OPTIONS)} "
                "(model, adapter, base_url and api_key are fields of FIPOOptimizer itself)"
            )
        return value

    @model_validator(mode="after")
    def _check_optimizer_source(self) -> FIPOOptimizer:
        if self.optimizer is not None:
            given = [name for name in ("model", "adapter", "base_url", "api_key") if getattr(self, name) is not None]
            if given or self.optimizer_kwargs:
                raise ValueError(
                    f"optimizer= was given together with {given or ['optimizer_kwargs']}; either pass an "
                    "existing PromptOptimizer or the settings to build one, not both"
                )
        if isinstance(self.model, BaseChatModel) and (self.adapter is not None or self.base_url is not None):
            raise ValueError("model= is a LangChain chat model; adapter= and base_url= only apply to model specs")
        return self

    # ----------------------------------------------------------------------------------------- optimizer
    def get_optimizer(self) -> PromptOptimizer:
        """The :class:`PromptOptimizer` in use (built on first use; a model is loaded once per spec, through
        :func:`~fipo_integrations.backends.load_backend`)."""
        if self.optimizer is not None:
            return self.optimizer
        if self._optimizer is not None:
            return self._optimizer
        if isinstance(self.model, BaseChatModel):
            self._optimizer = PromptOptimizer(ChatModelBackend(self.model), **self.optimizer_kwargs)
            return self._optimizer
        # The model itself is shared by every FIPOOptimizer with the same spec (load_backend's registry), so
        # ``configurable_fields`` and copies do not load it again.
        self._optimizer = PromptOptimizer(
            self.model,  # type: ignore[arg-type]
            adapter=self.adapter,
            base_url=self.base_url,
            api_key=self.api_key,
            **self.optimizer_kwargs,
        )
        return self._optimizer

    # -------------------------------------------------------------------------------------------- silver
    def _silver_jobs(self, plans: Sequence[Plan | Exception]) -> tuple[dict[tuple[str, ...], str], list[int]]:
        """Cached silver responses, and the plan positions whose silver response must be computed."""
        known: dict[tuple[str, ...], str] = {}
        pending: dict[tuple[str, ...], int] = {}
        if self.silver_from is None:
            return known, []
        with self._silver_lock:
            for position, plan in enumerate(plans):
                if isinstance(plan, Exception) or not plan.targets:
                    continue
                key = plan.silver_key
                if key in self._silver_cache:
                    known[key] = self._silver_cache[key]
                    self._silver_cache.move_to_end(key)
                else:
                    pending.setdefault(key, position)
        return known, list(pending.values())

    def _remember_silver(self, key: tuple[str, ...], answer: str) -> None:
        with self._silver_lock:
            self._silver_cache[key] = answer
            while len(self._silver_cache) > _SILVER_CACHE_SIZE:
                self._silver_cache.popitem(last=False)

    def _store_silver(self, plans: Sequence[Plan | Exception], positions: list[int], outputs: list[Any]) -> None:
        for position, output in zip(positions, outputs, strict=True):
            self._remember_silver(cast(Plan, plans[position]).silver_key, output_text(output))

    # ------------------------------------------------------------------------------------------ assembly
    def _requests(
        self, plans: Sequence[Plan | Exception], silver: dict[tuple[str, ...], str]
    ) -> list[OptimizationRequest]:
        return [
            OptimizationRequest(target.text, silver_response=silver.get(plan.silver_key), max_words=self.max_words)
            for plan in plans
            if not isinstance(plan, Exception)
            for target in plan.targets
        ]

    def _failed(self, exc: Exception, *, prefix: str = "", fallback: str) -> str:
        """The reason for ``fipo.error`` (logged with the ``fallback`` taken), or ``exc`` re-raised under
        ``on_error="raise"``."""
        if self.on_error == "raise":
            raise exc
        reason = f"{prefix}{type(exc).__name__}: {exc}"
        logger.warning("FIPOOptimizer: %s; %s", reason, fallback)
        return reason

    # --------------------------------------------------------------------------------------- sync runs
    def _process(
        self,
        inputs: Sequence[Any],
        configs: Sequence[RunnableConfig],
        managers: Sequence[CallbackManagerForChainRun],
    ) -> list[Outcome | Exception]:
        plans = _reject_invalid_text(plan_inputs(inputs, self.roles))
        silver, positions = self._silver_jobs(plans)
        silver_error = None
        if positions and self.silver_from is not None:
            child = [patch_config(configs[p], callbacks=managers[p].get_child()) for p in positions]
            try:
                outputs = self.silver_from.batch([naive_value(cast(Plan, plans[p])) for p in positions], child)
                self._store_silver(plans, positions, outputs)
            except Exception as exc:
                silver_error = self._failed(
                    exc, prefix="silver_from failed: ", fallback="optimizing without a silver response"
                )
            silver = self._silver_jobs(plans)[0]
        requests = self._requests(plans, silver)
        results, error = None, None
        if requests:
            try:
                with nested_under(_shared_parent(managers)):
                    results = self.get_optimizer().optimize_batch(requests)
            except Exception as exc:
                error = self._failed(exc, fallback=_PASS_THROUGH)
        return assemble(plans, results, error, silver_error, self.roles)

    def batch(
        self,
        inputs: list[FIPOInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[PromptValue]:
        """Optimize many prompts with one generate call on the backend (cache misses only)."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        managers = [
            get_callback_manager_for_config(c).on_chain_start(
                None, value, name=c.get("run_name") or self.get_name(), run_id=c.pop("run_id", None)
            )
            for value, c in zip(inputs, configs, strict=True)
        ]
        try:
            outcomes = self._process(inputs, configs, managers)
        except BaseException as exc:
            for manager in managers:
                manager.on_chain_error(exc)
            if return_exceptions and isinstance(exc, Exception):
                return cast(list[PromptValue], [exc] * len(inputs))
            raise
        for manager, outcome in zip(managers, outcomes, strict=True):
            if isinstance(outcome, Exception):
                manager.on_chain_error(outcome)
            else:
                manager.on_chain_end({"output": outcome.value, "fipo": outcome.trace})
        return self._finish(outcomes, return_exceptions)

    @staticmethod
    def _finish(outcomes: Sequence[Outcome | Exception], return_exceptions: bool) -> list[PromptValue]:
        errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        if errors and not return_exceptions:
            raise errors[0]
        return [cast(PromptValue, o) if isinstance(o, Exception) else o.value for o in outcomes]

    def invoke(self, input: FIPOInput, config: RunnableConfig | None = None, **kwargs: Any) -> PromptValue:
        """Optimize one prompt; see the class docstring."""
        return self.batch([input], config)[0]

    # -------------------------------------------------------------------------------------- async runs
    # One async path: the sync call in an executor (with the caller's context, so tracing nests), so the
    # event loop never blocks while a local model generates or loads.
    # (mypy checks these against Runnable's signatures, whose ``self`` is the base class, hence the ignores.)
    ainvoke = in_executor(invoke)  # type: ignore[arg-type]
    abatch = in_executor(batch)  # type: ignore[arg-type]

    # --------------------------------------------------------------------------------------- templates
    def optimize_template(
        self,
        template: TemplateT,
        *,
        examples: Sequence[dict[str, Any]] | None = None,
        max_words: int | None = None,
    ) -> TemplateT:
        """Rewrite the instruction text of a prompt template once; returns a new template of the same type.

        ``input_variables``, partials and ``MessagesPlaceholder``\\ s are kept and every variable must survive
        (a rejected rewrite keeps the original text). ``examples`` (``[{"inputs": {...}, "output": "..."}]``)
        are labelled responses shown to the optimizer as the paper's golden response. The new template's
        ``metadata["fipo"]`` records what happened to each instruction.

        >>> from fipo_integrations import PromptOptimizer
        >>> from fipo_integrations.testing import ScriptedBackend
        >>> optimizer = PromptOptimizer(ScriptedBackend(lambda p: p + " Answer in one word."), cache=False)
        >>> fipo = FIPOOptimizer(optimizer=optimizer)
        >>> fipo.optimize_template(PromptTemplate.from_template("Name the capital of {country}.")).template
        'Name the capital of {country}. Answer in one word.'
        """
        slots, requests = self._template_requests(template, examples, max_words)
        results, error = None, None
        if requests:
            try:
                results = self.get_optimizer().optimize_batch(requests)
            except Exception as exc:
                error = self._failed(exc, fallback=_PASS_THROUGH)
        return apply_template_rewrites(template, slots, results, error)

    aoptimize_template = in_executor(optimize_template)

    def _template_requests(
        self, template: Any, examples: Sequence[dict[str, Any]] | None, max_words: int | None
    ) -> tuple[list[Any], list[OptimizationRequest]]:
        if not isinstance(template, (PromptTemplate, ChatPromptTemplate)):
            raise TypeError(
                f"optimize_template takes a PromptTemplate or ChatPromptTemplate, got {type(template).__name__}"
            )
        check_max_words(max_words)
        slots = template_slots(template, self.roles)
        golden = golden_from_examples(template, examples)
        budget = max_words if max_words is not None else self.max_words
        return slots, [OptimizationRequest(s.text, golden_response=golden, max_words=budget) for s in slots]


def _reject_invalid_text(plans: list[Plan | Exception]) -> list[Plan | Exception]:
    """An input whose instruction text is not valid Unicode becomes its own error; the others go on."""
    checked: list[Plan | Exception] = []
    for position, plan in enumerate(plans):
        if not isinstance(plan, Exception):
            try:
                for target in plan.targets:
                    check_text(target.text, f"input {position} ({target.role} text)")
            except ValueError as exc:
                plan = exc
        checked.append(plan)
    return checked


def _shared_parent(managers: Sequence[CallbackManagerForChainRun | AsyncCallbackManagerForChainRun]) -> Any:
    """Callbacks under which the optimizer's chat-model calls are traced: the run's, for a single input.

    A batch shares one optimizer call between its runs, so that call is traced as a run of its own.
    """
    return managers[0].get_child() if len(managers) == 1 else None
