"""SFT / DPO / IPO / IPL / export / resume on the tiny random chat model (a few CPU steps each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fipo_integrations.backends.base import Backend, GenerationParams
from fipo_integrations.testing import naive_prompt_of
from training.config import TrainConfig
from training.ipl import run_ipl
from training.trainers import train

SMALL = Path(__file__).parent / "fixtures" / "training" / "pop_small.jsonl"


def _tensors(adapter_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(adapter_dir / "adapter_model.safetensors"))


def _config(model_dir: Path, tmp_path: Path, stage: str, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "stage": stage,
        "model": str(model_dir),
        "data": [str(SMALL)],
        "output_dir": str(tmp_path / stage),
        "max_steps": 2,
        "per_device_train_batch_size": 2,
        "save_steps": 0,
        "learning_rate": 1e-2,
    }
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def sft_run(tiny_chat_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp_path = tmp_path_factory.mktemp("sft")
    config = _config(tiny_chat_model_dir, tmp_path, "sft", export_dir=str(tmp_path / "merged"))
    return train(config), tmp_path


def test_sft_logs_loss_changes_lora_and_exports(sft_run: Any, tiny_chat_model_dir: Path) -> None:
    result, tmp_path = sft_run
    assert result.adapter_dir is not None
    assert len(result.losses) >= 2 and all(loss > 0 for loss in result.losses)
    logged = [json.loads(line) for line in (result.output_dir / "train_log.jsonl").read_text().splitlines()]
    assert any("loss" in entry for entry in logged)
    lora_b = {k: v for k, v in _tensors(result.adapter_dir).items() if "lora_B" in k}
    assert lora_b and any(float(v.abs().sum()) > 0 for v in lora_b.values())  # initialised to zero
    assert json.loads((result.adapter_dir / "fipo_training.json").read_text())["stage"] == "sft"

    from fipo_integrations import PromptOptimizer

    merged = PromptOptimizer(model=str(tmp_path / "merged"), cache=False, max_new_tokens=8)
    assert merged.optimize("Add 2 and 3.").original == "Add 2 and 3."
    with_adapter = PromptOptimizer(model=str(tiny_chat_model_dir), adapter=str(result.adapter_dir), cache=False)
    assert "+adapter@" in with_adapter.model_id
    merged_head = merged.backend.model.lm_head.weight  # type: ignore[attr-defined]
    adapted_head = with_adapter.backend.model.lm_head.weight  # type: ignore[attr-defined]
    assert merged_head.shape == adapted_head.shape


def test_dpo_and_ipo_use_their_losses(sft_run: Any, tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    sft, _ = sft_run
    assert sft.adapter_dir is not None
    dpo = train(_config(tiny_chat_model_dir, tmp_path, "dpo", max_steps=1))
    # group_by_length on preference rows (no input_ids column: the trainer measures prompt + longer completion)
    ipo = train(
        _config(
            tiny_chat_model_dir,
            tmp_path,
            "ipo",
            max_steps=1,
            init_adapter=str(sft.adapter_dir),
            group_by_length=True,
            per_device_train_batch_size=2,
        )
    )
    # At step 1 policy == reference: sigmoid loss = ln 2, IPO loss = (1 / (2 beta))^2 = 25 for beta = 0.1.
    assert dpo.losses[0] == pytest.approx(0.6931, abs=1e-3)
    assert ipo.losses[0] == pytest.approx(25.0, rel=1e-3)
    assert ipo.adapter_dir is not None
    before, after = _tensors(sft.adapter_dir), _tensors(ipo.adapter_dir)
    assert set(before) == set(after)
    assert any(not before[k].equal(after[k]) for k in before)  # the SFT adapter itself was trained further
    assert not (ipo.adapter_dir / "ref").exists()
    # RPO-style: the chosen rewrite's NLL added to the IPO loss (at step 1 the IPO part is still 25)
    mixed = train(_config(tiny_chat_model_dir, tmp_path / "mixed", "ipo", max_steps=1, sft_weight=1.0))
    assert mixed.losses[0] > 25.5
    with pytest.raises(ValueError, match="sft_weight must be >= 0"):
        _config(tiny_chat_model_dir, tmp_path, "ipo", sft_weight=-1.0)


def test_resume_continues_from_checkpoint(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    first = train(_config(tiny_chat_model_dir, tmp_path, "sft", max_steps=2, save_steps=1, max_samples=4))
    assert (first.output_dir / "checkpoint-2").is_dir()
    resumed = train(
        _config(tiny_chat_model_dir, tmp_path, "sft", max_steps=3, save_steps=1, max_samples=4, resume=True)
    )
    logged = [json.loads(line) for line in (resumed.output_dir / "train_log.jsonl").read_text().splitlines()]
    steps = [entry["step"] for entry in logged if "loss" in entry]
    assert steps == [1, 2, 3]  # finished steps were not redone
    assert (resumed.output_dir / "checkpoint-3").is_dir()


def test_full_weights_model_loads_in_engine(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    result = train(_config(tiny_chat_model_dir, tmp_path, "sft", lora=False, max_steps=1, learning_rate=1e-3))
    assert result.adapter_dir is None and result.model_dir is not None
    assert (result.model_dir / "model.safetensors").is_file()
    from fipo_integrations import PromptOptimizer

    optimizer = PromptOptimizer(model=str(result.model_dir), cache=False, max_new_tokens=4)
    assert optimizer.optimize("Name a colour.").original == "Name a colour."


def test_max_length_too_small_is_a_clear_error(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Raise --max-length"):
        train(_config(tiny_chat_model_dir, tmp_path, "sft", max_length=32))


class _MarkerJudge(Backend):
    """Rewrites add a marker the judge prefers; otherwise the judge picks the longer prompt."""

    model_id = "marker"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, conversations: Any, params: GenerationParams) -> list[list[str]]:
        self.calls.append(len(conversations))
        replies = []
        for conversation in conversations:
            text = conversation[-1]["content"]
            if "### Prompt A" in text:
                a = text.split("### Prompt A\n", 1)[1].split("\n\n### Prompt B\n", 1)[0]
                b = text.split("\n\n### Prompt B\n", 1)[1]
                pick = (
                    "A"
                    if "Be precise" in a or ("Be precise" not in b and len(a) >= len(b.split("\n\nWhich")[0]))
                    else "B"
                )
                replies.append([pick])
            elif "### Silver Prompt" in text:
                prompt = naive_prompt_of(conversation)
                options = "\nA: " + prompt.split("\nA: ", 1)[1] if "\nA: " in prompt else ""
                core = prompt.split("\nA: ", 1)[0]
                replies.append([f"{core} Be precise.{options}"])
            else:
                replies.append(["B"])
        return replies


def test_ipl_round_with_scripted_judge(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    backend = _MarkerJudge()
    config = _config(tiny_chat_model_dir, tmp_path, "ipl", max_steps=1, heldout_size=2, discriminator_keep=0.0)
    result = run_ipl(config, backend_factory=lambda model, adapter: backend)
    metrics = result.rounds[0]
    assert metrics.optimizer_rows == 6 and metrics.judge_heldout == 2
    assert metrics.selected == metrics.candidates_guarded > 0
    assert metrics.selection_rate == pytest.approx(metrics.selected / 6)
    assert metrics.judge_accuracy == 1.0  # chosen rewrites are the longer ones in the fixture
    assert metrics.discriminator_rows_kept == 0
    rows = [json.loads(line) for line in Path(metrics.data_path).read_text().splitlines()]
    assert not any(row["kind"] == "discriminator" for row in rows)
    assert sum("Be precise." in row["silver_prompt"] for row in rows if row["kind"] == "optimizer") == metrics.selected
    assert result.adapter_dir is not None
    assert (result.output_dir / "ipl_log.jsonl").is_file() and (result.adapter_dir / "adapter_config.json").is_file()
    # A second run skips the finished round.
    again = run_ipl(config, backend_factory=lambda model, adapter: backend)
    assert again.rounds[0] == metrics


def test_ipl_one_round_real_model_on_four_records(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    from training.pop import load_pop, write_pop_jsonl

    four = tmp_path / "four.jsonl"
    write_pop_jsonl(load_pop(SMALL).records[:4], four)
    config = _config(
        tiny_chat_model_dir,
        tmp_path,
        "ipl",
        data=[str(four)],
        max_steps=1,
        heldout_size=1,
        generation_max_new_tokens=8,
        response_max_new_tokens=8,
        export_dir=str(tmp_path / "ipl-merged"),
    )
    result = run_ipl(config)
    metrics = result.rounds[0]
    assert metrics.optimizer_rows == 3 and metrics.judge_heldout == 1
    assert metrics.judge_accuracy in (0.0, 1.0) and 0.0 <= metrics.selection_rate <= 1.0
    assert metrics.final_loss is not None
    logged = json.loads((result.output_dir / "ipl_log.jsonl").read_text().splitlines()[0])
    assert logged["round"] == 1 and "selection_rate" in logged and "judge_accuracy" in logged
    assert (tmp_path / "ipl-merged" / "model.safetensors").is_file()


def test_cli_train_sft_end_to_end(
    tiny_chat_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fipo_integrations.cli import main

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        f"stage: sft\nmodel: {tiny_chat_model_dir}\ndata: ['{SMALL.parent}/pop_small*.jsonl']\nmax_steps: 5\n",
        encoding="utf-8",
    )
    code = main(
        [
            "train",
            "sft",
            "--config",
            str(recipe),
            "--max-steps",
            "1",
            "--output-dir",
            str(tmp_path / "run"),
            "--adapter-dir",
            str(tmp_path / "adapter"),
            "--save-steps",
            "0",
        ]
    )
    assert code == 0
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert "adapter:" in capsys.readouterr().out
    assert main(["train", "dpo", "--config", str(recipe)]) == 1
    assert "is a 'sft' recipe" in capsys.readouterr().err


def test_package_adapter_casts_weights_and_drops_training_state(sft_run: Any, tmp_path: Path) -> None:
    import torch

    from training.trainers import package_adapter

    sft, _ = sft_run
    assert sft.adapter_dir is not None
    target = package_adapter(sft.adapter_dir, tmp_path / "shipped", base_model_name="org/base")
    original, packed = _tensors(sft.adapter_dir), _tensors(target)
    assert set(original) == set(packed)
    assert all(t.dtype == torch.bfloat16 for t in packed.values())
    assert all(torch.allclose(original[k].float(), packed[k].float(), rtol=1e-2, atol=1e-4) for k in original)
    shipped = {"README.md", "adapter_config.json", "adapter_model.safetensors", "fipo_training.json"}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in target.iterdir()} <= shipped
    assert json.loads((target / "adapter_config.json").read_text())["base_model_name_or_path"] == "org/base"
    assert (target / "fipo_training.json").is_file()
    with pytest.raises(ValueError, match="dtype"):
        package_adapter(sft.adapter_dir, tmp_path / "x", dtype="int8")
    with pytest.raises(FileNotFoundError, match=r"adapter_config\.json"):
        package_adapter(tmp_path, tmp_path / "y")


def test_cpu_completion_only_loss_equals_trl_loss(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    """The CPU SFT loss (LM head on completion tokens only) is trl's own loss, from the same batch."""
    import datasets
    import torch
    import trl

    from training.data import load_training_rows, to_trl_rows
    from training.trainers import _load_model_and_tokenizer, _lora_config, _sft_trainer_class, _trainer_args

    config = _config(tiny_chat_model_dir, tmp_path, "sft", per_device_train_batch_size=4, group_by_length=True)
    model, tokenizer = _load_model_and_tokenizer(config, cuda=False)
    rows = to_trl_rows(load_training_rows(config), preference=False)
    trainer = _sft_trainer_class(trl)(
        model=model,
        args=trl.SFTConfig(**_trainer_args(config, False), packing=False),
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=_lora_config(config),
    )
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    assert (batch["labels"] == -100).any() and (batch["labels"] != -100).any()  # prompt masked, completion kept
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, dict(batch))
        reference = trl.SFTTrainer.compute_loss(trainer, trainer.model, dict(batch))
    assert torch.isclose(ours, reference, rtol=1e-4), (float(ours), float(reference))
    assert trainer._metrics["train"]["mean_token_accuracy"]


