"""A persistent rewrite cache: an in-memory LRU in front of SQLite (WAL mode).

Keys are hashes of everything that determines a generation (model id, adapter hash, template version, the
inputs and the decoding parameters); values are the optimizer model's raw replies. The guard runs on every
read, so guard changes never need a cache flush. Safe with concurrent threads (one connection per thread,
a lock around the LRU) and processes (SQLite WAL, busy timeout, ``INSERT OR REPLACE``).

>>> import tempfile, pathlib
>>> cache = RewriteCache(pathlib.Path(tempfile.mkdtemp()) / "rewrites.sqlite")
>>> key = make_cache_key({"prompt": "hi"})
>>> cache.get(key) is None
True
>>> cache.put(key, ["Say hi."]); cache.get(key)
['Say hi.']
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

__all__ = ["RewriteCache", "default_cache_dir", "make_cache_key"]

_SCHEMA_VERSION = 1


def default_cache_dir() -> Path:
    """``$FIPO_CACHE_DIR``, else ``$XDG_CACHE_HOME/fipo-integrations``, else ``~/.cache/fipo-integrations``."""
    explicit = os.environ.get("FIPO_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "fipo-integrations"


def make_cache_key(fields: dict[str, Any]) -> str:
    """A stable SHA-256 over JSON-serialisable ``fields`` (sorted keys)."""
    payload = json.dumps({"schema": _SCHEMA_VERSION, **fields}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class RewriteCache:
    """In-memory LRU (``max_memory_items``) in front of a SQLite file; ``path=None`` keeps it in memory only."""

    def __init__(self, path: str | Path | None = None, *, max_memory_items: int = 2048) -> None:
        if max_memory_items < 0:
            raise ValueError(f"max_memory_items must be >= 0, got {max_memory_items}")
        self.path = Path(path).expanduser() if path is not None else None
        self.max_memory_items = max_memory_items
        self._memory: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection()  # create the table eagerly so errors surface here

    @classmethod
    def default(cls) -> RewriteCache:
        """The shared on-disk cache: ``$FIPO_REWRITE_CACHE`` or ``rewrites.sqlite`` in :func:`default_cache_dir`."""
        explicit = os.environ.get("FIPO_REWRITE_CACHE")
        return cls(Path(explicit) if explicit else default_cache_dir() / "rewrites.sqlite")

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            assert self.path is not None
            connection = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS rewrites (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)"
            )
            self._local.connection = connection
        return connection

    def _remember(self, key: str, value: list[str]) -> None:
        if self.max_memory_items == 0:
            return
        with self._lock:
            self._memory[key] = value
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_memory_items:
                self._memory.popitem(last=False)

    def get(self, key: str) -> list[str] | None:
        """The cached replies for ``key``, or ``None``."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return list(self._memory[key])
        if self.path is None:
            return None
        row = self._connection().execute("SELECT value FROM rewrites WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        self._remember(key, value)
        return list(value)

    def put(self, key: str, value: list[str]) -> None:
        """Store the replies for ``key`` (replacing any earlier value)."""
        stored = [str(item) for item in value]
        self._remember(key, stored)
        if self.path is not None:
            self._connection().execute(
                "INSERT OR REPLACE INTO rewrites (key, value, created) VALUES (?, ?, ?)",
                (key, json.dumps(stored, ensure_ascii=False), time.time()),
            )

    def clear(self) -> None:
        """Drop every entry, in memory and on disk."""
        with self._lock:
            self._memory.clear()
        if self.path is not None:
            self._connection().execute("DELETE FROM rewrites")

    def __len__(self) -> int:
        if self.path is None:
            return len(self._memory)
        return int(self._connection().execute("SELECT COUNT(*) FROM rewrites").fetchone()[0])
