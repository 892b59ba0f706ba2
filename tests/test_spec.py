"""ModelSpec: the one spec grammar, its errors, and the backend registry's lifetime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fipo_integrations.backends import Backend, BackendRegistry, make_backend
from fipo_integrations.spec import ModelSpec, Secret
from fipo_integrations.testing import ScriptedBackend


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default", (None, None, None, "transformers", None)),
        ("embedded:gemma-3-270m", ("embedded:gemma-3-270m", None, None, "transformers", None)),
        ("org/model", ("org/model", None, None, "transformers", None)),
        ("big=http://h:8000/v1#fipo-70b", ("fipo-70b", None, "http://h:8000/v1", "openai", "big")),
        ("openai:https://h/v1", (None, None, "https://h/v1", "openai", None)),
        ("vllm:/models/fipo", ("/models/fipo", None, None, "vllm", None)),
        (
            "llamacpp:embedded:qwen2.5-coder-0.5b-instruct",
            ("embedded:qwen2.5-coder-0.5b-instruct", None, None, "llamacpp", None),
        ),
        ("llamacpp:", (None, None, None, "llamacpp", None)),
    ],
)
def test_parse_grammar(text: str, expected: tuple[object, ...]) -> None:
    spec = ModelSpec.parse(text)
    assert (spec.model, spec.adapter, spec.base_url, spec.resolved_backend, spec.label) == expected


def test_adapter_directory_reads_its_base(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base)}))
    spec = ModelSpec.parse(f"mine={adapter}")
    assert (spec.model, spec.adapter, spec.label, spec.default_label) == (str(base), str(adapter), "mine", "mine")
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "org/elsewhere"}))
    assert ModelSpec.parse(str(adapter)).model is None  # a base that is not local: the embedded default


@pytest.mark.parametrize(
    ("text", "fields", "message"),
    [
        ("", {}, "empty model spec"),
        ("x=", {}, "empty model spec"),
        ("vllm:", {}, "names no model"),
        ("embedded:gpt-5", {}, "available: gemma-3-270m"),
        ("org/model", {"backend": "tensorrt"}, "backend must be one of"),
        ("org/model", {"backend": "openai"}, "needs base_url"),
        ("org/model", {"batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_bad_specs_say_what_is_allowed(text: str, fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelSpec.parse(text, **fields)


def test_api_key_is_a_secret() -> None:
    spec = ModelSpec.from_options("fipo", base_url="http://h/v1", api_key="sk-live-123")
    assert isinstance(spec.api_key, Secret) and spec.secret() == "sk-live-123"
    assert "sk-live-123" not in repr(spec) and "sk-live-123" not in str(spec.api_key)
    assert spec != ModelSpec.from_options("fipo", base_url="http://h/v1", api_key="another")


def test_specs_equal_by_identity_not_label() -> None:
    assert ModelSpec.parse("a=embedded:gemma-3-270m") == ModelSpec.parse("b=embedded:gemma-3-270m")
    assert ModelSpec.parse("default") == ModelSpec() == ModelSpec.from_options(None)
    assert ModelSpec.parse("org/m", device="cpu") != ModelSpec.parse("org/m", device="cuda")


def test_registry_shares_and_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    import fipo_integrations.backends.registry as registry

    closed: list[str] = []

    class Closing(ScriptedBackend):
        def close(self) -> None:
            closed.append(self.model_id)

    def build(spec: ModelSpec) -> Backend:
        backend = Closing(lambda p: p)
        backend.model_id = spec.default_label
        return backend

    monkeypatch.setattr(registry, "build_backend", build)
    with BackendRegistry(max_loaded=2) as shared:
        first = shared.load(ModelSpec.parse("org/a"))
        assert shared.load(ModelSpec.parse("org/a")) is first
        shared.load(ModelSpec.parse("org/b"))
        shared.load(ModelSpec.parse("org/c"))  # over max_loaded: the least recently used (a) is dropped
        assert len(shared) == 2 and shared.load(ModelSpec.parse("org/a")) is not first
        shared.release(ModelSpec.parse("org/c"))
        assert closed == ["c"]
    assert closed == ["c", "a"] and len(shared) == 0  # dropped backends stay with their users, unclosed


def test_make_backend_builds_a_fresh_backend() -> None:
    first = make_backend("fipo", base_url="http://127.0.0.1:9/v1")
    assert first is not make_backend("fipo", base_url="http://127.0.0.1:9/v1")
    assert make_backend(ModelSpec.parse("http://127.0.0.1:9/v1#fipo")).model_id == first.model_id
