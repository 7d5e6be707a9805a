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

import orjson

from distill.errors import ConfigError
from distill.jsonl import write_atomic

SUFFIX = {"jsonl": ".jsonl", "parquet": ".parquet", "csv": ".csv"}


def write_rows(path: Path, rows: Iterable[dict[str, Any]], file_format: str) -> int:
    count = 0

    def write(handle: IO[str]) -> None:
        nonlocal count
        for row in rows:
            # orjson writes what json.dumps(ensure_ascii=False, compact) writes, several times
            # faster; NaN/Infinity (never in our rows) would become null instead.
            handle.write(orjson.dumps(row).decode() + "\n")
            count += 1

    if file_format == "jsonl":
        write_atomic(path, write)
        return count
    staging = path.with_name(f".{path.name}.jsonl")
    write_atomic(staging, write)
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
    with source.open(encoding="utf-8") as rows:
        for line in rows:
            header.update(dict.fromkeys(json.loads(line)))
    writer = csv.DictWriter(handle, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    with source.open(encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            writer.writerow(
                {
                    k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                    for k, v in row.items()
                }
            )
