"""Task, Sample and Verdict: the records every stage reads and writes, one JSON object a line.

Every record carries `schema_version`. Parsing is strict (an unknown field is a typo until proven
otherwise) and every error names `file:line`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from distill.errors import RecordError
from distill.jsonl import iter_jsonl

SCHEMA_VERSION = 1

TASK_KINDS = ("code", "math", "merge", "chat")
SAMPLE_STATUSES = ("ok", "error")
VERDICT_STATUSES = ("pass", "fail", "error", "ungradeable", "suspect")
# A pass rate's denominator everywhere (runs, status, report, eval): the answers that were judged.
JUDGED = ("pass", "fail", "suspect")
REASONING_KINDS = ("raw", "summarized", "redacted", "none")


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    kind: str
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    reference: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        return {k: v for k, v in row.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to it (Anthropic bills these higher)


@dataclass(frozen=True, slots=True)
class Verdict:
    grader: str
    grader_version: str
    status: str
    score: float = 0.0
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Sample:
    task_id: str
    sample_index: int
    teacher: str
    request_key: str
    messages: list[dict[str, Any]]
    status: str
    model: str = ""
    reasoning: str = ""
    reasoning_kind: str = "none"
    content: str = ""
    finish_reason: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    error: dict[str, str] | None = None
    created_at: str = ""
    verdict: Verdict | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The row, as `asdict` gives it, without its deep copy of the messages (a tenth of
        harvest's CPU per request): the row is written at once, never changed."""
        row = {name: getattr(self, name) for name in _SAMPLE_FIELDS}
        row["usage"] = asdict(self.usage)
        if self.verdict is None:
            del row["verdict"]
        else:
            row["verdict"] = self.verdict.to_dict()
        return row


_SAMPLE_FIELDS = tuple(f.name for f in fields(Sample))

R = TypeVar("R", Task, Sample)


_FIELD_NAMES: dict[type[Any], frozenset[str]] = {}


def _field_names(cls: type[Any]) -> frozenset[str]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
    return names


def _check_fields(
    cls: type[Any], row: dict[str, Any], where: tuple[str, int], required: Iterable[str]
) -> None:
    names = _field_names(cls)
    for key in row:
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise RecordError(*where, f"unknown field {key!r} in {cls.__name__.lower()}{hint}")
    for key in required:
        if key not in row:
            raise RecordError(*where, f"{cls.__name__.lower()} is missing {key!r}")
    version = row.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise RecordError(
            *where,
            f"schema_version {version!r} is newer than this distill reads ({SCHEMA_VERSION}); "
            "upgrade distill",
        )


_NON_NULL = ("id", "kind", "reference", "meta", "source")


def _expect(
    row: dict[str, Any], key: str, kind: type | tuple[type, ...], where: tuple[str, int]
) -> None:
    value = row.get(key)
    if value is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise RecordError(*where, f"{key!r} must be {names}, got {type(value).__name__}")


def task_from_dict(row: dict[str, Any], where: tuple[str, int] = ("<task>", 0)) -> Task:
    _check_fields(Task, row, where, ("id", "kind"))
    for key in _NON_NULL:
        if key in row and row[key] is None:
            raise RecordError(*where, f"task {key!r} must not be null")
    for key in ("id", "kind", "prompt", "source"):
        _expect(row, key, str, where)
    _expect(row, "messages", list, where)
    _expect(row, "reference", dict, where)
    _expect(row, "meta", dict, where)
    if not row["id"]:
        raise RecordError(*where, "task 'id' is empty")
    if not row.get("prompt") and not row.get("messages"):
        raise RecordError(*where, f"task {row['id']!r} has neither 'prompt' nor 'messages'")
    return Task(**row)


def sample_from_dict(row: dict[str, Any], where: tuple[str, int] = ("<sample>", 0)) -> Sample:
    _check_fields(
        Sample,
        row,
        where,
        ("task_id", "sample_index", "teacher", "request_key", "messages", "status"),
    )
    if row["status"] not in SAMPLE_STATUSES:
        raise RecordError(*where, f"sample status must be one of {SAMPLE_STATUSES}")
    _expect(row, "sample_index", int, where)
    values = dict(row)
    try:
        values["usage"] = Usage(**row.get("usage", {}))
        if row.get("verdict") is not None:
            values["verdict"] = Verdict(**row["verdict"])
    except TypeError as exc:
        raise RecordError(*where, f"bad usage or verdict: {exc}") from None
    return Sample(**values)


def read_tasks(paths: Iterable[str | Path]) -> list[Task]:
    """Read task files in order; ids must be unique across all of them."""
    tasks: list[Task] = []
    seen: dict[str, tuple[str, int]] = {}
    for path in paths:
        for line_no, row in iter_jsonl(path):
            where = (str(path), line_no)
            task = task_from_dict(row, where)
            if task.id in seen:
                first = seen[task.id]
                raise RecordError(
                    *where, f"duplicate task id {task.id!r} (first at {first[0]}:{first[1]})"
                )
            seen[task.id] = where
            tasks.append(task)
    return tasks


def iter_samples(path: str | Path) -> Iterator[Sample]:
    for line_no, row in iter_jsonl(path):
        yield sample_from_dict(row, (str(path), line_no))
