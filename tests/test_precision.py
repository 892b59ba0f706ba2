"""The precision chosen by what the processor can do (both CPU branches, the override and bad input)."""

from __future__ import annotations

import logging

import pytest

from fipo_integrations import precision


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    precision.cpu_has_native_bf16.cache_clear()
    for name in ("FIPO_DTYPE", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        monkeypatch.delenv(name, raising=False)
    yield
    precision.cpu_has_native_bf16.cache_clear()


def _flags(monkeypatch: pytest.MonkeyPatch, flags: set[str] | None) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: flags)


AVX2_ONLY = {"sse4_2", "avx", "avx2", "fma", "f16c"}
NATIVE = AVX2_ONLY | {"avx512f", "avx512_bf16"}


def test_avx2_only_cpu_gets_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    _flags(monkeypatch, AVX2_ONLY)
    assert precision.cpu_has_native_bf16() is False
    assert precision.resolve_dtype("auto", "cpu") == "float32"


def test_native_bf16_cpu_gets_bfloat16(monkeypatch: pytest.MonkeyPatch) -> None:
    _flags(monkeypatch, NATIVE)
    assert precision.resolve_dtype("auto", "cpu") == "bfloat16"
    _flags(monkeypatch, AVX2_ONLY | {"amx_bf16", "amx_tile"})
    precision.cpu_has_native_bf16.cache_clear()
    assert precision.resolve_dtype(None, "cpu") == "bfloat16"


@pytest.mark.parametrize(("cap", "native"), [("AVX2", False), ("avx512_core", False), ("AVX512_CORE_AMX", True)])
def test_a_onednn_isa_cap_below_bf16_means_float32(monkeypatch: pytest.MonkeyPatch, cap: str, native: bool) -> None:
    # oneDNN runs torch's bf16 matrix products on a CPU: capped below the bf16 instructions, bf16 is slow.
    _flags(monkeypatch, NATIVE)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    assert precision.cpu_has_native_bf16() is native
    assert precision.resolve_dtype("auto", "cpu") == ("bfloat16" if native else "float32")


def test_unknown_flags_fall_back_to_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    _flags(monkeypatch, None)
    monkeypatch.setattr(precision.platform, "system", lambda: "Linux")
    monkeypatch.setattr(precision, "_bf16_is_fast_by_timing", lambda: False)
    assert precision.resolve_dtype("auto", "cpu") == "float32"


def test_environment_overrides_auto_but_not_an_explicit_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    _flags(monkeypatch, NATIVE)
    monkeypatch.setenv("FIPO_DTYPE", "fp32")
    assert precision.resolve_dtype("auto", "cpu") == "float32"
    assert precision.resolve_dtype("bf16", "cpu") == "bfloat16"
    monkeypatch.setenv("FIPO_DTYPE", "int3")
    with pytest.raises(ValueError, match=r"\$FIPO_DTYPE: dtype='int3' is not supported"):
        precision.resolve_dtype("auto", "cpu")


def test_bf16_forced_on_a_cpu_without_it_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _flags(monkeypatch, AVX2_ONLY)
    with caplog.at_level(logging.WARNING, logger="fipo_integrations.precision"):
        assert precision.resolve_dtype("bfloat16", "cpu") == "bfloat16"
    assert "no native bf16" in caplog.text


def test_bad_dtype_names_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, bfloat16, float16, float32"):
        precision.normalise_dtype("int8")


def test_trainer_autocast_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from training.config import TrainConfig
    from training.trainers import _precision

    config = TrainConfig(output_dir="unused")
    monkeypatch.setattr("training.trainers.cpu_has_native_bf16", lambda: False)
    assert _precision(config, cuda=False) == {"bf16": False, "fp16": False, "use_cpu": True}
    monkeypatch.setattr("training.trainers.cpu_has_native_bf16", lambda: True)
    assert _precision(config, cuda=False) == {"bf16": True, "fp16": False, "use_cpu": True}


def test_backend_loads_in_the_chosen_dtype(monkeypatch: pytest.MonkeyPatch, tiny_chat_model_dir: object) -> None:
    import torch

    from fipo_integrations.backends.hf import load_causal_lm

    _flags(monkeypatch, AVX2_ONLY)
    model, _, _ = load_causal_lm(str(tiny_chat_model_dir), device="cpu")
    assert next(model.parameters()).dtype == torch.float32
    precision.cpu_has_native_bf16.cache_clear()
    _flags(monkeypatch, NATIVE)
    model, _, _ = load_causal_lm(str(tiny_chat_model_dir), device="cpu")
    assert next(model.parameters()).dtype == torch.bfloat16
