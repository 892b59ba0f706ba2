"""The default path with the real embedded model, with the network blocked."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_socket

pytestmark = pytest.mark.slow


def test_default_optimizer_offline_keeps_placeholder(default_optimizer_base: Path) -> None:
    import socket

    from fipo_integrations import PromptOptimizer

    pytest_socket.disable_socket(allow_unix_socket=True)
    try:
        with pytest.raises(pytest_socket.SocketBlockedError):
            socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        optimizer = PromptOptimizer(max_new_tokens=96)
        results = optimizer.optimize_batch(["Answer the question: {question}", "Summarise this text: {text}"])
    finally:
        pytest_socket.enable_socket()
    assert optimizer.model_id.startswith("default@")
    for result in results:
        original_placeholder = result.original[result.original.index("{") :]
        assert original_placeholder in result.optimized
        assert result.accepted or result.reason


def test_embedded_model_is_cached_as_safetensors(embedded_model_dir: Path) -> None:
    assert (embedded_model_dir / "config.json").is_file()
    assert list(embedded_model_dir.glob("*.safetensors"))
    assert not list(embedded_model_dir.glob("*.bin"))
    tokenizer_config = (embedded_model_dir / "tokenizer_config.json").read_text()
    assert "im_start" in tokenizer_config or (embedded_model_dir / "chat_template.jinja").is_file()
