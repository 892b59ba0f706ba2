"""``ModelSpec``: which model to run and how, parsed once from the one spec grammar.

A spec string is ``[LABEL=]SPEC`` where ``SPEC`` is one of:

- ``default``: the embedded Qwen2.5-Coder-0.5B-Instruct with the bundled FIPO adapter;
- ``embedded:NAME``: an embedded model (see :data:`~fipo_integrations.models.EMBEDDED_MODELS`);
- a local model directory or a hub id in the local cache (a directory holding ``adapter_config.json`` is a
  PEFT adapter: its base is the adapter's base model when that is a local directory, else the embedded model
  its ``fipo_training.json`` names, else the default optimizer's base);
- ``URL#MODEL`` (or ``openai:URL#MODEL``): a model served by an OpenAI-compatible endpoint;
- ``vllm:PATH``: the vLLM offline engine;
- ``llamacpp:PATH`` or ``llamacpp:embedded:NAME``: a GGUF file on llama.cpp.

Every consumer (engine, LangChain, DSPy, evaluation, training) turns its settings into a :class:`ModelSpec`
and gets the model from :func:`~fipo_integrations.backends.load_backend`.

>>> spec = ModelSpec.parse("big=http://localhost:8000/v1#fipo-70b", api_key="sk-1")
>>> spec.label, spec.base_url, spec.model, spec.resolved_backend
('big', 'http://localhost:8000/v1', 'fipo-70b', 'openai')
>>> spec.api_key
Secret('********')
>>> ModelSpec.parse("llamacpp:embedded:qwen2.5-coder-0.5b-instruct").default_label
'qwen2.5-coder-0.5b-instruct'
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from .models import DEFAULT_MODEL, embedded_model

__all__ = [
    "BACKEND_NAMES",
    "BackendName",
    "ModelSpec",
    "Secret",
    "add_model_arguments",
    "model_fields_from_args",
    "split_label",
]

BackendName = Literal["auto", "transformers", "openai", "vllm", "llamacpp"]
BACKEND_NAMES: tuple[str, ...] = get_args(BackendName)
_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class Secret:
    """A string that never shows in ``repr``, ``str``, logs or tracebacks; :meth:`get` reveals it.

    >>> key = Secret("sk-123")
    >>> key, str(key), key.get()
    (Secret('********'), '********', 'sk-123')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, got {type(value).__name__}")
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ModelSpec:
    """One model: where it comes from and how it runs. Frozen and hashable (the backend registry's key).

    ``model`` is ``None`` for the default model. ``api_key`` is kept as a :class:`Secret`. ``batch_size``,
    ``device``, ``dtype`` and ``quantization`` apply to local transformers models.

    >>> ModelSpec(backend="openai")
    Traceback (most recent call last):
    ...
    ValueError: backend='openai' needs base_url, e.g. base_url='http://localhost:8000/v1' or the spec 'URL#MODEL'
    """

    model: str | None = None
    adapter: str | None = None
    base_url: str | None = None
    api_key: Secret | None = field(default=None, repr=False)
    backend: BackendName = "auto"
    device: str | None = None
    dtype: str = "auto"
    quantization: str | None = None
    trust_remote_code: bool = False
    batch_size: int = 8
    #: Name shown in reports (``LABEL=`` of the spec string); not part of the identity.
    label: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("model", "adapter"):
            value = getattr(self, name)
            if isinstance(value, Path):
                object.__setattr__(self, name, str(value))
            elif value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str or a Path, got {type(value).__name__} {value!r}")
        if isinstance(self.api_key, str):
            object.__setattr__(self, "api_key", Secret(self.api_key))
        if self.backend not in BACKEND_NAMES:
            raise ValueError(f"backend must be one of {BACKEND_NAMES}, got {self.backend!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        backend = self.resolved_backend
        if backend == "openai":
            if self.base_url is None:
                raise ValueError(
                    "backend='openai' needs base_url, e.g. base_url='http://localhost:8000/v1' or the spec 'URL#MODEL'"
                )
            if self.adapter is not None:
                raise ValueError("adapter= is for local models; an endpoint serves its adapter itself")
            return
        if self.model == DEFAULT_MODEL:
            object.__setattr__(self, "model", None)
        if backend == "vllm" and self.model is None:
            raise ValueError("backend='vllm' needs model= (a local directory or hub id), e.g. 'vllm:/models/fipo'")
        if self.model is not None and self.model.startswith("embedded:"):
            embedded_model(self.model.split(":", 1)[1])  # an unknown name raises, listing the known ones

    @property
    def is_default(self) -> bool:
        """The default optimizer: the embedded base with the bundled adapter (no model, endpoint or adapter given).

        >>> ModelSpec.from_options("default").is_default, ModelSpec.from_options("embedded:gemma-3-270m").is_default
        (True, False)
        """
        return self.model is None and self.base_url is None and self.adapter is None

    # ----------------------------------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, text: str | Path | ModelSpec | None, **fields: Any) -> ModelSpec:
        """A spec from the grammar in the module docstring; ``fields`` set what the string does not say.

        >>> ModelSpec.parse("vllm:/models/fipo").backend
        'vllm'
        >>> ModelSpec.parse("mine=embedded:gemma-3-270m", device="cpu").device
        'cpu'
        >>> ModelSpec.parse("embedded:gpt-5")
        Traceback (most recent call last):
        ...
        ValueError: Unknown embedded model 'gpt-5'; available: gemma-3-270m, qwen2.5-coder-0.5b-instruct, \
qwen2.5-coder-1.5b-instruct, smollm2-135m-instruct (use it as 'embedded:NAME')
        """
        if isinstance(text, ModelSpec):
            return replace(text, **fields) if fields else text
        if text is None:
            return cls(**fields)
        raw = str(text)
        label, spec = split_label(raw)
        if label is not None:
            fields.setdefault("label", label)
        if not spec:
            raise ValueError(
                f"empty model spec {raw!r}; use 'default', 'embedded:NAME', a directory, a hub id, 'URL#MODEL', "
                "'vllm:PATH' or 'llamacpp:PATH'"
            )
        endpoint = spec[len("openai:") :] if spec.startswith("openai:") else spec
        if endpoint.startswith(("http://", "https://")):
            url, _, name = endpoint.partition("#")
            fields.pop("adapter", None)
            return cls(model=name or None, base_url=url, **{"backend": "openai", **fields})
        for prefix in ("vllm:", "llamacpp:"):
            if spec.startswith(prefix):
                path = spec[len(prefix) :]
                if not path and prefix == "vllm:":
                    raise ValueError(f"{raw!r} names no model; use 'vllm:PATH' with a directory or hub id")
                fields["backend"] = prefix[:-1]
                return cls(model=path or None, **fields)
        directory = Path(spec).expanduser()
        if fields.get("adapter") is None and (directory / "adapter_config.json").is_file():
            fields["adapter"] = str(directory)
            return cls(model=_adapter_base(directory), **fields)
        return cls(model=spec, **fields)

    @classmethod
    def from_options(
        cls,
        model: str | Path | ModelSpec | None = None,
        *,
        base_url: str | None = None,
        backend: BackendName = "auto",
        trust_remote_code: bool = False,
        **fields: Any,
    ) -> ModelSpec:
        """A spec from keyword settings (as ``PromptOptimizer(model, adapter=..., base_url=...)`` takes them).

        ``None`` settings are left out. With ``base_url`` a string ``model`` is the name the endpoint serves;
        without it ``model`` is parsed as a spec string.

        >>> ModelSpec.from_options("fipo", base_url="http://localhost:8000/v1").resolved_backend
        'openai'
        """
        given = {name: value for name, value in fields.items() if value is not None}
        if backend != "auto":
            given["backend"] = backend
        if trust_remote_code:
            given["trust_remote_code"] = True
        if base_url is not None and not isinstance(model, ModelSpec):
            return cls(model=None if model is None else str(model), base_url=base_url, **given)
        return cls.parse(model, **given)

    # --------------------------------------------------------------------------------------- properties
    @property
    def resolved_backend(self) -> str:
        """The backend that runs the model: ``"auto"`` is ``"openai"`` with a ``base_url``, else transformers."""
        if self.backend == "auto":
            return "openai" if self.base_url is not None else "transformers"
        return self.backend

    @property
    def default_label(self) -> str:
        """The label for reports: ``LABEL=`` when given, else a short name derived from the model."""
        if self.label:
            return self.label
        if self.resolved_backend == "openai":
            return self.model or str(self.base_url)
        if self.adapter is not None:
            return Path(self.adapter.rstrip("/")).name
        if self.model is None:
            return DEFAULT_MODEL
        if self.model.startswith("embedded:"):
            return self.model.split(":", 1)[1]
        return Path(self.model.rstrip("/")).name or self.model

    def secret(self) -> str | None:
        """The API key in clear, for the one place that sends it (the endpoint backend)."""
        return None if self.api_key is None else self.api_key.get()


#: The spec fields every command line offers, with their help; flags are ``--[PREFIX]NAME``.
_CLI_FIELDS: dict[str, str] = {
    "model": "'default', 'embedded:NAME', a directory, a hub id, URL#MODEL, vllm:PATH, llamacpp:PATH, "
    "or a model name served at the base URL",
    "adapter": "PEFT LoRA adapter directory for a local model",
    "base_url": "OpenAI-compatible endpoint, e.g. http://localhost:8000/v1",
    "api_key": "API key for the endpoint (default: $OPENAI_API_KEY)",
    "backend": "backend: auto, transformers, openai, vllm or llamacpp (GGUF on llama.cpp, the 'llamacpp' extra)",
    "device": "torch device for a local model (default: cuda if available)",
}


def add_model_arguments(parser: Any, *, prefix: str = "", default_model: str | None = None) -> None:
    """Add the model flags (``--model``, ``--adapter``, ``--base-url``, ``--api-key``, ``--backend``,
    ``--device``, each after ``--PREFIX``) to an argparse parser or argument group.

    >>> parser = argparse.ArgumentParser()
    >>> add_model_arguments(parser, prefix="strong-")
    >>> args = parser.parse_args(["--strong-model", "fipo", "--strong-base-url", "http://h/v1"])
    >>> ModelSpec.from_options(**model_fields_from_args(args, prefix="strong-")).resolved_backend
    'openai'
    """
    for name, help_text in _CLI_FIELDS.items():
        options: dict[str, Any] = {"default": default_model if name == "model" else None, "help": help_text}
        if name == "backend":
            options.update(default="auto", choices=BACKEND_NAMES)
        parser.add_argument(f"--{prefix}{name.replace('_', '-')}", **options)


def model_fields_from_args(args: argparse.Namespace, *, prefix: str = "") -> dict[str, Any]:
    """The model flags of :func:`add_model_arguments` as keyword arguments (``model=``, ``adapter=``...)."""
    stem = prefix.replace("-", "_")
    return {name: getattr(args, stem + name) for name in _CLI_FIELDS}


def split_label(text: str) -> tuple[str | None, str]:
    """``(LABEL, SPEC)`` of ``"LABEL=SPEC"``, or ``(None, text)`` when it has no label (a path or URL never
    reads as a label).

    >>> split_label("small=/models/a"), split_label("http://h/v1?x=1")
    (('small', '/models/a'), (None, 'http://h/v1?x=1'))
    """
    head, sep, rest = text.strip().partition("=")
    if sep and _LABEL.fullmatch(head.strip()):
        return head.strip(), rest.strip()
    return None, text.strip()


def _adapter_base(adapter: Path) -> str | None:
    """The adapter's base model: a local directory, or the embedded model that ``fipo train`` recorded in
    ``fipo_training.json``; ``None`` (the default optimizer's base) otherwise."""
    try:
        config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    base = config.get("base_model_name_or_path")
    if isinstance(base, str) and Path(base).expanduser().is_dir():
        return base
    try:
        recorded = json.loads((adapter / "fipo_training.json").read_text(encoding="utf-8")).get("base_model")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return recorded if isinstance(recorded, str) and recorded.startswith("embedded:") else None
