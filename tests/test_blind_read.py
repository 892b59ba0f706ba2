"""``benchmarks/blind_read.py mix`` and ``score``: several optimizers' rewrites read blind in one file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("blind_read", ROOT / "benchmarks" / "blind_read.py")
assert spec is not None and spec.loader is not None
blind_read = importlib.util.module_from_spec(spec)
spec.loader.exec_module(blind_read)


def _draw(folder: Path, finals: dict[str, str]) -> Path:
    folder.mkdir()
    rows = [{"id": pid, "prompt": f"Prompt {pid}.", "final": final, "accepted": True} for pid, final in finals.items()]
    (folder / "rewrites.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_mix_reads_a_shared_pair_once_and_scores_each_draw(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _draw(tmp_path / "old", {"a": "Prompt a. Reply with one word.", "b": "Prompt b.", "c": "Prompt c. Bad."})
    new = _draw(tmp_path / "new", {"a": "Prompt a. Reply with one word.", "b": "Prompt b. Good.", "c": "Prompt c."})
    out = tmp_path / "mix"
    assert blind_read.main(["mix", "--out", str(out), "--draw", f"old={old}", "--draw", f"new={new}"]) == 0
    blind = [json.loads(line) for line in (out / "blind.jsonl").read_text().splitlines()]
    assert len(blind) == 3  # the pair both wrote is read once; unchanged prompts are not read
    assert all(set(row) == {"id", "first", "second"} for row in blind)
    key = {
        json.loads(line)["id"]: json.loads(line)["original"] for line in (out / "key.jsonl").read_text().splitlines()
    }
    verdicts = []
    for row in blind:
        rewrite = "second" if key[row["id"]] == "first" else "first"
        text = row[rewrite]
        better = key[row["id"]] if "Bad" in text else rewrite if "Good" in text else "same"
        verdicts.append({"id": row["id"], "better": better})
    (out / "verdicts.jsonl").write_text("".join(json.dumps(v) + "\n" for v in verdicts))
    capsys.readouterr()
    assert blind_read.main(["score", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| old | 3 | 2 | 0 (0%) | 2 | 1 (33.3%) |" in table
    assert "| new | 3 | 2 | 1 (33%) | 2 | 0 (0.0%) |" in table


def test_score_names_missing_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draw = _draw(tmp_path / "d", {"a": "Prompt a. Reply with one word."})
    out = tmp_path / "mix"
    assert blind_read.main(["mix", "--out", str(out), "--draw", f"d={draw}"]) == 0
    (out / "verdicts.jsonl").write_text("")
    assert blind_read.main(["score", "--out", str(out)]) == 2
    assert "lacks 1 of the 1 blind pairs" in capsys.readouterr().err
    assert blind_read.main(["mix", "--out", str(out), "--draw", "no-equals-sign"]) == 2
