"""Reliability at the edges: LocalChatModel as a standard chat model (validated fields, streaming, usage),
CPU thread defaults, no network on the DSPy path, and the CLI's messages and exit codes as a user sees them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fipo_integrations import GenerationParams
from fipo_integrations.testing import ScriptedBackend

pytest.importorskip("langchain_core")
from langchain_core.messages import AIMessage, AIMessageChunk

from fipo_integrations.langchain import LocalChatModel


class Recording(ScriptedBackend):
    def __init__(self, reply: str) -> None:
        super().__init__(lambda p, conversation, i: reply, full=True)
        self.params: list[GenerationParams] = []

    def generate(self, conversations: Any, params: GenerationParams) -> list[list[str]]:
        self.params.append(params)
        return super().generate(conversations, params)


# ------------------------------------------------------------------------------------------ LocalChatModel
def test_standard_fields_are_honoured() -> None:
    backend = Recording("Paris is the capital. You asked about France.")
    chat = LocalChatModel(backend=backend, max_tokens=5, stop=["."], temperature=0.5)
    reply = chat.invoke("Capital of France?")
    assert reply.content == "Paris is the capital"
    assert backend.params[-1].max_new_tokens == 5 and backend.params[-1].temperature == 0.5
    assert chat.max_new_tokens == 5  # the engine's name still reads
    assert LocalChatModel(backend=backend, max_new_tokens=7).max_tokens == 7  # and is accepted as an alias


def test_per_call_options_are_honoured_also_in_batches() -> None:
    backend = Recording("one two three")
    chat = LocalChatModel(backend=backend)
    assert chat.invoke("hi", max_tokens=3, stop=["three"]).content == "one two "
    assert backend.params[-1].max_new_tokens == 3
    replies = chat.batch(["a", "b"], max_tokens=4)
    assert [r.content for r in replies] == ["one two three"] * 2
    assert len(backend.calls) == 2 and backend.params[-1].max_new_tokens == 4  # one batched call, with the option


def test_usage_metadata_and_model_name() -> None:
    reply = LocalChatModel(backend=Recording("four words in reply")).invoke("count these three")
    assert isinstance(reply, AIMessage)
    assert reply.usage_metadata == {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    assert reply.response_metadata["model_name"] == "scripted"


def test_stream_yields_chunks_with_usage_on_the_last() -> None:
    chat = LocalChatModel(backend=Recording("The capital of France is Paris."))
    chunks = list(chat.stream("Capital of France?"))
    assert len(chunks) == 6 and all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    assert "".join(str(chunk.content) for chunk in chunks) == "The capital of France is Paris."
    assert chunks[-1].chunk_position == "last" and chunks[-1].usage_metadata is not None
    assert all(chunk.usage_metadata is None for chunk in chunks[:-1])


def test_stream_honours_stop_sequences_across_chunks() -> None:
    chat = LocalChatModel(backend=Recording("Answer: 4\nQuestion: what next"))
    chunks = list(chat.stream("2+2?", stop=["\nQuestion:"]))
    assert "".join(str(chunk.content) for chunk in chunks) == "Answer: 4"


async def test_astream_yields_chunks() -> None:
    chat = LocalChatModel(backend=Recording("one two three"))
    chunks = [chunk async for chunk in chat.astream("count")]
    assert [chunk.content for chunk in chunks] == ["one ", "two ", "three"]
    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)


def test_stream_from_a_local_transformers_model(tiny_chat_model_dir: Path, one_torch_thread: Any) -> None:
    chat = LocalChatModel(model=str(tiny_chat_model_dir), max_tokens=6)
    chunks = list(chat.stream("Answer the question"))
    assert chunks and all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    usage = chunks[-1].usage_metadata
    assert usage is not None and 0 < usage["output_tokens"] <= 6 and usage["input_tokens"] > 0
    assert chat.get_backend() is LocalChatModel(model=str(tiny_chat_model_dir), max_tokens=6).get_backend()


@pytest.mark.slow
def test_stream_is_token_by_token_on_the_embedded_model(embedded_model_dir: Any, one_torch_thread: Any) -> None:
    chat = LocalChatModel(max_tokens=24)
    chunks = list(chat.stream("Name three colours."))
    assert len(chunks) > 3
    assert "".join(str(c.content) for c in chunks) == chat.invoke("Name three colours.").content


# -------------------------------------------------------------------------------------------- processes
def _python(code: str, **env: str | None) -> str:
    """stdout of ``python -c code`` with ``env`` changed (``None`` removes a variable)."""
    environment = {key: value for key, value in os.environ.items() if key not in env}
    environment.update({key: value for key, value in env.items() if value is not None})
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=300, check=True
    )
    return result.stdout.strip()


def test_library_defaults_to_passive_openmp_waits_unless_set() -> None:
    code = "import os, fipo_integrations; print(os.environ.get('OMP_WAIT_POLICY'))"
    assert _python(code, OMP_WAIT_POLICY=None) == "PASSIVE"
    assert _python(code, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


_NETWORK_PROBE = """
import socket
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args[:1])
    raise OSError("network blocked by the test")
