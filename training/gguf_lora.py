"""Write a PEFT LoRA adapter as a GGUF LoRA, so llama.cpp can apply it to the embedded GGUF base model.

llama.cpp names tensors by block (``blk.N.attn_q.weight``) and stores a LoRA as ``<name>.lora_a`` /
``<name>.lora_b`` pairs with the alpha in the header (the format of llama.cpp's ``convert_lora_to_gguf.py``).
For the Llama architecture llama.cpp's converter permutes the rows of the query and key projections (its
rotary layout); the output side of a LoRA (``lora_b``) is permuted the same way. Qwen2 needs no permutation.
Supported: the Llama (SmolLM2) and Qwen2 architectures, LoRA on the attention and MLP projections.

>>> write_gguf_lora("fipo_integrations/adapters/fipo-smollm2-135m", "embedded:smollm2-135m-instruct")  # doctest: +SKIP
PosixPath('fipo_integrations/adapters/fipo-smollm2-135m/adapter.gguf')
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fipo_integrations._deps import require

__all__ = ["write_gguf_lora"]

_PROJECTIONS = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_ARCHITECTURES = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}
_NAME = re.compile(r"(?:^|\.)layers\.(\d+)\.(.+)\.lora_([AB])\.weight$")


def _permute(weight: Any, n_head: int, n_head_kv: int | None) -> Any:
    """llama.cpp's row permutation of Llama's query/key projections (``LlamaModel.permute``)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def write_gguf_lora(
    adapter_dir: str | Path, base_model: str, output: str | Path | None = None, *, dtype: str = "float16"
) -> Path:
    """Convert the PEFT adapter in ``adapter_dir`` (trained on ``base_model``) to ``adapter.gguf`` there
    (or to ``output``), its tensors in ``dtype`` (``float16`` or ``float32``). ``base_model`` is any model spec
    whose ``config.json`` names the architecture."""
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype={dtype!r} is not supported for a GGUF LoRA; use 'float16' or 'float32'")
    gguf = require("gguf", feature="writing a GGUF LoRA")
    from safetensors.torch import load_file

    from .trainers import resolve_model_path

    source = Path(adapter_dir)
    config = json.loads((source / "adapter_config.json").read_text(encoding="utf-8"))
    base_config = json.loads((Path(resolve_model_path(base_model)) / "config.json").read_text(encoding="utf-8"))
    architecture = next((_ARCHITECTURES[a] for a in base_config.get("architectures", []) if a in _ARCHITECTURES), None)
    if architecture is None:
        raise ValueError(
            f"GGUF LoRA export supports {sorted(_ARCHITECTURES)}, but {base_model!r} is "
            f"{base_config.get('architectures')}; use the transformers backend for this model"
        )
    if config.get("use_dora") or config.get("modules_to_save"):
        raise ValueError("GGUF LoRA export supports plain LoRA only (no DoRA, no modules_to_save)")
    n_head, n_head_kv = base_config["num_attention_heads"], base_config.get("num_key_value_heads")
    target = Path(output) if output is not None else source / "adapter.gguf"
    writer = gguf.GGUFWriter(str(target), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    tensors = load_file(str(source / "adapter_model.safetensors"))
    pairs: dict[tuple[int, str], dict[str, Any]] = {}
    for name, tensor in tensors.items():
        match = _NAME.search(name)
        if match is None or match.group(2) not in _PROJECTIONS:
            raise ValueError(f"cannot map adapter tensor {name!r} to a llama.cpp tensor")
        pairs.setdefault((int(match.group(1)), match.group(2)), {})[match.group(3)] = tensor.float().numpy()
    for (block, projection), pair in sorted(pairs.items()):
        lora_a, lora_b = pair["A"], pair["B"]
        if architecture == "llama" and projection == "self_attn.q_proj":
            lora_b = _permute(lora_b, n_head, n_head)
        elif architecture == "llama" and projection == "self_attn.k_proj":
            lora_b = _permute(lora_b, n_head, n_head_kv)
        stem = f"blk.{block}.{_PROJECTIONS[projection]}.weight"
        writer.add_tensor(f"{stem}.lora_a", lora_a.astype(dtype))
        writer.add_tensor(f"{stem}.lora_b", lora_b.astype(dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target