def test_lora_top_layers_and_drop_truncated(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    """LoRA only on the last layer; rows longer than max_length are dropped, not cut."""
    full = train(_config(tiny_chat_model_dir, tmp_path / "full", "sft", max_steps=1, max_length=1024))
    top = train(
        _config(
            tiny_chat_model_dir,
            tmp_path / "top",
            "sft",
            max_steps=1,
            lora_top_layers=1,
            drop_truncated=True,
            max_length=1024,
        )
    )
    layers = {int(name.split("layers.")[1].split(".")[0]) for name in _tensors(top.adapter_dir)}
    assert layers == {1}  # the tiny model has layers 0 and 1
    assert {int(n.split("layers.")[1].split(".")[0]) for n in _tensors(full.adapter_dir)} == {0, 1}


def test_drop_truncated_leaves_out_long_rows(
    tiny_chat_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def dropped(**overrides: Any) -> int:
        caplog.clear()
        with caplog.at_level("WARNING", logger="training.trainers"):
            train(_config(tiny_chat_model_dir, tmp_path / str(len(caplog.records)), "sft", max_steps=1, **overrides))
        found = [r.getMessage() for r in caplog.records if "were dropped" in r.getMessage()]
        return int(found[0].split()[0]) if found else 0

    assert dropped(max_length=500, drop_truncated=True) > dropped(max_length=500)
