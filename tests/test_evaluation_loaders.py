"""Benchmark loaders on tiny fixtures in every original format, the few-shot split and the --limit draw."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from fipo_integrations.evaluation.data import BenchmarkData, EvalItem, TaskData, build_prompt, select_items
from fipo_integrations.evaluation.loaders import DataFormatError, load_benchmark, parse_gsm8k_answer

FIXTURES = Path(__file__).parent / "fixtures" / "evaluation"


def test_gsm8k_jsonl_with_train_shots() -> None:
    data = load_benchmark("gsm8k", FIXTURES)
    task = data.tasks[0]
    assert data.size == 5 and [item.target for item in task.items] == ["7", "60", "2400", "5", "42"]
    assert len(task.shots) == 3 and all(shot.item_id.startswith("gsm8k/train/") for shot in task.shots)
    assert task.shots[1].answer == "It drives 30 * 2 = 60 km. So it goes 60 km. The answer is 60."
    prompt = build_prompt(task.instruction, task.shots, task.items[0])
    assert prompt.startswith(task.instruction + "\n\nQ: Ann has 2 cats")
    assert prompt.endswith("Q: Tom has 3 apples and buys 4 more. How many apples does he have?\nA:")
    assert prompt.count("\n\nQ: ") == 4  # three demonstrations and the question


def test_gsm8k_answer_parsing() -> None:
    assert parse_gsm8k_answer("a = <<1+1=2>>2\nb\n#### 1,234") == ("a = 2 b", "1234")
    with pytest.raises(DataFormatError, match="#### N"):
        parse_gsm8k_answer("no final line")


def test_bbh_json_first_items_are_shots() -> None:
    data = load_benchmark("bbh", FIXTURES)
    assert [task.task for task in data.tasks] == ["boolean_expressions", "date_understanding", "word_sorting"]
    boolean = data.task("boolean_expressions")
    assert [shot.answer for shot in boolean.shots] == ["False", "True", "True"]
    assert [item.item_id for item in boolean.items] == [f"bbh/boolean_expressions/{i}" for i in (3, 4, 5)]
    assert boolean.instruction == "Evaluate the result of a random Boolean expression."
    assert data.size == 3 + 2 + 2
    assert data.task("date_understanding").items[0].target == "(A)"
    assert data.task("word_sorting").instruction == "Sort a list of words."
    with pytest.raises(KeyError, match="no task 'navigate'"):
        data.task("navigate")


def test_piqa_jsonl_and_labels() -> None:
    data = load_benchmark("piqa", FIXTURES)
    task = data.tasks[0]
    assert len(task.shots) == 3 and data.size == 3
    item = task.items[0]
    assert item.query == "Goal: Keep bread fresh.\nA. Leave it in the sun.\nB. Store it in a bag.\nAnswer:"
    assert (item.target, item.choices) == ("B", ("A", "B"))
    assert task.shots[0].demonstration().endswith("Answer: A")


def test_cosmosqa_csv() -> None:
    data = load_benchmark("cosmosqa", FIXTURES)
    task = data.tasks[0]
    assert len(task.shots) == 5 and data.size == 3
    assert [item.target for item in task.items] == ["D", "B", "D"]
    assert task.items[0].query.startswith("Context: Mia went to the market on day 5")
    assert "\nD. None of the above choices .\nAnswer:" in task.items[0].query


def test_mmlu_headerless_csv_dev_shots_and_fallback() -> None:
    data = load_benchmark("mmlu", FIXTURES)
    astronomy, virology = data.task("astronomy"), data.task("virology")
    assert len(astronomy.shots) == 5 and all("/dev/" in shot.item_id for shot in astronomy.shots)
    assert [item.target for item in astronomy.items] == ["B", "C", "A", "D"]
    assert astronomy.items[1].query.startswith('What is a "light-year" a unit of?\nA. Time')
    # no dev file: the first five test items become the examples
    assert len(virology.shots) == 5 and [item.item_id for item in virology.items] == ["mmlu/virology/test/5"]
    assert astronomy.instruction == "The following are multiple choice questions (with answers) about astronomy."
    shared = load_benchmark("mmlu", FIXTURES, mmlu_shared_instruction=True)
    assert len({task.instruction for task in shared.tasks}) == 1


def test_shots_override() -> None:
    assert load_benchmark("bbh", FIXTURES, shots=1).size == 5 + 4 + 4
    assert load_benchmark("gsm8k", FIXTURES, shots=0).tasks[0].shots == []


def test_format_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="one folder per benchmark"):
        load_benchmark("cosmosqa", tmp_path)
    (tmp_path / "piqa").mkdir()
    (tmp_path / "piqa" / "valid.jsonl").write_text('{"goal": "g", "sol1": "a", "sol2": "b"}\n')
    with pytest.raises(DataFormatError, match=r"valid-labels\.lst"):
        load_benchmark("piqa", tmp_path)
    (tmp_path / "piqa" / "valid-labels.lst").write_text("0\n1\n")
    with pytest.raises(DataFormatError, match="1 PiQA records but 2 labels"):
        load_benchmark("piqa", tmp_path)
    (tmp_path / "bbh").mkdir()
    (tmp_path / "bbh" / "task.json").write_text(json.dumps({"examples": [{"input": "x"}]}))
    with pytest.raises(DataFormatError, match="lacks \\['target'\\]"):
        load_benchmark("bbh", tmp_path)
    (tmp_path / "mmlu" / "test").mkdir(parents=True)
    (tmp_path / "mmlu" / "test" / "x_test.csv").write_text("q,a,b,c,d,E\n")
    with pytest.raises(DataFormatError, match="answer\\(A-D\\)"):
        load_benchmark("mmlu", tmp_path)
    with pytest.raises(ValueError, match="unknown benchmark 'squad'"):
        load_benchmark("squad", tmp_path)


def _items(task: str, count: int) -> list[EvalItem]:
    return [EvalItem("bbh", task, f"bbh/{task}/{i}", f"q{i}", "a", "a") for i in range(count)]


def test_limit_is_seeded_and_spread_over_bbh_tasks() -> None:
    tasks = [TaskData("bbh", name, "", items=_items(name, count)) for name, count in (("a", 10), ("b", 1), ("c", 10))]
    data = BenchmarkData("bbh", tasks)
    picked = select_items(data, 9, seed=0)
    counts = {name: sum(1 for item in picked if item.task == name) for name in "abc"}
    assert counts == {"a": 3, "b": 1, "c": 5}  # b has one item; its spare share moves on to c
    assert select_items(data, 9, seed=0) == picked
    assert select_items(data, 9, seed=1) != picked
    assert select_items(data, None) == [item for task in tasks for item in task.items]
    with pytest.raises(ValueError, match="limit must be >= 1"):
        select_items(data, 0)


def test_limit_pools_other_benchmarks() -> None:
    data = load_benchmark("mmlu", FIXTURES)
    picked = select_items(data, 2, seed=3)
    assert len(picked) == 2 and picked == select_items(data, 2, seed=3)
    assert len(select_items(data, 100)) == data.size


def test_hub_fallback_converts_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def load_dataset(hub_id: str, config: str | None = None, split: str | None = None) -> Any:
        calls.append((hub_id, config, split))
        if hub_id == "openai/gsm8k":
            rows = [{"question": f"q{i}", "answer": f"r\n#### {i}"} for i in range(5)]
            return {"train": rows, "test": rows}
        if hub_id == "cais/mmlu":
            row = {"question": "q", "subject": "anatomy", "choices": ["w", "x", "y", "z"], "answer": 2}
            return {"test": [row] * 3, "dev": [row] * 5}
        raise AssertionError(hub_id)

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    gsm8k = load_benchmark("gsm8k")
    assert gsm8k.source == "hub:openai/gsm8k" and gsm8k.size == 5 and gsm8k.tasks[0].items[3].target == "3"
    mmlu = load_benchmark("mmlu")
    assert mmlu.tasks[0].task == "anatomy" and [item.target for item in mmlu.tasks[0].items] == ["C"] * 3
    assert calls == [("openai/gsm8k", "main", None), ("cais/mmlu", "all", None)]
