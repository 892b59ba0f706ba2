"""LangChain integration: the ``FIPOOptimizer`` runnable, template optimization and local chat models.

Needs ``langchain-core`` (``pip install 'fipo-integrations[langchain]'``).

>>> from fipo_integrations.langchain import FIPOOptimizer  # doctest: +SKIP
>>> chain = prompt | FIPOOptimizer() | llm  # doctest: +SKIP
"""

from __future__ import annotations

from .._deps import require

require("langchain_core", feature="the LangChain integration (FIPOOptimizer)")

from ._messages import Roles  # noqa: E402
from .chat_models import ChatModelBackend, LocalChatModel  # noqa: E402
from .runnable import FIPOInput, FIPOOptimizer  # noqa: E402

__all__ = ["ChatModelBackend", "FIPOInput", "FIPOOptimizer", "LocalChatModel", "Roles"]
