"""`distill merge-shards`: the shards' samples as the one samples.jsonl an unsharded run writes.

It sends nothing. It refuses, naming the shard and the fix, when a shard is missing or
unfinished, was run with another N, holds tasks outside its shard, overlaps another, or was
harvested for another plan (tasks, teachers or prompts changed since). Then it copies every
shard's answers into the main cache (so a later unsharded harvest sends nothing, even with the
shard folders deleted) and writes samples.jsonl atomically from the main cache in plan order:
the same code path, so the same bytes, as an unsharded harvest over that cache.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from distill.config import Config
from distill.config.schema import Shard
from distill.errors import InputError
from distill.harvest.cache import SampleCache
from distill.harvest.plan import PlannedRequest, plan_of
from distill.harvest.shards import (
    MANIFEST,
    SAMPLES,
    main_cache_dir,
    plan_digest,
    read_manifest,
    shard_cache_dir,
    shard_folders,
    shard_of,
    shards_dir,
)
from distill.jsonl import dumps_line, iter_lines, parse_line, write_atomic
from distill.runlock import output_lock

log = logging.getLogger(__name__)

_Id = tuple[str, str, int]  # task id, teacher, sample index: one row of the plan


@dataclass(frozen=True)
class _Row:
    shard: int
    offset: int
    length: int
    ok: bool
    key: str


@dataclass
class MergeResult:
    samples_path: Path
    shards: int
    planned: int
    written: int  # rows in samples.jsonl; planned - written were never attempted
    cache_added: int  # answers new to the main cache
    cache_dir: Path


def merge_shards(config: Config, count: int | None = None) -> MergeResult:
    """Merge the shards of `config` (all N of them; `count` picks N when several were run)."""
    config = replace(config, harvest=replace(config.harvest, shard=""))
    run = f"`distill harvest -c {config.source or 'CONFIG'} --shard"
    folders = _shard_set(config, count, run)
    n = len(folders)
    plan = plan_of(config)
    with contextlib.ExitStack() as locks:
        for folder in folders:  # a shard still running here: LockedError, nothing merged
            locks.enter_context(output_lock(folder, f"merge-shards-{os.getpid()}"))
        _check_manifests(folders, plan, run)
        rows = _index_rows(folders, plan, run)
        cache = SampleCache(main_cache_dir(config))
        try:
            added = 0
            for i in range(n):
                added += _copy_cache(shard_cache_dir(config, Shard(i, n)), cache)
            added += cache.put_missing(_ok_rows(folders, rows))
            path = config.out / SAMPLES
            written = _write_samples(path, plan, rows, folders, cache)
        finally:
            cache.close()
    return MergeResult(path, n, len(plan), written, added, main_cache_dir(config))


def _shard_set(config: Config, count: int | None, run: str) -> list[Path]:
    """The folders of shards 0 to N-1, in order; refuses when one is missing or N is unclear."""
    found = shard_folders(config.out)
    where = shards_dir(config.out)
    counts = sorted({s.count for s in found})
    if count is None and len(counts) > 1:
        names = ", ".join(sorted(f.name for f in found.values()))
        raise InputError(
            f"{where}: shards were run with different N ({names}): delete the stale shard "
            "folders, or give --shards N to merge the shards of that N"
        )
    n = count if count is not None else counts[0] if counts else 0
    if n < 1:
        raise InputError(
            f"{where}: no shard outputs here: run {run} I/N` for I = 0 to N-1 (on one machine "
            f"each, then copy their shards/I-of-N folders here), then merge"
        )
    others = sorted(f.name for s, f in found.items() if s.count != n)
    if others:
        log.info("ignoring shards of another N: %s", ", ".join(others))
    missing = []
    for i in range(n):
        folder = where / Shard(i, n).label
        missing += [
            str(folder / name) for name in (SAMPLES, MANIFEST) if not (folder / name).exists()
        ]
    if missing:
        todo = sorted({Path(m).parent.name.replace("-of-", "/") for m in missing})
        which = f"{todo[0]}`" if len(todo) == 1 else f"I/N` for {', '.join(todo)}"
        raise InputError(
            f"missing shard files: {', '.join(missing)}; run {run} {which} (or copy those shard "
            "folders here from the machines that ran them), then merge again"
        )
    return [where / Shard(i, n).label for i in range(n)]


def _sub_plans(plan: list[PlannedRequest], n: int) -> list[list[PlannedRequest]]:
    subs: list[list[PlannedRequest]] = [[] for _ in range(n)]
    for request in plan:
        subs[shard_of(request.task_id, n)].append(request)
    return subs


def _check_manifests(folders: list[Path], plan: list[PlannedRequest], run: str) -> None:
    n = len(folders)
    for i, (folder, sub) in enumerate(zip(folders, _sub_plans(plan, n), strict=True)):
        manifest = read_manifest(folder)
        rerun = f"run {run} {i}/{n}` again (it re-sends nothing already answered)"
        if manifest is None:
            raise InputError(
                f"{folder / MANIFEST}: unreadable, so the shard may not have finished; {rerun}"
            )
        if manifest.get("shard") != f"{i}/{n}":
            raise InputError(
                f"{folder / MANIFEST}: this folder holds shard {manifest.get('shard')!r}, run "
                f"with another N than {i}/{n}: delete the folder and {rerun}"
            )
        if manifest.get("plan_sha256") != plan_digest(sub):
            raise InputError(
                f"{folder}: shard {i}/{n} was harvested for another plan (the tasks, teachers or "
                f"prompts changed since it ran): {rerun}"
            )


def _index_rows(folders: list[Path], plan: list[PlannedRequest], run: str) -> dict[_Id, _Row]:
    """Where each planned row is, checking that every row is planned, in its shard, and once."""
    n = len(folders)
    planned = {(r.task_id, r.teacher, r.sample_index): r.key for r in plan}
    rows: dict[_Id, _Row] = {}
    for i, folder in enumerate(folders):
        path = folder / SAMPLES
        for line_no, offset, raw in iter_lines(path):
            at = f"{path}:{line_no}"
            row = parse_line(raw, str(path), line_no)
            rid = _row_id(row, at)
            what = f"task {rid[0]!r} (teacher {rid[1]!r}, sample {rid[2]})"
            rerun = f"run {run} {i}/{n}` again"
            if rid in rows:
                other = folders[rows[rid].shard].name
                if other == folder.name:
                    raise InputError(f"{at}: {what} is in this file twice: {rerun}")
                raise InputError(
                    f"{at}: {what} is in shards {other} and {folder.name}: two shards overlap; "
                    f"it belongs to {shard_of(rid[0], n)}/{n}, so {rerun}"
                )
            if rid not in planned:
                raise InputError(
                    f"{at}: {what} is not in the plan of this config (tasks or teachers changed "
                    f"since the shard ran): {rerun}"
                )
            home = shard_of(rid[0], n)
            if home != i:
                raise InputError(
                    f"{at}: {what} belongs to shard {home}/{n}: the file holds tasks outside its "
                    f"shard {i}/{n}; {rerun}"
                )
            if row.get("request_key") != planned[rid]:
                raise InputError(
                    f"{at}: {what} was asked with other settings than this config's (request key "
                    f"differs): {rerun}"
                )
            rows[rid] = _Row(i, offset, len(raw), row.get("status") == "ok", planned[rid])
    return rows


def _row_id(row: dict[str, Any], at: str) -> _Id:
    task_id, teacher, index = row.get("task_id"), row.get("teacher"), row.get("sample_index")
    if not isinstance(task_id, str) or not isinstance(teacher, str) or type(index) is not int:
        raise InputError(f"{at}: not a sample row (task_id, teacher and sample_index needed)")
    return task_id, teacher, index


def _copy_cache(directory: Path, cache: SampleCache) -> int:
    if not (directory / "cache.db").exists():  # only the outputs were copied here: rows suffice
        return 0
    shard_cache = SampleCache(directory)
    try:
        return cache.put_missing(shard_cache.items())
    finally:
        shard_cache.close()


@contextlib.contextmanager
def _opened(folders: list[Path]) -> Iterator[list[IO[bytes]]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context((f / SAMPLES).open("rb")) for f in folders]


def _read(handle: IO[bytes], row: _Row) -> bytes:
    handle.seek(row.offset)
    return handle.read(row.length)


def _ok_rows(folders: list[Path], rows: dict[_Id, _Row]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(request key, sample) of each answered row: the answer as its shard's cache held it."""
    with _opened(folders) as handles:
        for row in rows.values():
            if row.ok:
                yield row.key, parse_line(_read(handles[row.shard], row), "", 0)


def _write_samples(
    path: Path,
    plan: list[PlannedRequest],
    rows: dict[_Id, _Row],
    folders: list[Path],
    cache: SampleCache,
) -> int:
    """samples.jsonl as the runner writes it: answers from the main cache, errors as the shard
    recorded them, in plan order."""
    written = 0

    def write(out: IO[str]) -> None:
        nonlocal written
        with _opened(folders) as handles:
            for request in plan:
                row = rows.get((request.task_id, request.teacher, request.sample_index))
                if row is None:
                    continue  # its shard never sent it (a stopped teacher, the cost cap)
                cached = cache.get(request.key) if row.ok else None
                if cached is not None:
                    out.write(
                        dumps_line(dict(cached, task_id=request.task_id, teacher=request.teacher))
                    )
                else:
                    line = _read(handles[row.shard], row).decode("utf-8")
                    out.write(line if line.endswith("\n") else line + "\n")
                written += 1

    write_atomic(path, write)
    return written
