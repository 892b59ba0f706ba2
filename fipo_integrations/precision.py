"""Which floating-point precision to run a model in, chosen once by what the processor can do.

bf16 halves memory traffic, but on a CPU it is fast only where the processor executes it natively
(AVX512-BF16 or AMX). On an AVX2-only CPU, like many laptops and cloud machines, a bf16 matrix product
runs about 400x slower than fp32, so ``"auto"`` means fp32 there. On a GPU, ``"auto"`` is bf16 where
the GPU supports it, else fp16.

The choice can be overridden per call (``dtype=`` / ``--dtype``) or for the process with ``$FIPO_DTYPE``
(``bfloat16``, ``float16``, ``float32`` or ``auto``). It is logged once per process and device.

>>> normalise_dtype("bf16")
'bfloat16'
>>> resolve_dtype("float32", "cpu")
'float32'
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import time
from pathlib import Path

from ._deps import require

__all__ = ["DTYPE_CHOICES", "cpu_has_native_bf16", "normalise_dtype", "resolve_dtype", "torch_dtype"]

logger = logging.getLogger(__name__)

#: The names accepted everywhere a dtype is asked for (aliases are normalised by :func:`normalise_dtype`).
DTYPE_CHOICES = ("auto", "bfloat16", "float16", "float32")
_ALIASES = {
    "auto": "auto",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
    "float16": "float16",
    "fp32": "float32",
    "float": "float32",
    "float32": "float32",
}
#: CPU flags (as Linux's /proc/cpuinfo spells them) that mean native bf16 matrix arithmetic.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
_logged: set[tuple[str, str]] = set()


def normalise_dtype(dtype: str | None) -> str:
    """``dtype`` as one of :data:`DTYPE_CHOICES`; ``None`` or ``""`` means ``"auto"``."""
    if dtype is None or dtype == "":
        return "auto"
    name = str(dtype).strip().lower().removeprefix("torch.")
    if name not in _ALIASES:
        raise ValueError(
            f"dtype={dtype!r} is not supported; use one of {', '.join(DTYPE_CHOICES)} (or the aliases bf16, fp16, fp32)"
        )
    return _ALIASES[name]


def _cpu_flags() -> set[str] | None:
    """The CPU feature flags from /proc/cpuinfo, or ``None`` where that file does not exist."""
    cpuinfo = Path("/proc/cpuinfo")
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


def _bf16_is_fast_by_timing() -> bool:
    """Time a 256^3 matrix product in bf16 and fp32; native bf16 is at least as fast as half of fp32."""
    torch = require("torch")
    a = torch.randn(256, 256)
    b = torch.randn(256, 256)

    def best(x: object, y: object) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            torch.matmul(x, y)
            times.append(time.perf_counter() - started)
        return min(times)

    fp32 = best(a, b)
    bf16 = best(a.bfloat16(), b.bfloat16())
    return bf16 <= 2.0 * fp32


#: oneDNN ISA caps (``ONEDNN_MAX_CPU_ISA``) that still include native bf16 matrix instructions.
_BF16_ISAS = frozenset(
    {"avx512_core_bf16", "avx512_core_amx", "avx512_core_amx_fp16", "avx10_1_512", "avx10_1_512_amx",
     "avx10_1_512_amx_fp16", "default", "all"}
)  # fmt: skip


def _onednn_isa_cap() -> bool | None:
    """``False`` when ``$ONEDNN_MAX_CPU_ISA`` (or the older ``$DNNL_MAX_CPU_ISA``) keeps oneDNN, which runs
    torch's bf16 matrix products on a CPU, below the bf16 instructions (``AVX2``, ``AVX512_CORE``, ...): bf16
    is then as slow as on a CPU without them. ``None`` when no cap is set or the cap allows bf16."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    if not cap or cap.strip().lower() in _BF16_ISAS:
        return None
    return False


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU executes bf16 matrix products natively (AVX512-BF16 or AMX).

    Read from the CPU flags on Linux; elsewhere (or where the flags say nothing) a short matrix product
    is timed once. Apple silicon counts as native (its NEON/AMX units handle bf16 well in torch).
    """
    capped = _onednn_isa_cap()
    if capped is not None:
        return capped
    flags = _cpu_flags()
    if flags is not None and ("avx2" in flags or "avx" in flags or NATIVE_BF16_FLAGS & flags):
        return bool(NATIVE_BF16_FLAGS & flags)
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return True
    return _bf16_is_fast_by_timing()


def _gpu_default() -> str:
    torch = require("torch")
    return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"


def resolve_dtype(dtype: str | None, device: str) -> str:
    """The concrete dtype name for ``dtype`` (``"auto"`` resolved by capability) on ``device``.

    ``$FIPO_DTYPE`` replaces ``"auto"``; an explicit ``dtype`` wins over it. A dtype the device cannot run
    at a usable speed (bf16 on a CPU without native support) is still honoured when asked for explicitly,
    with a warning, since it gives the same numbers as a native run.
    """
    requested = normalise_dtype(dtype)
    source = "argument"
    if requested == "auto" and os.environ.get("FIPO_DTYPE"):
        try:
            requested = normalise_dtype(os.environ["FIPO_DTYPE"])
        except ValueError as exc:
            raise ValueError(f"$FIPO_DTYPE: {exc}") from None
        source = "$FIPO_DTYPE"
    on_gpu = not device.startswith("cpu")
    if requested == "auto":
        if on_gpu:
            chosen, why = _gpu_default(), "GPU"
        elif cpu_has_native_bf16():
            chosen, why = "bfloat16", "CPU with native bf16 (AVX512-BF16/AMX)"
        else:
            chosen, why = "float32", "CPU without native bf16: bf16 would run ~100x slower"
    else:
        chosen, why = requested, f"set by {source}"
        if not on_gpu and chosen == "float16":
            logger.warning("float16 on a CPU is slow and loses precision; prefer float32 or bfloat16")
        elif not on_gpu and chosen == "bfloat16" and not cpu_has_native_bf16():
            logger.warning(
                "bfloat16 was asked for, but this CPU has no native bf16 (no AVX512-BF16/AMX): expect it to "
                "run far slower than float32. Use dtype='auto' or FIPO_DTYPE=float32."
            )
    key = (device, chosen)
    if key not in _logged:
        _logged.add(key)
        logger.info("precision on %s: %s (%s)", device, chosen, why)
    return chosen


def torch_dtype(dtype: str | None, device: str) -> object:
    """The ``torch.dtype`` for :func:`resolve_dtype`."""
    torch = require("torch")
    return getattr(torch, resolve_dtype(dtype, device))
