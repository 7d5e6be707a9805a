"""What every importer shares: stable task ids, bad-row handling, exact dedup, sampling.

An importer turns rows into tasks. A row it cannot use raises `BadRow`; the context either turns
that into one `file:line: problem` InputError or, with `--skip-bad`, counts it by reason and
goes on. Rows left out on purpose (another language, a limit) are counted as `skipped`.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from distill.errors import InputError
from distill.keys import content_hash
from distill.records import Task

log = logging.getLogger(__name__)

_SHOWN_BAD_ROWS = 5  # with --skip-bad, the first few are logged in full, the rest only counted


@dataclass(frozen=True, slots=True)
class Row:
    path: str
    line: int  # 1-based line (JSONL, JSON, CSV) or row number (parquet)
    data: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


class BadRow(Exception):
    """A row an importer cannot use; `reason` is the short label it is counted under."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason


@dataclass
class ImportStats:
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    sampled_out: int = 0
    already_present: int = 0
    bad: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    extra: dict[str, int] = field(default_factory=dict)  # importer-specific figures, in order


@dataclass
class ImportContext:
    source: str
    skip_bad: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # the importer's own flags
    stats: ImportStats = field(default_factory=ImportStats)

    def bad(self, where: str, reason: str, message: str = "") -> None:
        """Report a row that cannot be used: stop with one line, or count it and go on."""
        text = f"{where}: {message or reason}"
        if not self.skip_bad:
            raise InputError(f"{text} (use --skip-bad to skip such rows)")
        self.stats.bad[reason] += 1
        if sum(self.stats.bad.values()) <= _SHOWN_BAD_ROWS:
            log.warning("skipped bad row %s", text)
        else:
            log.debug("skipped bad row %s", text)

    def skip(self, reason: str) -> None:
        self.stats.skipped[reason] += 1

    def option(self, name: str, default: Any = None) -> Any:
        value = self.options.get(name)
        return default if value is None else value

    def task(
        self,
        kind: str,
        *,
        prompt: str | None = None,
        messages: list[dict[str, Any]] | None = None,
        reference: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Task:
        """A task whose id is a hash of the source and of what is sent to the teacher."""
        if messages and len(messages) == 1 and messages[0]["role"] == "user":
            prompt, messages = str(messages[0]["content"]), None  # one user turn is a prompt
        if not (prompt or "").strip() and not messages:
            raise BadRow("empty prompt", "the prompt is empty")
        digest = content_hash(
            {"source": self.source, "kind": kind, "prompt": prompt, "messages": messages}
        )
        return Task(
            id=f"{slug(self.source)}-{digest[:16]}",
            kind=kind,
            prompt=prompt,
            messages=messages,
            reference=reference or {},
            source=self.source,
            meta={k: v for k, v in (meta or {}).items() if v is not None and v != ""},
        )


Importer = Callable[[Iterable[Row], ImportContext], Iterator[Task]]
RowConverter = Callable[[Row, ImportContext], "Task | None"]


def per_row(convert: RowConverter) -> Importer:
    """An importer from a function of one row; its BadRow becomes a reported bad row."""

    def run(rows: Iterable[Row], ctx: ImportContext) -> Iterator[Task]:
        for row in rows:
            try:
                task = convert(row, ctx)
            except BadRow as exc:
                ctx.bad(row.where, exc.reason, exc.message)
                continue
            if task is not None:
                yield task

    run.__doc__ = convert.__doc__
    return run


def finish(
    tasks: Iterable[Task], ctx: ImportContext, max_samples: int | None, seed: int
) -> list[Task]:
    """Drop exact duplicates (same id: same source, kind and prompt), then sample if asked.

    The sample keeps the input order, and the same seed picks the same rows every time."""
    seen: set[str] = set()
    unique: list[Task] = []
    for task in tasks:
        if task.id in seen:
            ctx.stats.duplicates += 1
            continue
        seen.add(task.id)
        unique.append(task)
    if max_samples is not None and len(unique) > max_samples:
        keep = sorted(random.Random(seed).sample(range(len(unique)), max_samples))
        ctx.stats.sampled_out = len(unique) - max_samples
        unique = [unique[i] for i in keep]
    ctx.stats.imported = len(unique)
    return unique


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-").lower() or "task"


# Field access that turns a missing or mistyped field into a BadRow naming it.


def text_field(data: dict[str, Any], *names: str, required: bool = True) -> str:
    """The first of `names` present in the row, as text."""
    for name in names:
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise BadRow(
            f"bad field {name!r}", f"field {name!r} must be text, got {type(value).__name__}"
        )
    if required:
        wanted = " or ".join(repr(n) for n in names)
        keys = f"row has: {', '.join(sorted(data)[:8])}" if data else "row has no fields"
        raise BadRow(f"missing {names[0]!r}", f"missing field {wanted} ({keys})")
    return ""


def join_nonempty(*parts: str, sep: str = "\n\n") -> str:
    return sep.join(p.strip("\n") for p in parts if p and p.strip())
