"""A persistent rewrite cache: an in-memory LRU in front of SQLite (WAL mode), plus single-flight.

Keys are hashes of everything that determines a generation (model id, adapter hash, template version, the
inputs and the decoding parameters); values are the optimizer model's raw replies. The guard runs on every
read, so guard changes never need a cache flush. Safe with concurrent threads (one connection per thread,
a lock around the LRU) and processes (SQLite WAL, busy timeout, ``INSERT OR REPLACE``).

It survives misuse: a file that is not a SQLite database is moved aside (``*.corrupt-<time>``) with a
warning and rebuilt; a location that cannot be written gives a warning and an in-memory cache only; the file
keeps at most ``max_entries`` rewrites, evicting the least recently used.

Where things live (see ``docs/runtime.md``): the rewrite cache is ``$FIPO_REWRITE_CACHE``, else
``rewrites.sqlite`` in ``$FIPO_CACHE_DIR``, else in ``$XDG_CACHE_HOME/fipo-integrations`` or
``~/.cache/fipo-integrations``; converted models go to ``$FIPO_MODEL_CACHE_DIR``, else ``models/`` in that
same base directory.

>>> import tempfile, pathlib
>>> cache = RewriteCache(pathlib.Path(tempfile.mkdtemp()) / "rewrites.sqlite", max_entries=1000)
>>> key = make_cache_key({"prompt": "hi"})
>>> cache.get(key) is None
True
>>> cache.put(key, ["Say hi."]); cache.get(key)
['Say hi.']
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "RewriteCache",
    "SingleFlight",
    "default_cache_dir",
    "default_model_cache_dir",
    "make_cache_key",
]

logger = logging.getLogger(__name__)

_SCHEMA_VERSION = 1
#: Default bound of the SQLite file (rewrites; about 1-2 KB each); ``$FIPO_REWRITE_CACHE_MAX_ENTRIES``.
DEFAULT_MAX_ENTRIES = 100_000


def default_cache_dir() -> Path:
    """``$FIPO_CACHE_DIR``, else ``$XDG_CACHE_HOME/fipo-integrations``, else ``~/.cache/fipo-integrations``."""
    explicit = os.environ.get("FIPO_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "fipo-integrations"


def default_model_cache_dir() -> Path:
    """Where converted (dequantised) embedded models live: ``$FIPO_MODEL_CACHE_DIR``, else ``models/`` in
    :func:`default_cache_dir`. Set it to keep the models where they are while moving everything else."""
    explicit = os.environ.get("FIPO_MODEL_CACHE_DIR")
    return Path(explicit).expanduser() if explicit else default_cache_dir() / "models"


def make_cache_key(fields: dict[str, Any]) -> str:
    """A stable SHA-256 over JSON-serialisable ``fields`` (sorted keys)."""
    payload = json.dumps({"schema": _SCHEMA_VERSION, **fields}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _env_max_entries() -> int:
    raw = os.environ.get("FIPO_REWRITE_CACHE_MAX_ENTRIES")
    if not raw:
        return DEFAULT_MAX_ENTRIES
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(
            f"FIPO_REWRITE_CACHE_MAX_ENTRIES must be a positive integer, got {raw!r}; "
            f"unset it for the default ({DEFAULT_MAX_ENTRIES})"
        )
    return int(raw)


class RewriteCache:
    """In-memory LRU (``max_memory_items``) in front of a SQLite file; ``path=None`` keeps it in memory only.

    ``max_entries`` bounds the file: past it, the least recently used rewrites are deleted (``None``: the
    default, ``$FIPO_REWRITE_CACHE_MAX_ENTRIES`` or 100,000). ``persistent`` says whether the file is in use
    (``False`` after an unwritable location or a database error: the cache then lives in memory only).
    """

    def __init__(
        self, path: str | Path | None = None, *, max_memory_items: int = 2048, max_entries: int | None = None
    ) -> None:
        if isinstance(max_memory_items, bool) or not isinstance(max_memory_items, int) or max_memory_items < 0:
            raise ValueError(f"max_memory_items must be an int >= 0, got {max_memory_items!r}")
        if max_entries is None:
            max_entries = _env_max_entries()
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive int (or None for the default), got {max_entries!r}")
        self.path = Path(path).expanduser() if path is not None else None
        self.max_memory_items = max_memory_items
        self.max_entries = max_entries
        self._memory: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._puts = 0
        # Check the size bound every few writes (every write when the bound is small).
        self._evict_every = max(1, min(64, max_entries // 10))
        self._disabled = False
        if self.path is not None:
            self._open()

    @classmethod
    def default(cls) -> RewriteCache:
        """The shared on-disk cache: ``$FIPO_REWRITE_CACHE`` or ``rewrites.sqlite`` in :func:`default_cache_dir`."""
        explicit = os.environ.get("FIPO_REWRITE_CACHE")
        return cls(Path(explicit) if explicit else default_cache_dir() / "rewrites.sqlite")

    @property
    def persistent(self) -> bool:
        """Whether rewrites are written to the SQLite file (``False``: memory only)."""
        return self.path is not None and not self._disabled

    # ------------------------------------------------------------------------------------------- opening
    def _open(self) -> None:
        assert self.path is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection()
        except sqlite3.DatabaseError as exc:
            if not self._is_corrupt(exc):
                self._go_memory_only(exc)
                return
            self._move_aside(exc)
            try:
                self._connection()
            except (OSError, sqlite3.Error) as again:
                self._go_memory_only(again)
        except OSError as exc:
            self._go_memory_only(exc)

    @staticmethod
    def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
        text = str(exc).lower()
        return "not a database" in text or "malformed" in text or "file is encrypted" in text

    def _move_aside(self, exc: Exception) -> None:
        assert self.path is not None
        self._close_local()
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.path.replace(aside)
        logger.warning(
            "The rewrite cache %s is not a valid SQLite database (%s); moved it to %s and started a new one",
            self.path,
            exc,
            aside,
        )

    def _go_memory_only(self, exc: BaseException) -> None:
        self._close_local()
        self._disabled = True
        logger.warning(
            "The rewrite cache %s cannot be used (%s: %s); caching in memory only for this process. "
            "Point $FIPO_REWRITE_CACHE (or $FIPO_CACHE_DIR) at a writable location, or pass cache=False.",
            self.path,
            type(exc).__name__,
            exc,
        )

    def _close_local(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            assert self.path is not None
            connection = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            try:
                connection.execute("PRAGMA busy_timeout=30000")
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS rewrites "
                    "(key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL, used REAL)"
                )
                columns = {row[1] for row in connection.execute("PRAGMA table_info(rewrites)")}
                if "used" not in columns:  # a file written before the size bound existed
                    try:
                        connection.execute("ALTER TABLE rewrites ADD COLUMN used REAL")
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc).lower():
                            raise
                connection.execute("CREATE INDEX IF NOT EXISTS rewrites_used ON rewrites (used)")
            except BaseException:
                connection.close()
                raise
            self._local.connection = connection
        return connection

    def _sql(self, statement: str, parameters: Iterable[Any] = ()) -> list[Any] | None:
        """Run one statement on the file; ``None`` when the file is off (then the cache is memory-only)."""
        if not self.persistent:
            return None
        try:
            return self._connection().execute(statement, tuple(parameters)).fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
                logger.warning("The rewrite cache %s is busy (%s); skipping it for this call", self.path, exc)
                return None
            self._go_memory_only(exc)
            return None

    # ------------------------------------------------------------------------------------------- access
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
        rows = self._sql("SELECT value FROM rewrites WHERE key = ?", (key,))
        if not rows:
            return None
        try:
            value = json.loads(rows[0][0])
        except (TypeError, ValueError):
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return None
        self._sql("UPDATE rewrites SET used = ? WHERE key = ?", (time.time(), key))
        self._remember(key, value)
        return list(value)

    def put(self, key: str, value: list[str]) -> None:
        """Store the replies for ``key`` (replacing any earlier value); evicts past ``max_entries``."""
        stored = [str(item) for item in value]
        self._remember(key, stored)
        now = time.time()
        self._sql(
            "INSERT OR REPLACE INTO rewrites (key, value, created, used) VALUES (?, ?, ?, ?)",
            (key, json.dumps(stored, ensure_ascii=False), now, now),
        )
        with self._lock:
            self._puts += 1
            due = self._puts % self._evict_every == 0
        if due:
            self.evict()

    def evict(self) -> int:
        """Delete the least recently used rewrites from the file so that it stays within ``max_entries``.

        The size is checked every few writes (``_evict_every``), so this trims to ``max_entries`` minus the
        writes until the next check: the file never holds more than ``max_entries`` rows from this process.
        Returns how many rows were deleted.
        """
        rows = self._sql("SELECT COUNT(*) FROM rewrites")
        excess = int(rows[0][0]) - (self.max_entries - self._evict_every + 1) if rows else 0
        if excess <= 0:
            return 0
        self._sql(
            "DELETE FROM rewrites WHERE key IN (SELECT key FROM rewrites ORDER BY used ASC, created ASC LIMIT ?)",
            (excess,),
        )
        return excess

    def clear(self) -> None:
        """Drop every entry, in memory and on disk."""
        with self._lock:
            self._memory.clear()
        self._sql("DELETE FROM rewrites")

    def __len__(self) -> int:
        rows = self._sql("SELECT COUNT(*) FROM rewrites")
        if rows is None:
            return len(self._memory)
        return int(rows[0][0])


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    value: list[str] | None = None


class SingleFlight:
    """Concurrent identical requests compute once: the first caller of a key owns it, later ones wait.

    >>> flights = SingleFlight()
    >>> owned, waiting = flights.claim(["k"])
    >>> owned, sorted(waiting)
    (['k'], [])
    >>> flights.publish("k", ["reply"])
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def claim(self, keys: Iterable[str]) -> tuple[list[str], dict[str, _Flight]]:
        """(keys this caller must compute, flights of keys another caller is computing right now)."""
        owned: list[str] = []
        waiting: dict[str, _Flight] = {}
        with self._lock:
            for key in keys:
                flight = self._flights.get(key)
                if flight is None:
                    self._flights[key] = _Flight()
                    owned.append(key)
                else:
                    waiting[key] = flight
        return owned, waiting

    def publish(self, key: str, value: list[str] | None) -> None:
        """Hand ``value`` (``None``: the owner failed) to every waiter of ``key`` and end its flight."""
        with self._lock:
            flight = self._flights.pop(key, None)
        if flight is not None:
            flight.value = value
            flight.done.set()

    @staticmethod
    def wait(flight: _Flight) -> list[str] | None:
        """The owner's result (``None`` if it failed; the waiter then computes the key itself)."""
        flight.done.wait()
        return flight.value
