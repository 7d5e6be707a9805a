"""The harvest cache: one diskcache entry per request key, successes only. The durable truth.

Eviction is off: an entry is an answer somebody paid for. diskcache commits each write to SQLite
(WAL), so a SIGKILL loses at most the answers still in flight.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import diskcache


def _open(directory: str | Path) -> diskcache.Cache:
    return diskcache.Cache(
        str(directory),
        eviction_policy="none",
        size_limit=2**62,
        disk_min_file_size=2**20,  # keep answers inside SQLite, not one file each
        statistics=0,
    )


class SampleCache:
    """`read_also`: caches whose answers count as cached too (a shard's view of the main cache,
    an unsharded harvest's view of the shard caches). They are never written: an answer read
    from one is copied into this cache. One that does not exist yet is skipped."""

    def __init__(self, directory: str | Path, read_also: Sequence[str | Path] = ()) -> None:
        self._cache = _open(directory)
        self._also = [_open(d) for d in read_also if (Path(d) / "cache.db").exists()]

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._cache.get(key)
        if value is None:
            for other in self._also:
                value = other.get(key)
                if isinstance(value, dict):
                    self._cache.set(key, value)
                    break
        return value if isinstance(value, dict) else None

    def __contains__(self, key: str) -> bool:
        return key in self._cache or any(key in other for other in self._also)

    def put(self, key: str, sample: dict[str, Any]) -> None:
        self._cache.set(key, sample)

    def put_missing(self, items: Iterable[tuple[str, dict[str, Any]]], batch: int = 1000) -> int:
        """Add the entries this cache lacks, `batch` to a transaction; how many were added."""
        added = 0
        chunk: list[tuple[str, dict[str, Any]]] = []

        def flush() -> None:
            nonlocal added
            with self._cache.transact():
                for key, sample in chunk:
                    if key not in self._cache:
                        self._cache.set(key, sample)
                        added += 1
            chunk.clear()

        for item in items:
            chunk.append(item)
            if len(chunk) >= batch:
                flush()
        flush()
        return added

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every entry of this cache (not of `read_also`)."""
        for key in self._cache.iterkeys():
            value = self._cache.get(key)
            if isinstance(key, str) and isinstance(value, dict):
                yield key, value

    def __len__(self) -> int:
        return len(self._cache)

    def volume(self) -> int:
        return int(self._cache.volume())

    def close(self) -> None:
        for cache in (self._cache, *self._also):
            cache.close()
