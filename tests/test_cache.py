from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from fipo_integrations.cache import RewriteCache, default_cache_dir, make_cache_key


def test_roundtrip_and_lru_eviction(tmp_path: Path) -> None:
    cache = RewriteCache(tmp_path / "c.sqlite", max_memory_items=2)
    for i in range(3):
        cache.put(f"k{i}", [f"v{i}"])
    assert len(cache._memory) == 2 and "k0" not in cache._memory
    assert cache.get("k0") == ["v0"]  # served from SQLite, then remembered
    assert len(cache) == 3
    cache.clear()
    assert cache.get("k1") is None and len(cache) == 0


def test_memory_only_cache() -> None:
    cache = RewriteCache(None)
    cache.put("a", ["1", "2"])
    assert cache.get("a") == ["1", "2"] and cache.get("b") is None


def test_returned_lists_are_copies(tmp_path: Path) -> None:
    cache = RewriteCache(tmp_path / "c.sqlite")
    cache.put("a", ["x"])
    cache.get("a").append("mutated")  # type: ignore[union-attr]
    assert cache.get("a") == ["x"]


def test_key_is_stable_and_sensitive() -> None:
    assert make_cache_key({"a": 1, "b": [1, 2]}) == make_cache_key({"b": [1, 2], "a": 1})
    assert make_cache_key({"a": 1}) != make_cache_key({"a": 2})


def test_default_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FIPO_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("FIPO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "fipo-integrations"


def test_concurrent_threads(tmp_path: Path) -> None:
    cache = RewriteCache(tmp_path / "c.sqlite", max_memory_items=8)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(50):
                cache.put(f"{n}-{i}", [str(i)])
                assert cache.get(f"{n}-{i}") == [str(i)]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(cache) == 400


def _process_writer(path: str, n: int) -> None:
    cache = RewriteCache(path)
    for i in range(40):
        cache.put(f"p{n}-{i}", [f"value {i}"])


def test_concurrent_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite")
    RewriteCache(path)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_process_writer, args=(path, n)) for n in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert all(process.exitcode == 0 for process in processes)
    reader = RewriteCache(path)
    assert len(reader) == 120 and reader.get("p2-39") == ["value 39"]
