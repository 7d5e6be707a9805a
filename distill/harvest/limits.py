"""Per-teacher client-side limits: requests/minute, tokens/minute, and a shared pause.

The buckets refill continuously (half a second of burst, not a minute's), so a server enforcing
the same per-minute limit over short windows never sees a burst; the token bucket takes back
what a request was charged (prompt estimate + max_tokens) but did not use. A 429 pauses
the whole teacher, and `x-ratelimit-*` / `anthropic-ratelimit-*` headers saying nothing is left
pause it until their reset, before the server has to say 429.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime

from distill.config import Limits

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def estimate_tokens(text: str) -> int:
    """A cheap, slightly generous token estimate (servers charge prompt estimate + max_tokens)."""
    return max(1, math.ceil(len(text) / 4))


# Requests sent at the limit arrive jittered by the network and the server's scheduling, so a
# client at exactly the server's rate and burst gets the odd 429. Aim a little below both.
RATE_MARGIN = 0.99
BURST_S = 0.5


class LeakyBucket:
    """A bucket that drains at `per_second` and holds `capacity`; a charge waits until it fits.

    Waiters are served first come, first served. `refund` gives back what a request was
    charged but did not use.
    """

    def __init__(self, capacity: float, per_second: float) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._level = 0.0
        self._checked = time.monotonic()
        self._turn = asyncio.Lock()  # FIFO: one waiter at a time at the head of the queue

    async def acquire(self, amount: float) -> None:
        amount = min(amount, self.capacity)
        async with self._turn:
            while (excess := self._drain() + amount - self.capacity) > 0:
                await asyncio.sleep(excess / self.per_second)
            self._level += amount

    def refund(self, amount: float) -> None:
        self._level = max(0.0, self._drain() - amount)

    def _drain(self) -> float:
        now = time.monotonic()
        self._level = max(0.0, self._level - (now - self._checked) * self.per_second)
        self._checked = now
        return self._level


def _bucket(per_minute: int, largest: int) -> LeakyBucket | None:
    """A leaky bucket holding half a second's worth, or the largest single charge if more."""
    if per_minute <= 0:
        return None
    per_second = per_minute * RATE_MARGIN / 60.0
    return LeakyBucket(max(per_second * BURST_S, float(largest), 1.0), per_second)


class TeacherLimiter:
    def __init__(self, limits: Limits, largest_charge: int) -> None:
        self._requests = _bucket(limits.rpm, 1)
        self._tokens = _bucket(limits.tpm, largest_charge)
        self._paused_until = 0.0
        self.pauses = 0

    async def acquire(self, charge: int) -> None:
        await self._wait_out_pause()
        if self._requests is not None:
            await self._requests.acquire(1.0)
        if self._tokens is not None:
            await self._tokens.acquire(float(charge))
        await self._wait_out_pause()

    def settle(self, charged: int, used: int) -> None:
        """Correct the token charge (prompt estimate + max_tokens) by the usage reported."""
        if self._tokens is not None and charged > used > 0:
            self._tokens.refund(charged - used)

    def pause(self, seconds: float) -> None:
        until = time.monotonic() + max(0.0, seconds)
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1

    def observe(self, headers: Mapping[str, str]) -> None:
        """Pause until the reset the server announces when it says nothing is left."""
        for remaining_key, reset_key in (
            ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
            ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
            ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
            ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
        ):
            remaining = headers.get(remaining_key)
            if remaining is None or remaining.strip() not in ("0", "0.0"):
                continue
            wait = parse_reset(headers.get(reset_key, ""))
            if wait:
                self.pause(wait)

    async def _wait_out_pause(self) -> None:
        while (delay := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)


def parse_reset(value: str) -> float:
    """Seconds until a reset given as `1.5s`, `6m0s`, `20ms`, or an RFC 3339 time."""
    value = value.strip()
    if not value:
        return 0.0
    if "T" in value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return 0.0
        return max(0.0, moment.timestamp() - time.time())
    total = sum(float(n) * _UNIT_S[u] for n, u in _DURATION.findall(value))
    if total == 0.0:
        try:
            total = float(value)
        except ValueError:
            return 0.0
    return max(0.0, total)
