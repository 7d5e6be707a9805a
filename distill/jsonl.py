"""The one JSONL reader and writer.

Reading names `file:line` in every error. Writing is either atomic (temp file in the same
directory, fsync, rename) so a reader sees the old file or the new one, never half of one; or a
flushed append whose torn last line (a crash mid-write) is cut off when the file is reopened.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from distill.errors import InputError, RecordError


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; raise RecordError on a bad one."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise RecordError(str(path), line_no, "not valid UTF-8") from None
            except json.JSONDecodeError as exc:
                raise RecordError(
                    str(path), line_no, f"malformed JSON ({exc.msg} at column {exc.colno})"
                ) from None
            if not isinstance(value, dict):
                raise RecordError(
                    str(path), line_no, f"expected a JSON object, got {type(value).__name__}"
                )
            yield line_no, value


def dumps_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows to path atomically; return how many were written."""
    path = Path(path)
    count = 0

    def write(handle: IO[str]) -> None:
        nonlocal count
        for row in rows:
            handle.write(dumps_line(row))
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