socket.getaddrinfo = refuse
socket.socket.connect = refuse
socket.create_connection = refuse
{imports}
print(len(attempts))
"""


def test_dspy_path_makes_no_network_attempt() -> None:
    pytest.importorskip("dspy")
    imports = (
        "import os, fipo_integrations.dspy as d\n"
        "d.LocalLM  # loads dspy, which loads litellm\n"
        "import dspy, litellm\n"
        "assert os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] == 'True'"
    )
    code = _NETWORK_PROBE.format(imports=imports)
    assert _python(code, LITELLM_LOCAL_MODEL_COST_MAP=None).splitlines()[-1] == "0"


@pytest.mark.slow
def test_network_probe_sees_litellm_without_the_setting() -> None:
    """The control for the test above: plain `import litellm` does try the network, and the probe sees it."""
    pytest.importorskip("litellm")
    output = _python(_NETWORK_PROBE.format(imports="import litellm"), LITELLM_LOCAL_MODEL_COST_MAP=None)
    assert int(output.splitlines()[-1]) > 0


# ----------------------------------------------------------------------------------- the issue's commands
def _fipo(args: list[str], stdin: bytes = b"", tmp_path: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    if tmp_path is not None:
        env["FIPO_REWRITE_CACHE"] = str(tmp_path / "rewrites.sqlite")
    return subprocess.run(
        [sys.executable, "-m", "fipo_integrations.cli", *args], input=stdin, capture_output=True, env=env, timeout=120
    )


def test_issue_commands_print_one_line_and_no_traceback(tmp_path: Path) -> None:
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('"Résumé {text}"\n'.encode("latin-1"))
    cases = [
        (["optimize", "-"], b"\xff Summarize {text}", 2, "stdin is not valid UTF-8"),
        (["optimize", "--file", "/nonexistent"], b"", 2, "no such file"),
        (["optimize", "--file", str(latin)], b"", 1, "line 1: this line is not valid UTF-8"),
        (["optimize", "Summarise {text}", "--temperature", "-1"], b"", 2, "--temperature: must be >= 0"),
        (["optimize", "Summarise {text}", "--model", "/nonexistent"], b"", 2, "--model '/nonexistent'"),
        (
            ["optimize", "Summarise {text}", "--base-url", "http://127.0.0.1:9/v1", "--model", "x"],
            b"",
            1,
            "Could not reach http://127.0.0.1:9/v1",
        ),
    ]
    for args, stdin, code, message in cases:
        result = _fipo(args, stdin, tmp_path)
        err = result.stderr.decode()
        assert result.returncode == code, (args, err)
        assert b"Traceback" not in result.stderr, (args, err)
        assert message in err, (args, err)
        if args[1] != "--file" or code == 2:
            assert len(err.strip().splitlines()) == 1, (args, err)
