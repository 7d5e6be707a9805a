"""Write output rows as JSONL (streamed), Parquet or CSV, each file atomically.

Parquet and CSV go through a JSONL file first: pyarrow infers one schema over the whole file
(rows with and without optional keys such as `reasoning_content` or `system` agree), and CSV
learns its header from every row. Nested values become JSON text in CSV cells.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from distill.errors import ConfigError
from distill.jsonl import iter_jsonl, write_atomic, write_jsonl_atomic

SUFFIX = {"jsonl": ".jsonl", "parquet": ".parquet", "csv": ".csv"}


def write_rows(path: Path, rows: Iterable[dict[str, Any]], file_format: str) -> int:
    if file_format == "jsonl":
        return write_jsonl_atomic(path, rows, fast=True)
    staging = path.with_name(f".{path.name}.jsonl")
    count = write_jsonl_atomic(staging, rows, fast=True)
    try:
        if file_format == "parquet":
            _to_parquet(staging, path, count)
        else:
            write_atomic(path, lambda handle: _to_csv(staging, handle))
    finally:
        staging.unlink(missing_ok=True)
    return count


def _to_parquet(source: Path, path: Path, count: int) -> None:
    try:
        import pyarrow as pa
        import pyarrow.json as pa_json
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            "export.file_format = 'parquet' needs pyarrow: pip install -e '.[parquet]' "
            "(or pip install pyarrow)"
        ) from None
    # An empty split has no rows to infer a schema from: write a table without columns.
    table = pa_json.read_json(source) if count else pa.table({})
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _to_csv(source: Path, handle: IO[str]) -> None:
    header: dict[str, None] = {}
    for _, row in iter_jsonl(source):
        header.update(dict.fromkeys(row))
    writer = csv.DictWriter(handle, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    for _, row in iter_jsonl(source):
        writer.writerow(
            {
                k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                for k, v in row.items()
            }
        )
