"""Doctest collection over the package: modules whose optional dependency is not installed are skipped, so
collecting never fails for a missing extra (the tests themselves live in tests/)."""

from __future__ import annotations

import importlib.util

#: Package folders whose modules import an optional dependency at module level.
_NEEDS = {
    "langchain_core": "fipo_integrations/langchain/*",
    "dspy": "fipo_integrations/dspy/*",
}

collect_ignore_glob = [pattern for module, pattern in _NEEDS.items() if importlib.util.find_spec(module) is None]
