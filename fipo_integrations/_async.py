"""The one async path: a sync method run in the default executor, with the caller's context variables.

>>> import asyncio
>>> class Greeter:
...     def greet(self, name: str) -> str:
...         return f"hi {name}"
...     agreet = in_executor(greet)
>>> asyncio.run(Greeter().agreet("ada"))
'hi ada'
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["in_executor"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_executor(method: Callable[_P, _R]) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """An async twin of ``method``: it calls ``self.<name>`` (so subclass overrides apply) in the default
    executor, so the event loop never blocks, and carries the caller's context variables (tracing)."""
    name = method.__name__

    async def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        self, rest = args[0], args[1:]
        loop = asyncio.get_running_loop()
        call = functools.partial(getattr(self, name), *rest, **kwargs)
        result: _R = await loop.run_in_executor(None, contextvars.copy_context().run, call)
        return result

    run.__name__ = f"a{name}"
    run.__qualname__ = method.__qualname__.rsplit(".", 1)[0] + f".a{name}"
    run.__doc__ = f"Async :meth:`{name}` (same arguments), run in an executor so the event loop never blocks."
    return run
