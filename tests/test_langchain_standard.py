"""LangChain's own standard test suites (langchain-tests) for LocalChatModel.

The unit class runs in the default suite; the integration class generates with the real embedded
SmolLM2-135M-Instruct (a few tokens per answer) and is marked ``slow``. Features LocalChatModel does not have
(tools, structured output, JSON mode, images, audio, PDF) are declared through the standard properties, so
those tests skip instead of failing. ``timeout``, ``max_retries`` and ``api_key`` are left out of the
standard parameters: a local model has no use for them and ``LocalChatModel`` rejects fields it would ignore.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from fipo_integrations.langchain import LocalChatModel

_MODEL = "embedded:smollm2-135m-instruct"


class _Declared:
    """What LocalChatModel supports, stated once for both suites."""

    @property
    def chat_model_class(self) -> type[LocalChatModel]:
        return LocalChatModel

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        return {"temperature": 0, "max_tokens": 100, "stop": []}

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_tool_choice(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_video_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True


class TestLocalChatModelStandardUnit(_Declared, ChatModelUnitTests):  # type: ignore[misc]
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": _MODEL}  # nothing loads until the first call


@pytest.mark.slow
class TestLocalChatModelStandardIntegration(_Declared, ChatModelIntegrationTests):  # type: ignore[misc]
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": _MODEL, "max_tokens": 12}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        return {"temperature": 0, "max_tokens": 12, "stop": []}

    @pytest.fixture(autouse=True)
    def _real_model_on_one_thread(self, embedded_model_dir: Any, one_torch_thread: Any) -> Iterator[None]:
        yield
