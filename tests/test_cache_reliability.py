"""The rewrite cache under misuse: concurrency (single-flight), a corrupt file, an unwritable location,
the size bound (LRU eviction) and the environment variables that place it and the model cache."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from fipo_integrations import PromptOptimizer
from fipo_integrations.cache import (
    DEFAULT_MAX_ENTRIES,
    RewriteCache,
    SingleFlight,
    default_cache_dir,
    default_model_cache_dir,
    make_cache_key,
)
from fipo_integrations.testing import ScriptedBackend


class SlowCountingBackend(ScriptedBackend):
    """Counts how often each naive prompt is generated; each generate call takes ``delay`` seconds."""

    def __init__(self, delay: float = 0.2) -> None:
        super().__init__(lambda prompt: f"{prompt} Answer in one sentence.")
        self.delay = delay
        self.generated: dict[str, int] = {}

    def generate(self, conversations, params):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        replies = super().generate(conversations, params)
        with self._lock:
            for conversation in conversations:
                prompt = conversation[-1]["content"]
                self.generated[prompt] = self.generated.get(prompt, 0) + 1
        return replies


def _run_threads(count: int, target) -> list:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def work(position: int) -> None:
        barrier.wait()
        try:
            results[position] = target(position)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("cache", [True, False], ids=["with-cache", "no-cache"])
def test_single_flight_identical_concurrent_requests_generate_once(cache: bool, tmp_path: Path) -> None:
    backend = SlowCountingBackend()
    optimizer = PromptOptimizer(backend, cache=tmp_path / "c.sqlite" if cache else False)
    results = _run_threads(16, lambda i: optimizer.optimize("Summarise {text}."))
    # (The guard's verdict is not under test here: only what was generated, and how often.)
    assert {r.candidate for r in results} == {"Summarise {text}. Answer in one sentence."}
    assert all(r.error is None for r in results)
    assert list(backend.generated.values()) == [1]  # 16 callers, one generation


def test_single_flight_mixed_prompts_each_generated_once(tmp_path: Path) -> None:
    backend = SlowCountingBackend(delay=0.1)
    optimizer = PromptOptimizer(backend, cache=tmp_path / "c.sqlite")
    prompts = [f"Translate {{text}} into language {n}." for n in range(4)]
    results = _run_threads(16, lambda i: optimizer.optimize_batch([prompts[i % 4], prompts[(i + 1) % 4]]))
    assert all(len(pair) == 2 for pair in results)
    assert sorted(backend.generated.values()) == [1, 1, 1, 1]


def test_single_flight_waiter_retries_when_the_owner_fails() -> None:
    flights = SingleFlight()
    owned, _ = flights.claim(["k"])
    _, waiting = flights.claim(["k"])
    assert owned == ["k"] and list(waiting) == ["k"]
    flights.publish("k", None)  # the owner failed
    assert SingleFlight.wait(waiting["k"]) is None
    assert flights.claim(["k"])[0] == ["k"]  # the flight is over: the next caller owns the key


def test_corrupt_file_is_moved_aside_with_a_warning_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rewrites.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="fipo_integrations.cache"):
        cache = RewriteCache(path)
    assert cache.persistent
    asides = list(tmp_path.glob("rewrites.sqlite.corrupt-*"))
    assert len(asides) == 1 and asides[0].read_bytes().startswith(b"this is not a database")
    assert str(path) in caplog.text and str(asides[0]) in caplog.text
    cache.put("k", ["v"])
    assert RewriteCache(path).get("k") == ["v"]  # a fresh instance reads the rebuilt file


def test_prompt_optimizer_survives_a_corrupt_cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rewrites.sqlite"
    path.write_bytes(b"\x00garbage" * 64)
    monkeypatch.setenv("FIPO_REWRITE_CACHE", str(path))
    optimizer = PromptOptimizer(ScriptedBackend(lambda p: p + " Be brief."))
    assert optimizer.optimize("Define {term}.").candidate == "Define {term}. Be brief."
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM rewrites").fetchone()[0] == 1


def test_unwritable_location_warns_and_caches_in_memory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    path = blocker / "sub" / "rewrites.sqlite"  # its parent cannot be created
    with caplog.at_level(logging.WARNING, logger="fipo_integrations.cache"):
        cache = RewriteCache(path)
    assert not cache.persistent
    assert "memory only" in caplog.text and str(path) in caplog.text
    cache.put("k", ["v"])
    assert cache.get("k") == ["v"] and len(cache) == 1
    optimizer = PromptOptimizer(ScriptedBackend(lambda p: p + " Be brief."), cache=path)
    result = optimizer.optimize("Define {term}.")
    assert result.candidate == "Define {term}. Be brief." and result.error is None


def test_directory_sqlite_cannot_write_to_warns_and_caches_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The directory exists but SQLite cannot create a file there (a read-only place even for root)."""
    import os

    if os.geteuid() != 0:
        directory = tmp_path / "ro"
        directory.mkdir()
        directory.chmod(0o500)
        path = directory / "rewrites.sqlite"
    elif Path("/proc/self").is_dir():
        path = Path("/proc/rewrites.sqlite")
    else:  # pragma: no cover - neither a non-root user nor /proc
        pytest.skip("no read-only directory to test with")
    with caplog.at_level(logging.WARNING, logger="fipo_integrations.cache"):
        cache = RewriteCache(path)
    assert not cache.persistent and "unable to open database file" in caplog.text
    cache.put("k", ["v"])
    assert cache.get("k") == ["v"]


