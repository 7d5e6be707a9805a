"""The one JSONL reader and writer.

Reading names `file:line` in every error. Lines are parsed by the standard parser, exact for
every value; export, which reads millions of rows twice, asks for orjson (`fast`), about three
times faster, whose integers past 64 bits become floats and which refuses NaN and unpaired
surrogates (what it refuses is named in the standard parser's words).

Writing is either atomic (temp file in the same directory, fsync, rename) so a reader sees the
old file or the new one, never half of one; or a flushed append whose torn last line (a crash
mid-write) is cut off when the file is reopened.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from distill.errors import InputError, RecordError

MALFORMED = "malformed JSON"
NOT_AN_OBJECT = "not an object"
NOT_UTF8 = "not valid UTF-8"


class BadLine(RecordError):
    """A line that is not one JSON object; `reason` (MALFORMED, ...) is what skip counts use."""

    def __init__(self, path: str, line: int, reason: str, problem: str) -> None:
        super().__init__(path, line, problem)
        self.reason = reason


def iter_lines(path: str | Path, hint: str = "") -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, raw line) for each non-blank line; the offset lets a second
    pass seek straight back to a line. `hint` is added to an open error (what to check)."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        problem = "no such file" if isinstance(exc, FileNotFoundError) else None
        problem = problem or f"cannot read ({exc.strerror})"
        raise InputError(f"{path}: {problem}" + (f"; {hint}" if hint else "")) from None
    with handle:
        offset = 0
        for line_no, raw in enumerate(handle, start=1):
            if raw.strip():
                yield line_no, offset, raw
            offset += len(raw)


def parse_line(raw: bytes | str, path: str, line_no: int, fast: bool = False) -> dict[str, Any]:
    """One line as a JSON object; BadLine naming `path:line_no` if it is not one."""
    if fast:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            _standard_loads(raw, path, line_no)  # raises, saying what is wrong, if it can
            problem = f"{MALFORMED} (NaN, Infinity or an unpaired surrogate, which export refuses)"
            raise BadLine(path, line_no, MALFORMED, problem) from None
    else:
        value = _standard_loads(raw, path, line_no)
    if not isinstance(value, dict):
        problem = f"expected a JSON object, got {type(value).__name__}"
        raise BadLine(path, line_no, NOT_AN_OBJECT, problem)
    return value


def _standard_loads(raw: bytes | str, path: str, line_no: int) -> Any:
    try:
        return json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except UnicodeDecodeError:
        raise BadLine(path, line_no, NOT_UTF8, NOT_UTF8) from None
    except json.JSONDecodeError as exc:
        problem = f"{MALFORMED} ({exc.msg} at column {exc.colno})"
        raise BadLine(path, line_no, MALFORMED, problem) from None


def iter_jsonl(
    path: str | Path, on_bad: Callable[[BadLine], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line. A bad line raises BadLine (a
    RecordError), or with `on_bad` is handed to it and skipped."""
    name = str(path)
    for line_no, _, raw in iter_lines(path):
        try:
            yield line_no, parse_line(raw, name, line_no)
        except BadLine as exc:
            if on_bad is None:
                raise
            on_bad(exc)


def dumps_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def dumps_line_fast(row: dict[str, Any]) -> str:
    """The same JSON as dumps_line, several times faster (orjson), for export's millions of rows.

    Floats may be spelled differently (`1e-5` for `1e-05`) and NaN becomes null, so stage files
    keep dumps_line and their bytes never change. What orjson cannot write (an int past 64 bits)
    goes through dumps_line.
    """
    try:
        return orjson.dumps(row).decode() + "\n"
    except orjson.JSONEncodeError:
        return dumps_line(row)


def write_jsonl_atomic(
    path: str | Path, rows: Iterable[dict[str, Any]], *, fast: bool = False
) -> int:
    """Write rows to path atomically; return how many were written. `fast`: dumps_line_fast."""
    path = Path(path)
    count = 0
    dumps = dumps_line_fast if fast else dumps_line

    def write(handle: IO[str]) -> None:
        nonlocal count
        for row in rows:
            handle.write(dumps(row))
            count += 1

    write_atomic(path, write)
    return count


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(Path(path), lambda handle: handle.write(text))


def write_atomic(path: Path, write: Any) -> None:
    """Call write(handle) on a temp file beside path, then fsync and rename it over path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, path.stat().st_mode & 0o777 if path.exists() else _default_mode())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _default_mode() -> int:
    """0o666 minus the umask, as open() would give (mkstemp alone gives 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class JsonlAppender:
    """Append rows one line at a time, flushed, so a crash loses at most the line being written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_tail(self.path)
        self._handle = self.path.open("a", encoding="utf-8", newline="\n")

    def append(self, row: dict[str, Any]) -> None:
        self._handle.write(dumps_line(row))
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line that has no newline: it was being written when the process died."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        size = handle.seek(0, os.SEEK_END)
        block = 65536
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            handle.seek(start)
            chunk = handle.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                handle.truncate(start + idx + 1)
                return
            pos = start
        handle.truncate(0)
