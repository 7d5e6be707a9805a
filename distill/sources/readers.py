"""Rows from the files datasets come in: JSONL, JSON (an array or one object), CSV/TSV, parquet,
any of the text ones gzipped, and folders of them (MATH ships one JSON file per problem).

Every row carries its file and line (the row number for parquet) so a bad one can be named.
A malformed JSONL line is a bad row like any other; a JSON document that does not parse is a
broken file and stops the import, since no row after the error can be found.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from distill.errors import InputError
from distill.jsonl import BadLine, parse_line
from distill.sources.common import ImportContext, Row

TEXT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")
SUFFIXES = (*TEXT_SUFFIXES, ".parquet")


def iter_rows(paths: Iterable[str | Path], ctx: ImportContext) -> Iterator[Row]:
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _suffix(p) in SUFFIXES)
            if not files:
                raise InputError(f"{path}: no data files in this folder ({', '.join(SUFFIXES)})")
            for file in files:
                yield from _rows_of(file, ctx)
        else:
            yield from _rows_of(path, ctx)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    name = name.removesuffix(".gz")
    return Path(name).suffix


def _rows_of(path: Path, ctx: ImportContext) -> Iterator[Row]:
    suffix = _suffix(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if suffix == ".parquet":
        yield from _parquet(path, ctx)
        return
    if suffix not in TEXT_SUFFIXES:
        raise InputError(
            f"{path}: unknown file type {suffix or '(none)'!r}; "
            f"expected one of {', '.join(SUFFIXES)} (optionally .gz)"
        )
    with _open_text(path) as handle:
        if suffix in (".jsonl", ".ndjson"):
            yield from _jsonl(path, handle, ctx)
        elif suffix == ".json":
            yield from _json(path, handle, ctx)
        else:
            yield from _csv(path, handle, ctx, "\t" if suffix == ".tsv" else ",")


def _open_text(path: Path) -> IO[str]:
    try:
        if path.name.lower().endswith(".gz"):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
        return path.open(encoding="utf-8-sig", newline="")  # -sig: a leading BOM is not data
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _jsonl(path: Path, handle: IO[str], ctx: ImportContext) -> Iterator[Row]:
    line_no = 0
    try:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            ctx.stats.rows += 1
            try:
                value = parse_line(line, str(path), line_no)
            except BadLine as exc:
                ctx.bad(f"{path}:{line_no}", exc.reason, exc.problem)
                continue
            yield Row(str(path), line_no, value)
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}:{line_no + 1}: cannot decode ({exc})") from None


def _json(path: Path, handle: IO[str], ctx: ImportContext) -> Iterator[Row]:
    """A JSON array of objects (each named by the line it starts on), or one object."""
    try:
        text = handle.read()
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: cannot decode ({exc})") from None
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        ctx.stats.rows += 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
        if _skip_space(text, end) != len(text):
            raise InputError(
                f"{path}: extra data after the JSON value; is this JSONL? name it .jsonl"
            )
        if not isinstance(value, dict):
            raise InputError(
                f"{path}:1: expected a JSON array or object, got {type(value).__name__}"
            )
        yield Row(str(path), text.count("\n", 0, pos) + 1, value)
        return
    line, counted = 1, 0
    pos = _skip_space(text, pos + 1)
    while pos < len(text) and text[pos] != "]":
        line += text.count("\n", counted, pos)
        counted = pos
        ctx.stats.rows += 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
        if isinstance(value, dict):
            yield Row(str(path), line, value)
        else:
            ctx.bad(
                f"{path}:{line}",
                "not an object",
                f"expected a JSON object, got {type(value).__name__}",
            )
        pos = _skip_space(text, pos)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
        elif not text.startswith("]", pos):
            lineno = text.count("\n", 0, pos) + 1
            raise InputError(f"{path}:{lineno}: malformed JSON (expected ',' or ']')")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n\ufeff":
        pos += 1
    return pos


def _csv(path: Path, handle: IO[str], ctx: ImportContext, delimiter: str) -> Iterator[Row]:
    delimiter = ctx.option("delimiter", delimiter)
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                ctx.stats.rows += 1
                ctx.bad(f"{path}:{start}", "malformed CSV", f"malformed CSV ({exc})")
                continue
            if not any(v.strip() for v in values):
                continue
            ctx.stats.rows += 1
            if len(values) != len(header):
                ctx.bad(
                    f"{path}:{start}",
                    "wrong column count",
                    f"{len(values)} columns, the header has {len(header)}",
                )
                continue
            yield Row(str(path), start, dict(zip(header, values, strict=True)))
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}:{reader.line_num + 1}: cannot decode ({exc})") from None


def _parquet(path: Path, ctx: ImportContext) -> Iterator[Row]:
    try:
        parquet: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise InputError(
            f"{path}: reading parquet needs pyarrow: pip install -e '.[parquet]' "
            "(or pip install pyarrow)"
        ) from None
    try:
        table = parquet.ParquetFile(path)
        number = 0
        for batch in table.iter_batches(batch_size=1024):
            for value in batch.to_pylist():
                number += 1
                ctx.stats.rows += 1
                yield Row(str(path), number, value)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"{path}: cannot read parquet ({exc})") from None
