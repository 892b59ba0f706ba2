from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fipo_integrations import cli
from fipo_integrations._deps import MissingDependencyError, require


def test_import_is_cheap() -> None:
    code = (
        "import sys, fipo_integrations, fipo_integrations.templates, fipo_integrations.guard;"
        "heavy = [m for m in ('torch', 'transformers', 'langchain_core', 'dspy', 'trl', 'vllm') if m in sys.modules];"
        "print(heavy)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_lazy_exports_and_unknown_attribute() -> None:
    import fipo_integrations

    assert fipo_integrations.PromptOptimizer.__name__ == "PromptOptimizer"
    assert "FIPOOptimizer" in dir(fipo_integrations)
    with pytest.raises(AttributeError, match="no attribute"):
        fipo_integrations.NotAThing  # noqa: B018


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trl", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'fipo-integrations\[train\]'"):
        require("trl", feature="training")


def test_py_typed_ships() -> None:
    import fipo_integrations

    assert (Path(fipo_integrations.__file__).parent / "py.typed").is_file()


def test_cli_optimize_with_tiny_model(tiny_chat_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        [
            "optimize",
            "Answer the question: {question}",
            "--model",
            str(tiny_chat_model_dir),
            "--no-cache",
            "--json",
        ]
    )
    assert code == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["original"] == "Answer the question: {question}"
    assert "{question}" in record["optimized"]  # a random model's rewrite is rejected, the original is kept
    assert set(record) >= {"optimized", "accepted", "reason", "fell_back", "timings"}


def test_cli_optimize_prefilled_in_the_append_scope(
    tiny_chat_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "optimize",
        "What is DNS?",
        "--model",
        str(tiny_chat_model_dir),
        "--no-cache",
        "--json",
        "--scope",
        "append",
    ]
    assert cli.main([*args, "--prefill"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # The transformers backend continued the prefilled reply: whatever a random model adds, the result is the
    # prompt word for word, with or without an accepted statement of the form.
    assert record["optimized"].startswith("What is DNS?")
    assert record["candidate"].startswith("What is DNS?")
    assert cli.main([*args, "--no-prefill"]) == 0


def test_cli_file_batch_and_stdin(tiny_chat_model_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('"Summarise {text}"\n{"prompt": "Add 2 and 3", "golden_response": "5"}\n\n')
    assert (
        cli.main(["optimize", "--file", str(prompts), "--model", str(tiny_chat_model_dir), "--no-cache", "--json"]) == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["original"] for line in lines] == ["Summarise {text}", "Add 2 and 3"]
    assert lines[1]["variant"] == "golden"
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("Explain tides."))
    assert cli.main(["optimize", "-", "--model", str(tiny_chat_model_dir), "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "Original:  Explain tides." in out and "Guard:" in out


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Every line is bad, so no model loads; each line is reported and the exit code says an item failed.
    bad = tmp_path / "bad.jsonl"
    bad.write_text('not json\n{"prompt": "   "}\n')
    assert cli.main(["optimize", "--file", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 1: not valid JSON" in err and "line 2: prompt is empty" in err
    assert cli.main(["optimize"]) == 2
    assert "give a PROMPT" in capsys.readouterr().err
    assert cli.main([]) == 2


def test_console_script_help() -> None:
    parser = cli.build_parser()
    assert "optimize" in parser.format_help() and "demo" in parser.format_help()
