"""POP loading, diversification, building and config: fast tests without a model."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from fipo_integrations.templates import render_discriminator_messages, render_optimizer_messages
from fipo_integrations.testing import ScriptedBackend
from training.build import build_pop, load_raw_prompts
from training.cli import register_pop, register_train
from training.config import TrainConfig, load_config
from training.data import detect_format, load_training_rows, to_trl_rows
from training.diversify import diversify, ipl_rows, preference_rows, sft_rows, write_datasets
from training.pop import POPRecord, POPValidationError, load_pop

FIXTURES = Path(__file__).parent / "fixtures" / "training"
SMALL = FIXTURES / "pop_small.jsonl"
RECIPES = Path(__file__).parents[1] / "training" / "recipes"


def _synthetic(n: int, *, naive: bool = True) -> list[POPRecord]:
    return [
        POPRecord.from_dict(
            {
                "id": f"r{i:04d}",
                "raw_prompt": f"Compute {i} plus {i + 1}.",
                "naive_response": f"{2 * i}" if naive else "",
                "golden_response": f"{i} + {i + 1} = {2 * i + 1}",
                "chosen_prompt": f"Compute {i} plus {i + 1}. Show the sum and end with: The answer is N.",
                "rejected_prompt": "Compute it.",
            }
        )
        for i in range(n)
    ]


# --------------------------------------------------------------------------------------------- POP loading
def test_load_pop_reads_fixture_with_aliases_and_extra_fields() -> None:
    report = load_pop(SMALL)
    assert len(report.records) == 8 and report.invalid == 0 and report.duplicates == 0
    record = report.records[0]
    assert record.chosen_prompt == record.gpt4_optimized_prompt
    assert record.rejected_prompt == record.chatgpt_optimized_prompt
    assert record.naive_response == "17 + 25 = 42" and record.golden_response == "42"
    assert record.extra == {"task_kind": "open_qa", "source": "fipo-integrations-authored", "license": "Apache-2.0"}
    assert record.to_dict()["task_kind"] == "open_qa"


def test_duplicates_are_removed() -> None:
    report = load_pop(FIXTURES / "pop_duplicates.jsonl")
    assert [r.id for r in report.records] == ["pop-001", "pop-002", "pop-003"]
    assert report.duplicates == 2


def test_malformed_record_error_names_file_and_line() -> None:
    path = FIXTURES / "pop_malformed.jsonl"
    with pytest.raises(POPValidationError, match=r"pop_malformed\.jsonl:3: field 'raw_prompt' is missing or empty"):
        load_pop(path)
    report = load_pop(path, skip_invalid=True)
    assert [r.id for r in report.records] == ["pop-001", "pop-002"]
    assert report.invalid == 2
    assert report.errors[0].startswith(f"{path}:3:") and report.errors[1].startswith(f"{path}:4:")
    assert "must be a string" in report.errors[1]


def test_bad_json_and_empty_dataset_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"raw_prompt": "a", "chosen_prompt": "b"}\n{"raw_prompt": \n', encoding="utf-8")
    with pytest.raises(POPValidationError, match=r"bad\.jsonl:2: not valid JSON"):
        load_pop(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(POPValidationError, match="empty"):
        load_pop(empty)
    with pytest.raises(FileNotFoundError, match="matches no file"):
        load_pop(str(tmp_path / "missing-*.jsonl"))


def test_json_list_and_parquet(tmp_path: Path) -> None:
    rows = [r.to_dict() for r in load_pop(SMALL).records]
    listed = tmp_path / "pop.json"
    listed.write_text(json.dumps(rows), encoding="utf-8")
    assert len(load_pop(listed).records) == 8
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "pop.parquet")
    assert [r.id for r in load_pop(tmp_path / "pop.parquet").records] == [r["id"] for r in rows]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([rows[0], {"raw_prompt": 3}]), encoding="utf-8")
    with pytest.raises(POPValidationError, match=r"broken\.json: item 2"):
        load_pop(broken)


def test_seed_dataset_parts_load() -> None:
    parts = sorted((Path(__file__).parents[1] / "training" / "data" / "pop-seed" / "parts").glob("*.jsonl"))
    if not parts:
        pytest.skip("no seed parts yet")
    report = load_pop([str(p) for p in parts], skip_invalid=True)
    assert report.records and "task_kind" in report.records[0].extra


# ----------------------------------------------------------------------------------------- diversification
def test_diversify_fractions_and_label_noise() -> None:
    result = diversify(_synthetic(400), seed=3, label_noise=0.2)
    mc = [item for item in result.items if item.multiple_choice]
    assert len(mc) == 200  # exactly half of the eligible records
    noisy = sum(item.noisy_label for item in mc) / len(mc)
    assert 0.12 < noisy < 0.28
    for item in mc:
        assert item.golden_response in ("A", "B") and item.silver_response in ("A", "B")
        assert (item.silver_response == item.golden_response) == item.noisy_label
        options = dict(line.split(": ", 1) for line in item.post_options.strip().splitlines()[:2])
        assert options[item.golden_response].endswith(f"= {int(item.id[1:]) * 2 + 1}")
        assert item.chosen.endswith(item.post_options) and item.silver_prompt.endswith(item.post_options)
    counts = Counter(item.variant for item in result.items)
    assert set(counts) == {"none", "silver", "golden", "both"}
    assert all(70 < n < 130 for n in counts.values())
    assert all(item.max_words == len(item.chosen.split()) for item in result.items)
    assert result.stats["multiple_choice"] == 200 and result.stats["variants"] == dict(counts)


def test_diversify_is_seeded_and_per_record() -> None:
    records = _synthetic(60)
    first, again, other = diversify(records, seed=1), diversify(records, seed=1), diversify(records, seed=2)
    assert sft_rows(first) == sft_rows(again)
    assert sft_rows(first) != sft_rows(other)
    without_mc = diversify(records, seed=1, multiple_choice_fraction=0.0)
    subset = diversify(records[:10], seed=1, multiple_choice_fraction=0.0)
    assert [i.variant for i in subset.items] == [i.variant for i in without_mc.items[:10]]


def test_none_fraction_and_runtime_budget() -> None:
    from fipo_integrations.templates import default_max_words

    records = _synthetic(400)
    uniform = diversify(records, seed=0)
    assert uniform.items == diversify(records, seed=0, none_fraction=None, budget="chosen").items  # the paper's
    mostly_naive = diversify(records, seed=0, none_fraction=0.75, budget="runtime")
    counts = Counter(item.variant for item in mostly_naive.items)
    assert 260 < counts["none"] < 340 and set(counts) == {"none", "silver", "golden", "both"}
    assert all(item.variant == "none" for item in diversify(records, seed=0, none_fraction=1.0).items)
    assert not any(item.variant == "none" for item in diversify(records, seed=0, none_fraction=0.0).items)
    for item in mostly_naive.items:
        expected = max(len(item.chosen.split()), default_max_words(item.silver_prompt))
        assert item.max_words == expected
        prompt = optimizer_messages_text(item)
        assert f"at most {expected} words" in prompt
    with pytest.raises(ValueError, match="none_fraction"):
        diversify(records, none_fraction=1.5)
    with pytest.raises(ValueError, match="budget"):
        diversify(records, budget="tight")
    with pytest.raises(ValueError, match="none_fraction"):
        TrainConfig(stage="sft", none_fraction=-0.1)


def optimizer_messages_text(item: object) -> str:
    from training.diversify import optimizer_messages

    return optimizer_messages(item)[0]["content"]  # type: ignore[arg-type]


def test_no_label_noise_and_no_naive_response() -> None:
    clean = diversify(_synthetic(50), seed=0, label_noise=0.0)
    assert not any(item.noisy_label for item in clean.items)
    no_naive = diversify(_synthetic(50, naive=False), seed=0)
    assert not any(item.multiple_choice for item in no_naive.items)
    assert {item.variant for item in no_naive.items} <= {"none", "golden"}
    assert no_naive.stats["without_naive_response"] == 50
    with pytest.raises(ValueError, match="label_noise"):
        diversify(_synthetic(2), label_noise=1.5)


def test_rows_render_through_runtime_templates(tmp_path: Path) -> None:
    records = load_pop(SMALL).records
    result = diversify(records, seed=0)
    for item, row in zip(result.items, sft_rows(result), strict=True):
        expected = render_optimizer_messages(
            item.silver_prompt,
            silver_response=item.silver_response if item.variant in ("silver", "both") else None,
            golden_response=item.golden_response if item.variant in ("golden", "both") else None,
            max_words=item.max_words,
        )
        assert row["messages"] == [*expected, {"role": "assistant", "content": item.chosen}]
    for item, row in zip(result.items, preference_rows(result), strict=True):
        assert row["chosen"][0]["content"] == item.chosen and row["rejected"][0]["content"] == item.rejected
    rows = ipl_rows(result)
    assert len(rows) == 2 * len(records)
    for row in rows:
        if row["kind"] == "discriminator":
            item = next(i for i in result.items if i.id == row["id"].split("#")[0])
            a, b = (item.chosen, item.rejected) if row["chosen"][0]["content"] == "A" else (item.rejected, item.chosen)
            assert row["prompt"] == render_discriminator_messages(
                item.silver_prompt, a, b, golden_response=item.golden_response
            )
    paths = write_datasets(result, tmp_path)
    assert sum(1 for _ in paths["sft"].open()) == 8
    assert json.loads(paths["stats"].read_text())["records"] == 8
    assert detect_format(json.loads(paths["ipl"].read_text().splitlines()[0])) == "ipl"


def test_training_rows_from_pop_and_prepared(tmp_path: Path) -> None:
    sft = load_training_rows(TrainConfig(stage="sft", data=[str(SMALL)]))
    converted = to_trl_rows(sft, preference=False)
    assert converted[0]["completion"][0]["role"] == "assistant" and converted[0]["prompt"][0]["role"] == "user"
    paths = write_datasets(diversify(load_pop(SMALL).records), tmp_path)
    dpo = load_training_rows(TrainConfig(stage="dpo", data=[str(paths["dpo"])]))
    assert len(dpo) == 8
    with pytest.raises(ValueError, match="needs preference rows"):
        load_training_rows(TrainConfig(stage="ipo", data=[str(paths["sft"])]))
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        paths["dpo"].read_text().splitlines()[0] + "\n" + '{"prompt": "x", "chosen": [], "rejected": "y"}\n'
    )
    with pytest.raises(POPValidationError, match=r"broken\.jsonl:2: field 'chosen'"):
        load_training_rows(TrainConfig(stage="dpo", data=[str(broken)]))
    assert len(load_training_rows(TrainConfig(stage="dpo", data=[str(broken)], skip_invalid=True))) == 1


# ------------------------------------------------------------------------------------------------ building
def _teachers() -> tuple[ScriptedBackend, ScriptedBackend]:
    weak = ScriptedBackend(lambda prompt: "Do the task.", model_id="weak")
    strong = ScriptedBackend(lambda prompt: f"{prompt} Reply with the result only.", model_id="strong")
    return weak, strong


def test_build_pop_assigns_teachers_and_resumes(tmp_path: Path) -> None:
    weak, strong = _teachers()
    output = tmp_path / "pop.jsonl"
    report = build_pop(FIXTURES / "raw_prompts.txt", output, weak=weak, strong=strong, batch_size=2, progress=False)
    assert report.written == 3 and report.failed == 0
    records = load_pop(output).records
    first = records[0]
    assert first.raw_prompt == "Add 2 and 3."
    # Strong teacher answered the raw prompt (golden) and wrote the chosen rewrite with the golden variant.
    assert first.golden_response == "Reply with the result only."  # the script saw no template: raw answer
    assert first.chosen_prompt == "Add 2 and 3. Reply with the result only."
    assert first.rejected_prompt == "Do the task." and first.naive_response == "Do the task."
    strong_conversations = [c for call in strong.calls for c in call]
    assert any("### Golden Response" in c[-1]["content"] for c in strong_conversations)
    assert any(c[-1]["content"] == "Add 2 and 3." for c in strong_conversations)
    # Resume: a torn last line is dropped, finished ids are skipped, nothing is redone.
    lines = output.read_text().splitlines()
    output.write_text("\n".join(lines[:2]) + "\n" + lines[2][:20], encoding="utf-8")
    weak2, strong2 = _teachers()
    again = build_pop(FIXTURES / "raw_prompts.txt", output, weak=weak2, strong=strong2, progress=False)
    assert again.skipped_finished == 2 and again.written == 1
    assert len(load_pop(output).records) == 3
    assert sum(len(call) for call in strong2.calls) == 2  # golden + chosen for the one missing record


def test_build_pop_crash_keeps_finished_records(tmp_path: Path) -> None:
    weak, strong = _teachers()

    def explode(prompt: str) -> str:
        if "boiling" in prompt:
            raise RuntimeError("teacher went away")
        return f"{prompt} Be exact."

    flaky = ScriptedBackend(explode)
    output = tmp_path / "pop.jsonl"
    with pytest.raises(RuntimeError, match="teacher went away"):
        build_pop(
            FIXTURES / "raw_prompts.txt", output, weak=weak, strong=flaky, batch_size=1, concurrency=1, progress=False
        )
    assert len(output.read_text().splitlines()) == 2
    report = build_pop(FIXTURES / "raw_prompts.txt", output, weak=weak, strong=strong, progress=False)
    assert (report.skipped_finished, report.written) == (2, 1)


def test_build_pop_fills_only_missing_fields(tmp_path: Path) -> None:
    record = load_pop(SMALL).records[0].to_dict()
    record["text003_response_based_raw"] = ""
    source = tmp_path / "partial.jsonl"
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    weak, strong = _teachers()
    build_pop(source, tmp_path / "out.jsonl", weak=weak, strong=strong, progress=False)
    built = load_pop(tmp_path / "out.jsonl").records[0]
    assert built.naive_response == "Do the task."
    assert built.chosen_prompt == record["gpt4_optimized_prompt"] and built.extra["task_kind"] == "open_qa"
    assert strong.calls == []  # nothing for the strong teacher to do
    with pytest.raises(POPValidationError, match="raw_prompt"):
        load_raw_prompts([str(FIXTURES / "pop_malformed.jsonl")])


# -------------------------------------------------------------------------------------------- config + CLI
def test_config_yaml_overrides_and_validation(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stage: dpo\nlearning_rate: 0.001\nbeta: 0.2\ndata: [a.jsonl]\n", encoding="utf-8")
    config = load_config(recipe, stage="dpo", beta=0.3)
    assert (config.learning_rate, config.beta, config.loss_type, config.data) == (0.001, 0.3, "sigmoid", ["a.jsonl"])
    with pytest.raises(ValueError, match="is a 'dpo' recipe"):
        load_config(recipe, stage="sft")
    recipe.write_text("learnig_rate: 0.1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="did you mean 'learning_rate'"):
        load_config(recipe)
    with pytest.raises(ValueError, match="lora_r must be a positive integer"):
        TrainConfig(lora_r=0)
    with pytest.raises(ValueError, match="label_noise"):
        TrainConfig(label_noise=2.0)


def test_every_recipe_is_valid() -> None:
    import yaml

    recipes = sorted(RECIPES.glob("*.yaml"))
    shipped = {
        "default-qwen-sft.yaml",
        "default-qwen-append.yaml",
        "default-smollm2-sft.yaml",
        "default-smollm2-ipo.yaml",
    }
    assert shipped <= {r.name for r in recipes}
    for recipe in recipes:
        config = load_config(recipe)
        assert config.data, recipe
    accelerate = {p.name: yaml.safe_load(p.read_text()) for p in (RECIPES / "accelerate").glob("*.yaml")}
    assert (
        accelerate["ddp.yaml"]["distributed_type"] == "MULTI_GPU" and accelerate["cpu-2proc.yaml"]["num_processes"] == 2
    )
    assert accelerate["fsdp.yaml"]["distributed_type"] == "FSDP"
    assert accelerate["zero3.yaml"]["deepspeed_config"]["zero_stage"] == 3


def _parser() -> object:
    import argparse

    parser = argparse.ArgumentParser(prog="fipo")
    subparsers = parser.add_subparsers(dest="command")
    register_pop(subparsers)
    register_train(subparsers)
    return parser


def test_cli_pop_diversify_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = _parser()
    args = parser.parse_args(  # type: ignore[attr-defined]
        ["pop", "diversify", "--input", str(SMALL), "--output-dir", str(tmp_path), "--seed", "5"]
    )
    assert args.handler(args) == 0
    assert (tmp_path / "dpo.jsonl").is_file() and "sft:" in capsys.readouterr().out
    args = parser.parse_args(["pop", "validate", "--input", str(FIXTURES / "pop_malformed.jsonl")])  # type: ignore[attr-defined]
    assert args.handler(args) == 1
    assert "pop_malformed.jsonl:3" in capsys.readouterr().err


def test_cli_train_flags_override_config(tmp_path: Path) -> None:
    from training.config import config_from_args

    recipe = tmp_path / "r.yaml"
    recipe.write_text("stage: sft\nmax_steps: 5\nlora: true\ndata: [x.jsonl]\n", encoding="utf-8")
    parser = _parser()
    args = parser.parse_args(  # type: ignore[attr-defined]
        ["train", "sft", "--config", str(recipe), "--max-steps", "2", "--no-lora", "--adapter-dir", "none"]
    )
    config = config_from_args(args, "sft")
    assert (config.max_steps, config.lora, config.adapter_dir, config.data) == (2, False, None, ["x.jsonl"])
