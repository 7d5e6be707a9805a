"""What the two batch APIs share: the item answers, each item's fate, and a batch's timeline.

An item is answered by the sync endpoints' own code (answering.py), with no rate limit and no
transport fault; batch_expire_rate and batch_fail_rate pick, from the seed and the custom_id,
the items that expire or error instead. A batch ends batch_delay_s after its creation: a timer
finishes it then, and any look at it after that time finishes it first if the timer is late.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from distill.sim.answering import Answerer, Built, fingerprint_key, parse
from distill.sim.config import SimConfig
from distill.sim.limits import SimStats
from distill.sim.wire import json_bytes

_SAMPLE_ID = re.compile(r"s(\d{1,9})-")
MAX_BATCH_ITEMS = 50_000


def sample_index_of(custom_id: str) -> int:
    """The sample index a custom_id names: s{INDEX}-{anything}; 0 for any other form."""
    found = _SAMPLE_ID.match(custom_id)
    return int(found.group(1)) if found else 0


class ItemResult(NamedTuple):
    """An item's fate: "ok" (body: the answer), "invalid" (body: the sync 400 error),
    "failed" (a simulated 500), "expired" or "canceled"."""

    kind: str
    body: bytes = b""
    message: str = ""
    built: Built | None = None


class ItemRunner:
    """Answers batch items and counts them in /stats."""

    def __init__(self, config: SimConfig, answerer: Answerer, stats: SimStats) -> None:
        self.config = config
        self._answerer = answerer
        self._stats = stats

    def fate(self, custom_id: str) -> str:
        """ "expired", "failed" or "ok", from the seed and the custom_id alone."""
        digest = hashlib.blake2b(f"batch|{self.config.seed}|{custom_id}".encode(), digest_size=8)
        roll = int.from_bytes(digest.digest(), "big") / 2.0**64
        if roll < self.config.batch_expire_rate:
            return "expired"
        if roll < self.config.batch_expire_rate + self.config.batch_fail_rate:
            return "failed"
        return "ok"

    def run(self, custom_id: str, body: Any, anthropic: bool) -> ItemResult:
        stats = self._stats
        req = parse(body, anthropic)  # a bad body is refused whatever its fate
        if isinstance(req, str):
            stats.batch_items_failed += 1
            return ItemResult("invalid", message=req)
        fate = self.fate(custom_id)
        if fate == "expired":
            stats.batch_items_expired += 1
            return ItemResult("expired")
        if fate == "failed":
            stats.batch_items_failed += 1
            return ItemResult("failed", message="simulated batch item failure (batch_fail_rate)")
        index = sample_index_of(custom_id)
        built = self._answerer.build(req, index)
        stats.batch_items += 1
        stats.ok(
            fingerprint_key(req, index),
            req.prompt_tokens,
            built.completion,
            built.cache.read,
            built.cache.written,
        )
        return ItemResult("ok", built.body, built=built)

    def created(self) -> None:
        self._stats.batches_created += 1

    def canceled(self) -> ItemResult:
        self._stats.batch_items_canceled += 1
        return ItemResult("canceled")


class Timeline:
    """A batch's clock: created now, due to end `delay_s` later, on a timer of its own."""

    def __init__(self, delay_s: float, on_due: Callable[[], None]) -> None:
        self.created = time.time()
        self._start = time.monotonic()
        self.delay_s = delay_s
        self.ended = False
        loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = loop.call_later(delay_s, on_due)

    def due(self) -> bool:
        return not self.ended and time.monotonic() - self._start >= self.delay_s

    def done_by_now(self, position: int, total: int) -> bool:
        """Whether item `position` of `total` would be answered by now: items finish evenly
        over the delay, so a batch canceled halfway keeps about half its answers."""
        elapsed = time.monotonic() - self._start
        return total > 0 and elapsed >= self.delay_s * (position + 1) / total

    def end(self) -> float:
        """Mark it ended (the timer is no longer needed); returns the wall time it ended."""
        self.ended = True
        self.stop()
        return time.time()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def jsonl(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def splice(prefix: dict[str, Any], key: str, raw: bytes, suffix: dict[str, Any]) -> bytes:
    """A JSON object holding `prefix`, then `key` with an already-encoded JSON value, then
    `suffix`: the answer body is embedded byte for byte, not decoded and re-encoded."""
    head = json_bytes(prefix)[:-1]
    tail = json_bytes(suffix)[1:]
    sep = b"," if prefix else b""
    return head + sep + json.dumps(key).encode() + b":" + raw + (b"," + tail if suffix else b"}")


def page(
    items: list[Any], limit: int, after: str | None, before: str | None = None
) -> tuple[list[Any], bool]:
    """A newest-first list page after (or before) an id: (items, has_more)."""
    ids = [item.id for item in items]
    if after is not None:
        items = items[ids.index(after) + 1 :] if after in ids else []
    elif before is not None:
        cut = ids.index(before) if before in ids else 0
        items = items[max(0, cut - limit) : cut]
        return items, cut - limit > 0
    return items[:limit], len(items) > limit


def rfc3339(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def limit_of(query: dict[str, str], default: int, most: int) -> int | str:
    """The `limit` query parameter, or the message of the 400 a bad one gets."""
    raw = query.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return f"limit must be an integer, got {raw!r}"
    return value if 1 <= value <= most else f"limit must be between 1 and {most}, got {value}"
