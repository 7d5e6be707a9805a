"""The harvest cache: one diskcache entry per request key, successes only. The durable truth.

Eviction is off: an entry is an answer somebody paid for. diskcache commits each write to SQLite
(WAL), so a SIGKILL loses at most the answers still in flight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import diskcache


class SampleCache:
    def __init__(self, directory: str | Path) -> None:
        self._cache = diskcache.Cache(
            str(directory),
            eviction_policy="none",
            size_limit=2**62,
            disk_min_file_size=2**20,  # keep answers inside SQLite, not one file each
            statistics=0,
        )

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._cache.get(key)
        return value if isinstance(value, dict) else None

    def __contains__(self, key: str) -> bool:
        return key in self._cache

    def put(self, key: str, sample: dict[str, Any]) -> None:
        self._cache.set(key, sample)

    def __len__(self) -> int:
        return len(self._cache)

    def volume(self) -> int:
        return int(self._cache.volume())

    def close(self) -> None:
        self._cache.close()