def test_size_bound_evicts_least_recently_used(tmp_path: Path) -> None:
    path = tmp_path / "rewrites.sqlite"
    cache = RewriteCache(path, max_entries=5, max_memory_items=0)
    for n in range(5):
        cache.put(f"k{n}", [f"v{n}"])
        time.sleep(0.002)
    assert cache.get("k0") == ["v0"]  # k0 is now the most recently used
    time.sleep(0.002)
    for n in range(5, 8):
        cache.put(f"k{n}", [f"v{n}"])
        time.sleep(0.002)
    assert len(cache) == 5
    survivors = {key for key in (f"k{n}" for n in range(8)) if cache.get(key) is not None}
    assert survivors == {"k0", "k4", "k5", "k6", "k7"}


def test_size_bound_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIPO_REWRITE_CACHE_MAX_ENTRIES", "3")
    cache = RewriteCache(tmp_path / "r.sqlite", max_memory_items=0)
    assert cache.max_entries == 3
    for n in range(10):
        cache.put(make_cache_key({"n": n}), ["x"])
    assert len(cache) == 3
    monkeypatch.setenv("FIPO_REWRITE_CACHE_MAX_ENTRIES", "lots")
    with pytest.raises(ValueError, match="FIPO_REWRITE_CACHE_MAX_ENTRIES must be a positive integer, got 'lots'"):
        RewriteCache(tmp_path / "r2.sqlite")
    monkeypatch.delenv("FIPO_REWRITE_CACHE_MAX_ENTRIES")
    assert RewriteCache(None).max_entries == DEFAULT_MAX_ENTRIES
    with pytest.raises(ValueError, match="max_entries must be a positive int"):
        RewriteCache(None, max_entries=0)


def test_old_cache_files_gain_the_lru_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE rewrites (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")
        connection.execute("INSERT INTO rewrites VALUES ('k', '[\"v\"]', 1.0)")
    cache = RewriteCache(path)
    assert cache.get("k") == ["v"]
    cache.put("k2", ["w"])
    assert len(cache) == 2


def test_rewrite_and_model_caches_have_separate_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FIPO_CACHE_DIR", "FIPO_MODEL_CACHE_DIR", "FIPO_REWRITE_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FIPO_CACHE_DIR", str(tmp_path / "base"))
    assert default_model_cache_dir() == tmp_path / "base" / "models"  # FIPO_CACHE_DIR moves both, as before
    assert RewriteCache.default().path == tmp_path / "base" / "rewrites.sqlite"
    monkeypatch.setenv("FIPO_MODEL_CACHE_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("FIPO_REWRITE_CACHE", str(tmp_path / "rw" / "r.sqlite"))
    assert default_model_cache_dir() == tmp_path / "models"  # the specific variables win
    assert RewriteCache.default().path == tmp_path / "rw" / "r.sqlite"
    assert default_cache_dir() == tmp_path / "base"


def test_resolve_embedded_uses_the_model_cache_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fipo_integrations.models import resolve_embedded

    target = tmp_path / "models" / "smollm2-135m-instruct"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    monkeypatch.setenv("FIPO_CACHE_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("FIPO_MODEL_CACHE_DIR", str(tmp_path / "models"))
    assert resolve_embedded("smollm2-135m-instruct") == target


def test_size_bound_holds_between_the_periodic_checks(tmp_path: Path) -> None:
    cache = RewriteCache(tmp_path / "r.sqlite", max_entries=50, max_memory_items=0)
    sizes = []
    for n in range(200):
        cache.put(str(n), ["x"])
        sizes.append(len(cache))
    assert max(sizes) == 50
    assert cache.get("199") == ["x"] and cache.get("0") is None  # the oldest went first
