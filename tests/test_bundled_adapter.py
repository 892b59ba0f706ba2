"""The FIPO adapter that ships inside the package and is the default optimizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fipo_integrations.models import BUNDLED_ADAPTER_DIR, DEFAULT_OPTIMIZER_BASE, bundled_adapter_dir
from fipo_integrations.templates import TEMPLATE_VERSION


def test_the_adapter_ships_compact_and_self_describing() -> None:
    assert bundled_adapter_dir() == BUNDLED_ADAPTER_DIR
    config = json.loads((BUNDLED_ADAPTER_DIR / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
    assert config["base_model_name_or_path"] == "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    weights = BUNDLED_ADAPTER_DIR / "adapter_model.safetensors"
    assert weights.stat().st_size < 15_000_000  # a few MB in bf16
    assert {p.name for p in BUNDLED_ADAPTER_DIR.iterdir()} <= {
        "adapter_config.json",
        "adapter_model.safetensors",
        "adapter.gguf",  # the same LoRA for llama.cpp (f16), written by `fipo train package --gguf`
        "fipo_training.json",
        "README.md",
    }
    assert (BUNDLED_ADAPTER_DIR / "adapter.gguf").read_bytes()[:4] == b"GGUF"
    meta = json.loads((BUNDLED_ADAPTER_DIR / "fipo_training.json").read_text())
    # Trained with the template the runtime renders today: a template change needs a retrained adapter.
    assert meta["template_version"] == TEMPLATE_VERSION
    assert meta["base_model"] == f"embedded:{DEFAULT_OPTIMIZER_BASE}"


def test_the_adapter_weights_are_bf16_lora_tensors() -> None:
    pytest.importorskip("torch")
    import torch
    from safetensors.torch import load_file

    tensors = load_file(str(BUNDLED_ADAPTER_DIR / "adapter_model.safetensors"))
    assert tensors and all("lora_A" in name or "lora_B" in name for name in tensors)
    assert all(t.dtype == torch.bfloat16 for t in tensors.values())
    assert all(bool(torch.isfinite(t.float()).all()) for t in tensors.values())
    assert any(float(t.float().abs().sum()) > 0 for name, t in tensors.items() if "lora_B" in name)


@pytest.mark.slow
def test_default_optimizer_loads_the_adapter(default_optimizer_base: Path, one_torch_thread: None) -> None:
    from fipo_integrations import PromptOptimizer
    from fipo_integrations.backends.hf import TransformersBackend

    default = TransformersBackend()
    assert "+adapter@" in default.model_id
    base = TransformersBackend(f"embedded:{DEFAULT_OPTIMIZER_BASE}")
    adapted_head = default.model.model.layers[-1].self_attn.q_proj.weight  # merged LoRA delta (top layers only)
    base_head = base.model.model.layers[-1].self_attn.q_proj.weight
    assert not adapted_head.equal(base_head)
    result = PromptOptimizer(default, cache=False, max_new_tokens=96).optimize("Answer the question: {question}")
    assert "{question}" in result.optimized
