"""``fipo demo``: the default optimizer rewrites the example prompt, the task model answers both versions."""

from __future__ import annotations

import pytest

import fipo_integrations.demo as demo
import fipo_integrations.engine as engine
from fipo_integrations.testing import ScriptedBackend


def test_the_demo_shows_the_rewrite_the_guard_verdict_and_both_answers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    optimizer = ScriptedBackend(lambda prompt: prompt + " Answer with one word.")
    loaded: list[str] = []

    def task_model(spec: str) -> ScriptedBackend:
        loaded.append(spec)
        return ScriptedBackend(lambda prompt: "negative" if prompt.endswith("word.") else "The review is negative.")

    monkeypatch.setattr(engine, "load_backend", lambda spec: optimizer)
    monkeypatch.setattr(demo, "load_backend", task_model)
    demo.run_demo()
    out = capsys.readouterr().out
    assert f"Optimized prompt: {demo.DEMO_PROMPT} Answer with one word." in out
    assert "Guard:            accepted" in out
    assert "to the naive prompt" in out and "to the optimized prompt" in out
    assert "The review is negative." in out
    assert loaded == ["embedded:smollm2-135m-instruct"]  # the answers come from the task model, not the optimizer
