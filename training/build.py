"""``fipo pop build``: make POP records from raw prompts with a weak and a strong teacher.

Who writes what (the paper used text-davinci-003 as the weak and GPT-4 as the strong model):

==============================  ========  ==================================================================
field                           teacher   conversation
==============================  ========  ==================================================================
naive response (silver)         weak      the raw prompt as the user turn
golden response                 strong    the raw prompt as the user turn
chosen rewrite                  strong    the runtime optimizer template, ``golden`` variant
rejected rewrite                weak      the same optimizer template
==============================  ========  ==================================================================

Each teacher is any runtime backend (local transformers, vLLM, an OpenAI-compatible endpoint). Input
records that already carry a field keep it, so the same command fills in missing fields of an existing POP
file (for instance naive responses left empty). Output is append-only JSONL: every finished record is
flushed and fsynced, a rerun skips ids already written, so a crash loses no finished record.

>>> from fipo_integrations.testing import ScriptedBackend
>>> weak = ScriptedBackend(lambda p: "Do it.")
>>> strong = ScriptedBackend(lambda p: f"{p} Reply with the number only.")
>>> report = build_pop(["Add 2 and 3."], "pop.jsonl", weak=weak, strong=strong)  # doctest: +SKIP
>>> report.written  # doctest: +SKIP
1
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fipo_integrations.backends import Backend, GenerationParams, load_backend
from fipo_integrations.cleaning import clean_rewrite
from fipo_integrations.spec import ModelSpec
from fipo_integrations.templates import ChatMessage, render_optimizer_messages

from .pop import POPRecord, POPValidationError, read_records, resolve_data_paths

__all__ = ["BuildReport", "TeacherSpec", "build_pop", "load_raw_prompts"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeacherSpec:
    """One teacher: its model (any runtime backend, loaded once per spec by ``load_backend``) and decoding.

    >>> TeacherSpec(ModelSpec.parse("embedded:smollm2-135m-instruct")).model.resolved_backend
    'transformers'
    """

    model: ModelSpec | None = None
    max_new_tokens: int = 512
    temperature: float = 0.0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")

    def make(self) -> Backend:
        if self.model is None:
            raise ValueError(
                "a teacher needs a model (--weak-model/--strong-model: 'embedded:NAME', a directory or hub id) "
                "or an endpoint (--weak-base-url/--strong-base-url)"
            )
        return load_backend(self.model)

    def params(self) -> GenerationParams:
        return GenerationParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature)


@dataclass
class BuildReport:
    """What :func:`build_pop` did."""

    output: Path
    total: int
    skipped_finished: int = 0
    written: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.written} records written to {self.output}, {self.skipped_finished} already finished, "
            f"{self.failed} failed (rerun to retry them) of {self.total}"
        )


def _record_from_item(location: str, item: Any) -> POPRecord:
    if isinstance(item, str):
        item = {"raw_prompt": item}
    elif isinstance(item, dict) and "raw_prompt" not in item and isinstance(item.get("prompt"), str):
        item = {**item, "raw_prompt": item["prompt"]}
        item.pop("prompt")
    try:
        return POPRecord.from_dict(item, require_chosen=False)
    except ValueError as exc:
        raise POPValidationError(f"{location}: {exc}") from exc


def load_raw_prompts(sources: str | Path | Sequence[str | Path]) -> list[POPRecord]:
    """Read raw prompts: ``.txt`` (one prompt a line), or JSON/JSONL/parquet of strings or objects with
    ``raw_prompt`` (or ``prompt``) plus any POP fields already known. Duplicate ids keep the first."""
    records: list[POPRecord] = []
    seen: set[str] = set()
    for source in resolve_data_paths(sources):
        path = Path(source)
        items: Iterable[tuple[str, Any]]
        if path.suffix == ".txt":
            lines = path.read_text(encoding="utf-8").splitlines()
            items = [(f"{path}:{n}", line) for n, line in enumerate(lines, 1) if line.strip()]
        else:
            items = read_records([source])
        for location, item in items:
            record = _record_from_item(location, item)
            if record.id not in seen:
                seen.add(record.id)
                records.append(record)
    if not records:
        raise POPValidationError(f"no raw prompts found in {sources}; give a .txt or .jsonl file with prompts")
    return records


def _finished_ids(output: Path) -> set[str]:
    """Ids already in the output; a torn last line (crash mid-write) is cut off so appends stay valid."""
    if not output.is_file():
        return set()
    data = output.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        logger.warning("%s ends with a partial record (interrupted write); removing it", output)
        with output.open("r+b") as handle:
            handle.truncate(cut)
        data = data[:cut]
    ids: set[str] = set()
    for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ids.add(str(json.loads(line)["id"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise POPValidationError(
                f"{output}:{number}: the existing output is not a POP JSONL line ({exc}); "
                "pass a new --output or repair the file"
            ) from exc
    return ids


def _user(text: str) -> list[ChatMessage]:
    return [{"role": "user", "content": text}]


class _Teachers:
    """Lazily created backends (a teacher that is never needed is never loaded)."""

    def __init__(self, weak: Backend | TeacherSpec, strong: Backend | TeacherSpec) -> None:
        self._specs = {"weak": weak, "strong": strong}
        self._backends: dict[str, Backend] = {}
        self._lock = threading.Lock()

    def get(self, role: str) -> tuple[Backend, GenerationParams]:
        spec = self._specs[role]
        if isinstance(spec, Backend):
            return spec, GenerationParams(max_new_tokens=512)
        with self._lock:  # the same model for both roles is loaded once (load_backend's registry)
            if role not in self._backends:
                self._backends[role] = spec.make()
        return self._backends[role], spec.params()

    def generate(self, role: str, conversations: list[list[ChatMessage]]) -> list[str]:
        if not conversations:
            return []
        backend, params = self.get(role)
        return [replies[0].strip() if replies else "" for replies in backend.generate(conversations, params)]


def _complete_chunk(chunk: list[POPRecord], teachers: _Teachers) -> list[POPRecord | str]:
    """Fill missing fields of a chunk; each entry is the finished record or an error message."""
    need_naive = [r for r in chunk if not r.naive_response.strip()]
    need_golden = [r for r in chunk if not r.golden_response.strip()]
    naive = teachers.generate("weak", [_user(r.raw_prompt) for r in need_naive])
    golden = teachers.generate("strong", [_user(r.raw_prompt) for r in need_golden])
    for record, reply in zip(need_naive, naive, strict=True):
        record.text003_response_based_raw = reply
    for record, reply in zip(need_golden, golden, strict=True):
        record.gpt4_response_based_raw = reply

    def template(record: POPRecord) -> list[ChatMessage]:
        return render_optimizer_messages(record.raw_prompt, golden_response=record.golden_response or None)

    need_chosen = [r for r in chunk if not r.chosen_prompt.strip()]
    need_rejected = [r for r in chunk if not r.rejected_prompt.strip()]
    chosen = teachers.generate("strong", [template(r) for r in need_chosen])
    rejected = teachers.generate("weak", [template(r) for r in need_rejected])
    for record, reply in zip(need_chosen, chosen, strict=True):
        record.gpt4_optimized_prompt = clean_rewrite(reply, original=record.raw_prompt)
    for record, reply in zip(need_rejected, rejected, strict=True):
        record.chatgpt_optimized_prompt = clean_rewrite(reply, original=record.raw_prompt)
    results: list[POPRecord | str] = []
    for record in chunk:
        empty = [
            name
            for name in ("naive_response", "golden_response", "chosen_prompt", "rejected_prompt")
            if not getattr(record, name).strip()
        ]
        results.append(f"record {record.id}: the teacher returned an empty {', '.join(empty)}" if empty else record)
    return results


def build_pop(
    prompts: Sequence[str | POPRecord] | str | Path,
    output: str | Path,
    *,
    weak: Backend | TeacherSpec,
    strong: Backend | TeacherSpec,
    batch_size: int = 8,
    concurrency: int = 2,
    limit: int | None = None,
    progress: bool = True,
    on_record: Callable[[POPRecord], None] | None = None,
) -> BuildReport:
    """Build (or complete) POP records and append them to ``output`` (JSONL), resumably.

    ``prompts`` is a list of raw prompt strings or records, or a path/glob understood by
    :func:`load_raw_prompts`. ``batch_size`` records go to a teacher in one generate call and at most
    ``concurrency`` such chunks are in flight. Records whose id is already in ``output`` are skipped.
    """
    if batch_size < 1 or concurrency < 1:
        raise ValueError(f"batch_size and concurrency must be >= 1, got {batch_size} and {concurrency}")
    if isinstance(prompts, (str, Path)):
        records = load_raw_prompts(prompts)
    else:
        records = []
        for index, item in enumerate(prompts, 1):
            records.append(item if isinstance(item, POPRecord) else _record_from_item(f"prompt {index}", item))
    if limit is not None:
        records = records[:limit]
    out_path = Path(output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    finished = _finished_ids(out_path)
    todo = [r for r in records if r.id not in finished]
    report = BuildReport(output=out_path, total=len(records), skipped_finished=len(records) - len(todo))
    if not todo:
        logger.info("nothing to do: all %d records are already in %s", len(records), out_path)
        return report
    teachers = _Teachers(weak, strong)
    chunks = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    from tqdm.auto import tqdm

    with (
        out_path.open("a", encoding="utf-8") as handle,
        tqdm(
            total=len(records), initial=report.skipped_finished, desc="pop build", unit="record", disable=not progress
        ) as bar,
        ThreadPoolExecutor(max_workers=concurrency) as pool,
    ):
        pending: set[Future[list[POPRecord | str]]] = set()
        queue = iter(chunks)

        def submit_next() -> None:
            chunk = next(queue, None)
            if chunk is not None:
                pending.add(pool.submit(_complete_chunk, chunk, teachers))

        for _ in range(concurrency):
            submit_next()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending.discard(future)
                for result in future.result():
                    if isinstance(result, str):
                        report.failed += 1
                        report.errors.append(result)
                        logger.warning(result)
                    else:
                        handle.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                        handle.flush()
                        os.fsync(handle.fileno())
                        report.written += 1
                        if on_record is not None:
                            on_record(result)
                    bar.update(1)
                submit_next()
    logger.info(report.summary())
    return report


def stable_id(text: str) -> str:
    """The id given to a raw prompt without one (same as :meth:`POPRecord.from_dict`)."""
    return "pop-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
