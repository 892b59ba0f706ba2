from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from fipo_integrations import PromptOptimizer
from fipo_integrations.backends import GenerationParams, make_backend
from fipo_integrations.backends.openai_compat import EndpointError, OpenAICompatibleBackend

CONVERSATION = [{"role": "user", "content": "Say hi."}]


def test_generation_params_validation() -> None:
    with pytest.raises(ValueError, match="temperature > 0"):
        GenerationParams(num_candidates=2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationParams(max_new_tokens=0)
    with pytest.raises(ValueError, match="top_p"):
        GenerationParams(top_p=0)
    assert GenerationParams(temperature=0.5, num_candidates=3).num_candidates == 3


def test_make_backend_validation() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        make_backend(backend="tensorrt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs base_url"):
        make_backend(backend="openai")
    with pytest.raises(ValueError, match="adapter"):
        make_backend(base_url="http://127.0.0.1:1/v1", adapter="x")
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleBackend("localhost:8000")


# --------------------------------------------------------------------------- OpenAI-compatible endpoint
class _Echo:
    """A fake endpoint that echoes the last message: the requests it saw, and whether it ignores ``n``."""

    requests: ClassVar[list[dict[str, Any]]] = []
    ignore_n = False

    @classmethod
    def reply(cls, request: BaseHTTPRequestHandler, body: Any) -> Any:
        cls.requests.append({"path": request.path, "body": body, "auth": request.headers.get("Authorization")})
        if body["messages"][-1]["content"] == "fail":
            return HTTPStatus.INTERNAL_SERVER_ERROR
        n = 1 if cls.ignore_n else body.get("n", 1)
        text = body["messages"][-1]["content"]
        choices = [{"message": {"role": "assistant", "content": f" echo {i}: {text[-20:]} "}} for i in range(n)]
        return {"choices": choices}


@pytest.fixture
def endpoint(chat_endpoint: Callable[[Any], str]) -> str:
    _Echo.requests = []
    _Echo.ignore_n = False
    return chat_endpoint(_Echo.reply) + "/v1"


def test_openai_backend_batches_and_sends_parameters(endpoint: str) -> None:
    backend = make_backend("fipo-70b", base_url=endpoint, api_key="secret")
    assert isinstance(backend, OpenAICompatibleBackend)
    replies = backend.generate(
        [CONVERSATION, [{"role": "user", "content": "Other"}]], GenerationParams(max_new_tokens=9)
    )
    assert replies == [["echo 0: Say hi."], ["echo 0: Other"]]
    first = _Echo.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer secret"
    assert first["body"]["model"] == "fipo-70b" and first["body"]["max_tokens"] == 9
    assert first["body"]["temperature"] == 0.0 and "seed" not in first["body"]


def test_openai_backend_tops_up_when_server_ignores_n(endpoint: str) -> None:
    _Echo.ignore_n = True
    backend = OpenAICompatibleBackend(endpoint)
    replies = backend.generate([CONVERSATION], GenerationParams(temperature=0.7, num_candidates=3, seed=5))
    assert len(replies[0]) == 3
    assert [r["body"]["seed"] for r in _Echo.requests] == [5, 6, 7]


def test_openai_backend_errors_are_clear(endpoint: str) -> None:
    with pytest.raises(EndpointError, match="HTTP 500"):
        OpenAICompatibleBackend(endpoint).generate([[{"role": "user", "content": "fail"}]], GenerationParams())
    with pytest.raises(EndpointError, match="Could not reach"):
        OpenAICompatibleBackend("http://127.0.0.1:9/v1", timeout=2).generate([CONVERSATION], GenerationParams())


def test_engine_over_endpoint(endpoint: str) -> None:
    optimizer = PromptOptimizer("fipo", base_url=endpoint, cache=False)
    result = optimizer.optimize("Explain tides.")
    assert result.model_id.startswith("openai:http://127.0.0.1") and result.candidate.startswith("echo 0")


# --------------------------------------------------------------------------- vLLM (engine faked)
def _install_fake_vllm(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    class SamplingParams:
        def __init__(self, **kwargs: Any) -> None:
            self.__dict__.update(kwargs)
            seen["sampling"] = kwargs

    class LLM:
        def __init__(self, **kwargs: Any) -> None:
            seen["engine"] = kwargs
            self.llm_engine = types.SimpleNamespace(model_config=types.SimpleNamespace(max_model_len=4096))

        def chat(self, conversations: Any, sampling: Any, lora_request: Any = None, use_tqdm: bool = True) -> Any:
            seen["lora"] = lora_request
            seen["conversations"] = conversations
            return [
                types.SimpleNamespace(outputs=[types.SimpleNamespace(text=f" out{i} ") for i in range(sampling.n)])
                for _ in conversations
            ]

    class LoRARequest:
        def __init__(self, name: str, id_: int, path: str) -> None:
            self.path = path

    vllm = types.ModuleType("vllm")
    vllm.LLM = LLM  # type: ignore[attr-defined]
    vllm.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = LoRARequest  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    return seen


def test_vllm_backend_with_fake_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = _install_fake_vllm(monkeypatch)
    (tmp_path / "adapter_config.json").write_text("{}")
    backend = make_backend("org/fipo-70b", backend="vllm", adapter=tmp_path)
    assert seen["engine"] == {"model": "org/fipo-70b", "trust_remote_code": False, "enable_lora": True}
    replies = backend.generate(
        [CONVERSATION, CONVERSATION], GenerationParams(temperature=0.8, num_candidates=2, seed=3)
    )
    assert replies == [["out0", "out1"], ["out0", "out1"]]
    assert seen["sampling"]["n"] == 2 and seen["sampling"]["seed"] == 3 and seen["lora"].path == str(tmp_path)
    assert backend.context_window == 4096 and "+adapter@" in backend.model_id


def test_vllm_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError, match=r"fipo-integrations\[vllm\]"):
        make_backend("x", backend="vllm")


# --------------------------------------------------------------------------- transformers (tiny model)
def test_transformers_backend_on_tiny_model(tiny_chat_model_dir: Path) -> None:
    from fipo_integrations.backends.hf import TransformersBackend

    backend = TransformersBackend(tiny_chat_model_dir, batch_size=2)
    assert backend.context_window == 1024
    assert backend.render(CONVERSATION).startswith("<|im_start|>user\nSay hi.<|im_end|>")
    conversations = [CONVERSATION, [{"role": "user", "content": "A much longer message " * 5}], CONVERSATION]
    greedy = backend.generate(conversations, GenerationParams(max_new_tokens=5))
    assert len(greedy) == 3 and greedy[0] == greedy[2]  # batching and padding do not change greedy output
    again = backend.generate(conversations[:1], GenerationParams(max_new_tokens=5))
    assert again[0] == greedy[0]
    sampled = backend.generate(
        [CONVERSATION], GenerationParams(max_new_tokens=5, temperature=1.0, num_candidates=3, seed=1)
    )
    assert len(sampled[0]) == 3
    assert sampled == backend.generate(
        [CONVERSATION], GenerationParams(max_new_tokens=5, temperature=1.0, num_candidates=3, seed=1)
    )
    scores = backend.choice_logprobs([CONVERSATION], ["A", "B"])
    assert scores is not None and len(scores[0]) == 2 and all(s < 0 for s in scores[0])
    assert backend.count_tokens(CONVERSATION) > 3  # type: ignore[operator]


def test_model_id_changes_with_weights(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    from fipo_integrations.models import directory_fingerprint

    copy = tmp_path / "copy"
    shutil.copytree(tiny_chat_model_dir, copy)
    assert directory_fingerprint(copy) == directory_fingerprint(tiny_chat_model_dir)
    (copy / "config.json").write_text((copy / "config.json").read_text().replace("1024", "1025"))
    assert directory_fingerprint(copy) != directory_fingerprint(tiny_chat_model_dir)


def test_missing_local_model_is_a_clear_error(tmp_path: Path) -> None:
    from fipo_integrations.models import ModelNotAvailableError

    with pytest.raises(ModelNotAvailableError, match="Could not load model"):
        make_backend(str(tmp_path / "nope"))


def test_bad_adapter_directory(tiny_chat_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"adapter_config\.json"):
        make_backend(tiny_chat_model_dir, adapter=tmp_path)


def test_unknown_embedded_model() -> None:
    with pytest.raises(ValueError, match="available"):
        make_backend("embedded:gpt-5")


def test_transformers_backend_stops_a_generation_loop(tiny_chat_model_dir: Path) -> None:
    """A random tiny model repeats one token under greedy decoding: with ``stop_on_loop`` generation ends once
    a block of 4 tokens came three times in a row instead of running to ``max_new_tokens``."""
    import torch

    from fipo_integrations.backends.hf import TransformersBackend, _stop_criteria
    from fipo_integrations.guard.text import loop_period

    backend = TransformersBackend(tiny_chat_model_dir)
    encoded = backend._encode([backend.render(CONVERSATION)], None)
    length = encoded["input_ids"].shape[1]
    settings = {"max_new_tokens": 60, "do_sample": False, "pad_token_id": backend.tokenizer.pad_token_id}
    full = backend.model.generate(**encoded, **settings)[0, length:].tolist()
    criteria = _stop_criteria(backend.tokenizer, length, (), None, stop_on_loop=True)
    stopped = backend.model.generate(**encoded, **settings, stopping_criteria=criteria)[0, length:].tolist()
    assert len(full) == 60 and loop_period(full, min_period=4) > 0  # the tiny model loops ...
    assert len(stopped) == 12 and full[:12] == stopped  # ... and stops after three copies of 4 tokens
    # a row ending in three copies of a 5-token block stops, a row without one does not
    rows = torch.tensor([[9, 9, *([1, 2, 3, 4, 5] * 3)], [9, 9, *range(10, 25)]])
    assert _stop_criteria(backend.tokenizer, 2, (), None, stop_on_loop=True)(rows, None).tolist() == [True, False]
    # the backend passes the flag through (the reply of this model is whitespace either way)
    assert backend.generate([CONVERSATION], GenerationParams(max_new_tokens=60, stop_on_loop=True)) == [[""]]
    assert GenerationParams(stop_on_loop=True).as_key()["stop_on_loop"] is True
    assert "stop_on_loop" not in GenerationParams().as_key()  # old cache keys stay valid


def test_transformers_backend_stops_past_a_word_limit(tiny_chat_model_dir: Path) -> None:
    """``max_words``: a row stops once its decoded reply has more than that many words, not before."""
    import torch

    from fipo_integrations.backends.hf import TransformersBackend, _stop_criteria

    backend = TransformersBackend(tiny_chat_model_dir)
    prefix = backend.tokenizer.encode("Prompt:", add_special_tokens=False)
    rows = []
    for text in ("alpha beta gamma delta epsilon zeta", "alpha beta gamma delta"):
        ids = backend.tokenizer.encode(" " + text, add_special_tokens=False)
        rows.append(prefix + ids)
    width = max(len(row) for row in rows)
    pad = backend.tokenizer.pad_token_id
    batch = torch.tensor([row + [pad] * (width - len(row)) for row in rows])
    criteria = _stop_criteria(backend.tokenizer, len(prefix), (), None, max_words=5)
    assert criteria(batch, None).tolist() == [True, False]
    assert _stop_criteria(backend.tokenizer, len(prefix), (), None)(batch, None).tolist() == [False, False]
    assert GenerationParams(max_words=5).as_key()["max_words"] == 5
    assert "max_words" not in GenerationParams().as_key()  # old cache keys stay valid
    with pytest.raises(ValueError, match="max_words"):
        GenerationParams(max_words=0)


def test_first_stop_probability_ends_uncertain_rows_before_their_first_token(tiny_chat_model_dir: Path) -> None:
    """``first_stop_probability``: at the first position only, a row whose end-of-turn probability reaches the
    threshold gets nothing but that token; the others decode as before."""
    import torch

    from fipo_integrations.backends.hf import TransformersBackend, _first_stop

    backend = TransformersBackend(tiny_chat_model_dir)
    eos = backend.eos_token_ids()
    scores = torch.zeros(2, len(backend.tokenizer))
    scores[0, eos[0]] = 10.0  # row 0: the end of turn is near certain; row 1: uniform
    ids = torch.zeros(2, 7, dtype=torch.long)
    (processor,) = _first_stop(eos, 7, 0.5)
    out = processor(ids, scores.clone())
    assert int(out[0].argmax()) == eos[0] and torch.isinf(out[0]).sum() == len(backend.tokenizer) - 1
    assert torch.equal(out[1], scores[1])
    assert torch.equal(processor(torch.zeros(2, 8, dtype=torch.long), scores.clone()), scores)  # later steps
    assert len(_first_stop(eos, 7, None)) == 0

    conversation = [{"role": "user", "content": "Say something."}]
    greedy = GenerationParams(max_new_tokens=6)
    assert backend.generate([conversation], replace(greedy, first_stop_probability=1e-9)) == [[""]]
    assert backend.generate([conversation], replace(greedy, first_stop_probability=1.0)) == backend.generate(
        [conversation], greedy
    )
    assert GenerationParams(first_stop_probability=0.1).as_key()["first_stop_probability"] == 0.1
    assert "first_stop_probability" not in GenerationParams().as_key()  # old cache keys stay valid
    with pytest.raises(ValueError, match="first_stop_probability"):
        GenerationParams(first_stop_probability=0.0)
