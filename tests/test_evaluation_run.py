"""End-to-end runs of the evaluation harness: fake and tiny models (fast) and the embedded models (slow)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from fipo_integrations import PromptOptimizer
from fipo_integrations.cli import main
from fipo_integrations.evaluation.runner import EvalConfig, run_evaluation
from fipo_integrations.evaluation.testing_models import TestingModel, TransformersTestingModel, make_testing_model
from fipo_integrations.testing import ScriptedBackend

FIXTURES = Path(__file__).parent / "fixtures" / "evaluation"
MARKER = "Think it through before answering."


class FakeModel(TestingModel):
    """Always answers "The answer is 5." / letter A; letter B when the prompt holds the optimized marker."""

    supports_logprobs = True

    def __init__(self, label: str = "fake", fail_after: int | None = None) -> None:
        self.label = label
        self.key = f"fake:{label}"
        self.prompts: list[str] = []
        self.loads = 0
        self.fail_after = fail_after

    def load(self) -> None:
        self.loads += 1

    def _count(self, prompts: Sequence[str]) -> None:
        if self.fail_after is not None and len(self.prompts) >= self.fail_after:
            raise KeyboardInterrupt("simulated crash")
        self.prompts.extend(prompts)

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int, stop: Sequence[str] = (), stop_pattern: str | None = None
    ) -> list[str]:
        self._count(prompts)
        return ["The answer is 5.\n\nQ: ignored" for _ in prompts]

    def option_logprobs(self, prompts: Sequence[str], letters: Sequence[str]) -> list[list[float]]:
        self._count(prompts)
        best = ["B" if MARKER in prompt else "A" for prompt in prompts]
        return [[0.0 if letter == choice else -2.0 for letter in letters] for choice in best]


def _optimizer() -> PromptOptimizer:
    return PromptOptimizer(ScriptedBackend(lambda prompt: f"{prompt} {MARKER}"), cache=False)


def _config(out: Path, **overrides: object) -> EvalConfig:
    settings: dict[str, object] = {
        "out_dir": out,
        "data_dir": FIXTURES,
        "models": ("fake",),
        "optimizers": ("none", "scripted=default"),
        "progress": False,
        # FakeModel answers a letter whatever the options say: count one prompt per PiQA item
        "option_orders": {"piqa": "given"},
    }
    settings.update(overrides)
    return EvalConfig(**settings)  # type: ignore[arg-type]


def test_report_numbers_with_a_fake_model(tmp_path: Path) -> None:
    model = FakeModel()
    report = run_evaluation(_config(tmp_path), testing_models=[model], optimizers={"scripted": _optimizer()})
    rows = {(row["benchmark"], row["source"]): row for row in report["results"]}
    # GSM8K targets 7, 60, 2400, 5, 42: "The answer is 5." is right once, with either prompt.
    assert (rows[("gsm8k", "naive")]["correct"], rows[("gsm8k", "naive")]["n"]) == (1, 5)
    # PiQA targets B, A, B: naive always says A (1/3), optimized always B (2/3): gained 2, lost 1.
    piqa = rows[("piqa", "scripted")]
    assert rows[("piqa", "naive")]["correct"] == 1 and piqa["correct"] == 2
    assert piqa["vs_naive"]["gained"] == 2 and piqa["vs_naive"]["lost"] == 1
    assert piqa["vs_naive"]["difference"] == pytest.approx(1 / 3)
    assert piqa["vs_naive"]["p_value"] == pytest.approx(1.0)
    assert rows[("mmlu", "naive")]["correct"] == 2 and rows[("mmlu", "naive")]["n"] == 5  # targets B C A D | A
    # weighted average with test-set sizes 5, 7, 3, 3, 5
    naive_average = next(e for e in report["weighted_average"] if e["source"] == "naive")
    sizes = {"gsm8k": 5, "bbh": 7, "piqa": 3, "cosmosqa": 3, "mmlu": 5}
    correct = {name: rows[(name, "naive")]["correct"] for name in sizes}
    expected = sum(sizes[name] * correct[name] / sizes[name] for name in sizes) / sum(sizes.values())
    assert naive_average["accuracy"] == pytest.approx(expected)
    # outputs beside each other
    for name in ("report.json", "report.md", "report.png", "instructions.json", "results.jsonl"):
        assert (tmp_path / name).is_file(), name
    instructions = json.loads((tmp_path / "instructions.json").read_text())
    rewrite = instructions["scripted"]["benchmarks"]["bbh"]["word_sorting"]
    assert rewrite == {**rewrite, "naive": "Sort a list of words.", "optimized": f"Sort a list of words. {MARKER}"}
    assert instructions["naive"]["benchmarks"]["mmlu"]["virology"]["accepted"] is True
    markdown = (tmp_path / "report.md").read_text()
    assert "| PiQA | 3 | 3 | 33.3 [6.1, 79.2] | 66.7 [20.8, 93.9] | +33.3 [" in markdown
    assert "**Weighted avg**" in markdown
    # few-shot examples are never rewritten: the optimized prompts differ from the naive ones only in the instruction
    naive_prompt = next(p for p in model.prompts if p.startswith("Choose the solution") and MARKER not in p)
    assert naive_prompt.count("Answer: A") + naive_prompt.count("Answer: B") == 3


class LetterBiasedModel(FakeModel):
    """Prefers letter A by 1.0 nat and the sensible option text by 0.5: in the given order it answers A to
    every item; averaged over both option orders the text decides."""

    SENSIBLE = ("Store it in a bag.", "Switch on a lamp.", "Wipe it with soapy water.")

    def option_logprobs(self, prompts: Sequence[str], letters: Sequence[str]) -> list[list[float]]:
        self._count(prompts)
        scores = []
        for prompt in prompts:
            shown = dict(re.findall(r"^([A-D])\. (.*)$", prompt.rsplit("Goal:", 1)[-1], flags=re.MULTILINE))
            scores.append([-3.0 + (letter == "A") + 0.5 * (shown[letter] in self.SENSIBLE) for letter in letters])
        return scores


def test_cyclic_option_order_cancels_a_letter_preference(tmp_path: Path) -> None:
    given = run_evaluation(
        _config(tmp_path / "given", benchmarks=["piqa"], optimizers=("none",)),
        testing_models=[LetterBiasedModel()],
    )
    assert given["results"][0]["correct"] == 1  # targets B, A, B: always "A"
    model = LetterBiasedModel()
    cyclic = run_evaluation(
        _config(tmp_path / "cyclic", benchmarks=["piqa"], optimizers=("none",), option_orders={}),
        testing_models=[model],
    )
    assert cyclic["config"]["option_orders"]["piqa"] == "cyclic"  # the default for PiQA
    assert cyclic["results"][0]["correct"] == 3
    assert len(model.prompts) == 6  # both orders of each of the 3 items
    records = [json.loads(line) for line in (tmp_path / "cyclic" / "results.jsonl").read_text().splitlines()]
    keep_bread = next(r for r in records if r["item_id"] == "piqa/3")
    # option A "Leave it in the sun." shown as A (-2.0) and as B (-3.0); option B as B (-2.5) and as A (-1.5)
    assert keep_bread["logprobs"] == [-2.5, -2.0] and keep_bread["given_order_logprobs"] == [-2.0, -2.5]
    assert keep_bread["prediction"] == "B" and keep_bread["correct"] is True
    # the few-shot examples keep their order and answers: only the scored item is re-ordered
    assert all(prompt.count("Answer: A") + prompt.count("Answer: B") == 3 for prompt in model.prompts)
    with pytest.raises(ValueError, match="not a multiple-choice benchmark"):
        _config(tmp_path, option_orders={"gsm8k": "cyclic"})
    with pytest.raises(ValueError, match="given, cyclic"):
        _config(tmp_path, option_orders={"mmlu": "shuffled"})


def test_fixed_rewrites_from_a_file(tmp_path: Path) -> None:
    """``file:PATH`` columns (hand-written "expert" rewrites): covered instructions are replaced, others stay."""
    rewrites = tmp_path / "expert.jsonl"
    rewrites.write_text(
        json.dumps({"naive": "Sort a list of words.", "rewrite": f"Sort the words alphabetically. {MARKER}"}) + "\n",
        encoding="utf-8",
    )
    config = _config(tmp_path / "run", optimizers=("none", f"expert=file:{rewrites}"))
    run_evaluation(config, testing_models=[FakeModel()])
    instructions = json.loads((tmp_path / "run" / "instructions.json").read_text())["expert"]["benchmarks"]
    assert instructions["bbh"]["word_sorting"]["optimized"] == f"Sort the words alphabetically. {MARKER}"
    virology = instructions["mmlu"]["virology"]
    assert virology["optimized"] == virology["naive"] and virology["accepted"] is False
    assert "not in expert.jsonl" in virology["reason"]
    with pytest.raises(ValueError, match="no rewrites file"):
        run_evaluation(
            _config(tmp_path / "x", optimizers=("none", "file:/nowhere.jsonl")), testing_models=[FakeModel()]
        )
    rewrites.write_text('{"naive": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="'naive' and 'rewrite'"):
        run_evaluation(_config(tmp_path / "y", optimizers=("none", f"file:{rewrites}")), testing_models=[FakeModel()])


def test_rerun_skips_finished_items_and_resumes_after_a_crash(tmp_path: Path) -> None:
    crashing = FakeModel(fail_after=20)
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(
            _config(tmp_path, batch_size=2), testing_models=[crashing], optimizers={"scripted": _optimizer()}
        )
    saved = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert 0 < len(saved) < 46
    resumed = FakeModel()
    first = run_evaluation(
        _config(tmp_path, batch_size=2), testing_models=[resumed], optimizers={"scripted": _optimizer()}
    )
    assert len(resumed.prompts) == 46 - len(saved)  # 23 items x 2 prompt sources, minus what was saved
    again = FakeModel()
    second = run_evaluation(
        _config(tmp_path, batch_size=2), testing_models=[again], optimizers={"scripted": _optimizer()}
    )
    assert again.prompts == [] and again.loads == 0  # everything cached: the model is not even loaded
    assert second["results"] == first["results"]
    # a torn last line (killed mid-write) is ignored, and that item is scored again
    with (tmp_path / "results.jsonl").open("a") as handle:
        handle.write('{"key": "torn')
    third = FakeModel()
    run_evaluation(_config(tmp_path), testing_models=[third], optimizers={"scripted": _optimizer()})
    assert third.prompts == []


def test_identical_instructions_share_results(tmp_path: Path) -> None:
    """An optimizer that keeps the naive instruction (guard fallback) costs no extra model calls."""
    keep = PromptOptimizer(ScriptedBackend(lambda prompt: ""), cache=False)  # empty rewrite: rejected
    model = FakeModel()
    report = run_evaluation(_config(tmp_path), testing_models=[model], optimizers={"scripted": keep})
    assert len(model.prompts) == 23
    for row in report["results"]:
        if row["source"] == "scripted":
            assert row["vs_naive"]["difference"] == 0 and row["vs_naive"]["p_value"] == 1.0
    rewrite = json.loads((tmp_path / "instructions.json").read_text())["scripted"]["benchmarks"]["gsm8k"]["gsm8k"]
    assert rewrite["accepted"] is False and rewrite["reason"]


def test_end_to_end_with_tiny_transformers_model(tmp_path: Path, tiny_chat_model_dir: Path) -> None:
    model = TransformersTestingModel(str(tiny_chat_model_dir), label="tiny", batch_size=4)
    config = _config(tmp_path, models=(str(tiny_chat_model_dir),), max_new_tokens={"gsm8k": 6, "bbh": 6}, limit=2)
    report = run_evaluation(config, testing_models=[model], optimizers={"scripted": _optimizer()})
    assert {row["n"] for row in report["results"]} == {2}
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(records) == 5 * 2 * 2
    mc = [record for record in records if record["method"] == "logprob"]
    assert len(mc) == 12
    assert all(len(record["logprobs"]) == (2 if record["benchmark"] == "piqa" else 4) for record in mc)
    assert all(max(record["logprobs"]) <= 0 for record in mc)
    assert {record["method"] for record in records if record["benchmark"] in ("gsm8k", "bbh")} == {"generate"}
    # the letter scoring agrees with a direct forward pass of the model
    model.load()
    prompt = "Pick one.\nA. yes\nB. no\nAnswer:"
    scores = model.option_logprobs([prompt, prompt + " maybe"], ["A", "B"])
    assert scores[0] == pytest.approx(model.option_logprobs([prompt], ["A", "B"])[0], abs=0.05)


def test_generation_by_multiple_choice_flag(tmp_path: Path) -> None:
    model = FakeModel()
    report = run_evaluation(
        _config(tmp_path, benchmarks=("piqa",), mc_scoring="generate", optimizers=("none",)), testing_models=[model]
    )
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {record["method"] for record in records} == {"generate"}
    assert report["results"][0]["correct"] == 0  # "The answer is 5." names no option letter


def test_config_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown benchmarks \\['squad'\\]"):
        EvalConfig(out_dir=tmp_path, benchmarks=("squad",))
    with pytest.raises(ValueError, match="limit must be >= 1"):
        EvalConfig(out_dir=tmp_path, limit=0)
    with pytest.raises(ValueError, match="shots given for unknown benchmark 'x'"):
        EvalConfig(out_dir=tmp_path, shots={"x": 1})
    endpoint = make_testing_model("http://127.0.0.1:9/v1#tiny")
    assert endpoint.key == "openai:http://127.0.0.1:9/v1#tiny" and not endpoint.supports_logprobs
    with pytest.raises(ValueError, match="--mc-scoring generate"):
        run_evaluation(_config(tmp_path, benchmarks=("piqa",), mc_scoring="logprob"), testing_models=[endpoint])
    with pytest.raises(ValueError, match="distinct labels"):
        run_evaluation(_config(tmp_path, benchmarks=("piqa",)), testing_models=[FakeModel(), FakeModel()])
    with pytest.raises(ValueError, match="LABEL=SPEC"):
        run_evaluation(_config(tmp_path, optimizers=("none", "/a/x", "/b/x")), testing_models=[FakeModel()])


def test_cli_runs_and_prints_the_table(
    tmp_path: Path, tiny_chat_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "eval",
            "--data-dir",
            str(FIXTURES),
            "--benchmark",
            "piqa,mmlu",
            "--model",
            f"tiny={tiny_chat_model_dir}",
            "--optimizer",
            "none",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "## tiny" in out and "| PiQA | 3 | 3 |" in out and "| MMLU | 5 | 5 |" in out
    assert f"Chart: {tmp_path / 'report.png'}" in out
    # A subcommand's usage error is one line on stderr and exit code 2 (fipo_integrations.cli.main).
    assert main(["eval", "--shots", "piqa:3", "--out", str(tmp_path)]) == 2
    assert "BENCHMARK=N" in capsys.readouterr().err


def test_cli_module_is_light() -> None:
    code = (
        "import sys, fipo_integrations.cli as c; c.build_parser(); "
        "print(sorted(m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_three_items_with_the_embedded_models(tmp_path: Path, embedded_model_dir: Path) -> None:
    """Both embedded testing models, all five benchmarks, three items each (naive vs a scripted optimizer)."""
    import torch

    threads = torch.get_num_threads()
    config = _config(
        tmp_path,
        models=("embedded:smollm2-135m-instruct", "embedded:gemma-3-270m"),
        limit=3,
        data_dir=FIXTURES,
        max_new_tokens={"gsm8k": 32, "bbh": 8},
        threads=1,  # steadier than 2 on a shared CPU
    )
    try:
        report = run_evaluation(config, optimizers={"scripted": _optimizer()})
    finally:
        torch.set_num_threads(threads)
    assert len(report["results"]) == 5 * 2 * 2
    assert {row["n"] for row in report["results"]} == {3}
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    gemma = [r for r in records if r["model"] == "gemma-3-270m" and r["benchmark"] == "bbh"]
    assert gemma and all("\nQ:" not in r["response"] for r in gemma)  # the base model stops at the next question
    smol_mc = [r for r in records if r["model"] == "smollm2-135m-instruct" and r["method"] == "logprob"]
    assert smol_mc and all(max(r["logprobs"]) > -8 for r in smol_mc)  # letters are likely next tokens
    assert (tmp_path / "report.png").stat().st_size > 1000


def test_endpoint_testing_model_generates_and_scores_multiple_choice(
    tmp_path: Path, chat_endpoint: Callable[[Any], str]
) -> None:
    requests: list[dict[str, object]] = []

    def reply(_: object, body: Any) -> Any:
        requests.append(body)
        text = "B. that one\n\nQ: more" if "Goal:" in body["messages"][-1]["content"] else "?"
        return {"choices": [{"message": {"content": text}}]}

    url = chat_endpoint(reply) + "/v1#served"
    model = make_testing_model(url)
    assert model.generate(["Goal: x"], max_new_tokens=4, stop=["\n\n"]) == ["B. that one"]
    report = run_evaluation(_config(tmp_path, benchmarks=("piqa",), optimizers=("none",), models=(url,)))
    assert report["results"][0]["model"] == "served" and report["results"][0]["correct"] == 2  # targets B, A, B
    assert all(request["model"] == "served" and request["temperature"] == 0.0 for request in requests)


def test_vllm_testing_model_with_a_fake_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    class Output:
        def __init__(self, text: str, logprobs: dict[int, types.SimpleNamespace]) -> None:
            self.outputs = [types.SimpleNamespace(text=text, logprobs=[logprobs])]

    class Tokenizer:
        chat_template = None

        def decode(self, ids: list[int]) -> str:
            return {1: " A", 2: "A", 3: "B", 4: "x"}[ids[0]]

    class LLM:
        def __init__(self, **options: object) -> None:
            self.options = options

        def get_tokenizer(self) -> Tokenizer:
            return Tokenizer()

        def generate(self, texts: list[str], params: dict[str, object], use_tqdm: bool = False) -> list[Output]:
            entries = {1: types.SimpleNamespace(logprob=-1.0), 2: types.SimpleNamespace(logprob=-1.0)}
            entries[4] = types.SimpleNamespace(logprob=-0.1)
            return [Output("(B)\n\nQ: next", entries) for _ in texts]

    fake = types.SimpleNamespace(LLM=LLM, SamplingParams=lambda **kwargs: kwargs)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    model = make_testing_model("vllm:/models/some-model")
    assert model.label == "some-model" and model.key == "vllm:/models/some-model"
    assert model.generate(["Q: x\nA:"], max_new_tokens=8, stop=["\n\n"]) == ["(B)"]
    (scores,) = model.option_logprobs(["prompt"], ["A", "B"])
    assert scores[0] == pytest.approx(math.log(2 * math.exp(-1.0))) and scores[1] == -math.inf
