"""Slow training tests: the embedded SmolLM2 (a few steps) and a two-process accelerate run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from training.config import TrainConfig
from training.trainers import train

FIXTURES = Path(__file__).parent / "fixtures" / "training"
ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_smollm2_sft_lora_then_ipo_and_engine(embedded_model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    common: dict[str, Any] = {
        "model": "embedded:smollm2-135m-instruct",
        "data": [str(FIXTURES / "pop_small.jsonl")],
        "max_steps": 2,
        "per_device_train_batch_size": 2,
        "max_length": 384,
        "save_steps": 0,
        "learning_rate": 1e-3,
    }
    sft = train(
        TrainConfig(stage="sft", output_dir=str(tmp_path / "sft"), export_dir=str(tmp_path / "merged"), **common)
    )
    assert sft.adapter_dir is not None and len(sft.losses) >= 2 and all(0 < loss < 20 for loss in sft.losses)
    weights = load_file(str(sft.adapter_dir / "adapter_model.safetensors"))
    assert any(float(v.abs().sum()) > 0 for k, v in weights.items() if "lora_B" in k)
    ipo_config: dict[str, Any] = {**common, "max_steps": 1}
    ipo = train(
        TrainConfig(stage="ipo", output_dir=str(tmp_path / "ipo"), init_adapter=str(sft.adapter_dir), **ipo_config)
    )
    assert ipo.losses and ipo.losses[0] == pytest.approx(25.0, rel=1e-2)

    from fipo_integrations import PromptOptimizer

    for optimizer in (
        PromptOptimizer(model=str(tmp_path / "merged"), cache=False, max_new_tokens=16),
        PromptOptimizer(
            model="embedded:smollm2-135m-instruct", adapter=str(ipo.adapter_dir), cache=False, max_new_tokens=16
        ),
    ):
        result = optimizer.optimize("Summarise {text} in one sentence.")
        assert result.original == "Summarise {text} in one sentence." and result.candidate


@pytest.mark.slow
def test_accelerate_two_cpu_processes(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "run"
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ROOT / "training" / "recipes" / "accelerate" / "cpu-2proc.yaml"),
        "--main_process_port", "29587",
        "-m", "training", "train", "sft",
        "--model", str(tiny_chat_model_dir),
        "--data", str(FIXTURES / "pop_small.jsonl"),
        "--output-dir", str(output),
        "--num-train-epochs", "1",
        "--per-device-train-batch-size", "2",
        "--save-steps", "1",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    metrics = json.loads((output / "metrics.json").read_text())
    # 8 rows, 2 per device, 2 processes: one epoch is 2 steps (a single process would take 4).
    assert metrics["world_size"] == 2 and metrics["global_step"] == 2
    assert (output / "adapter" / "adapter_model.safetensors").is_file()
    assert (output / "checkpoint-2").is_dir()
    assert completed.stdout.count("adapter:") == 1  # only rank 0 reports
