"""Sharded harvest: `distill harvest --shard I/N` runs the tasks whose id hashes to I mod N.

A shard is a harvest with its own folders, so N machines never share a file or a lock:

    outputs/<name>/shards/I-of-N/samples.jsonl   its samples, in plan order
    outputs/<name>/shards/I-of-N/shard.json      written last: the shard finished, and its plan
    cache/<name>/shards/I-of-N/harvest/          its cache (successes, keyed by request key)

A shard also reads the main cache (cache/<name>/harvest/), and an unsharded harvest reads every
shard cache, never writing to either: an answer on disk is never paid for twice, whichever way
the next run goes. `distill merge-shards` (distill.harvest.merge) joins the shards into the
samples.jsonl an unsharded harvest writes and copies their answers into the main cache.

The shard of a task is the first 8 bytes of sha256(task id), big-endian, modulo N: stable across
machines, Python versions and runs (unlike `hash()`), so a shard re-run plans the same tasks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distill.config import Config
from distill.config.schema import Shard, parse_shard
from distill.jsonl import write_text_atomic
from distill.keys import canonical_json

if TYPE_CHECKING:
    from collections.abc import Iterable

    from distill.harvest.plan import PlannedRequest
    from distill.records import Task

MANIFEST = "shard.json"
SAMPLES = "samples.jsonl"


def shard_of(task_id: str, count: int) -> int:
    """The shard (0 to count-1) that harvests `task_id`."""
    digest = hashlib.sha256(task_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def tasks_in(tasks: Iterable[Task], shard: Shard) -> list[Task]:
    return [t for t in tasks if shard_of(t.id, shard.count) == shard.index]


def shards_dir(out_or_cache: Path) -> Path:
    return out_or_cache / "shards"


def shard_out_dir(config: Config, shard: Shard) -> Path:
    return shards_dir(config.out) / shard.label


def shard_cache_dir(config: Config, shard: Shard) -> Path:
    return shards_dir(config.cache) / shard.label / "harvest"


def main_cache_dir(config: Config) -> Path:
    return config.cache / "harvest"


@dataclass(frozen=True)
class HarvestPlaces:
    """Where one harvest (sharded or not) writes, and which other caches it reads."""

    out: Path  # the folder it locks and writes samples.jsonl in
    cache: Path
    read_also: tuple[Path, ...]
    shard: Shard | None

    @property
    def samples(self) -> Path:
        return self.out / SAMPLES


def harvest_places(config: Config) -> HarvestPlaces:
    shard = config.harvest.sharding
    if shard is None:
        others = tuple(sorted(shards_dir(config.cache).glob("*-of-*/harvest")))
        return HarvestPlaces(config.out, main_cache_dir(config), others, None)
    return HarvestPlaces(
        shard_out_dir(config, shard),
        shard_cache_dir(config, shard),
        (main_cache_dir(config),),
        shard,
    )


def plan_digest(plan: Iterable[PlannedRequest]) -> str:
    """What was planned, in order: a shard harvested for other tasks or teachers differs."""
    digest = hashlib.sha256()
    for r in plan:
        digest.update(f"{r.task_id}\t{r.teacher}\t{r.sample_index}\t{r.key}\n".encode())
    return digest.hexdigest()


def write_manifest(places: HarvestPlaces, plan: list[PlannedRequest], written: int) -> None:
    """shard.json, after samples.jsonl: without it (or with an old plan) merge refuses."""
    assert places.shard is not None
    manifest = {
        "schema_version": 1,
        "shard": str(places.shard),
        "tasks": len({r.task_id for r in plan}),
        "planned": len(plan),
        "written": written,
        "plan_sha256": plan_digest(plan),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_text_atomic(places.out / MANIFEST, canonical_json(manifest) + "\n")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """A shard folder's shard.json; None when absent or unreadable (an unfinished shard)."""
    try:
        value = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def shard_folders(out: Path) -> dict[Shard, Path]:
    """The shard folders (I-of-N) under out/shards, by shard; other names are not shards."""
    found = {}
    for folder in sorted(shards_dir(out).glob("*-of-*")):
        try:
            shard = parse_shard(folder.name.replace("-of-", "/", 1))
        except ValueError:
            continue
        if folder.name == shard.label and folder.is_dir():
            found[shard] = folder
    return found
