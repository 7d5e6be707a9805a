"""The simulator's latency spec, its RPM/TPM rate limiter and the counters behind GET /stats."""

from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from distill.errors import ConfigError


@dataclass(frozen=True)
class Latency:
    """A latency spec: "0.2" fixed, "uniform:LO,HI", "lognormal:MEDIAN,SIGMA", "exp:MEAN"."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Latency:
        kind, _, rest = spec.strip().rpartition(":")
        try:
            nums = [float(x) for x in rest.split(",")]
        except ValueError:
            nums = []
        arity = {"": 1, "uniform": 2, "lognormal": 2, "exp": 1}.get(kind)
        if arity is None or len(nums) != arity or any(not math.isfinite(x) or x < 0 for x in nums):
            raise ConfigError(
                f"bad latency {spec!r}: use SECONDS, uniform:LO,HI, lognormal:MEDIAN,SIGMA or "
                "exp:MEAN (non-negative numbers)"
            )
        if kind == "uniform" and nums[0] > nums[1]:
            raise ConfigError(f"bad latency {spec!r}: uniform needs LO <= HI")
        return cls(kind or "fixed", *nums)

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "lognormal":
            return rng.lognormvariate(math.log(self.a), self.b) if self.a > 0 else 0.0
        return rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0


class _Bucket:
    """A token bucket refilling continuously at limit/60 a second, starting full."""

    def __init__(self, limit: int, window_s: float, floor: float) -> None:
        self.limit, self.rate = limit, limit / 60.0
        self.capacity = max(floor, limit * window_s / 60.0)
        self.level, self.stamp = self.capacity, time.monotonic()

    def wait_for(self, amount: float, now: float) -> float:
        # A charge above capacity can still pass once the bucket holds that much.
        self.level = min(max(self.capacity, amount), self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate

    def remaining(self) -> int:
        return max(0, min(self.limit, int(self.level / self.capacity * self.limit)))

    def reset_s(self) -> float:
        return max(0.0, (self.capacity - self.level) / self.rate)


class RateLimiter:
    """RPM and TPM buckets shared by all endpoints, and the headers that report them."""

    def __init__(self, rpm: int, tpm: int, window_s: float) -> None:
        self.requests = _Bucket(rpm, window_s, 1.0) if rpm else None
        self.tokens = _Bucket(tpm, window_s, 1.0) if tpm else None

    def refund_tokens(self, unused: int) -> None:
        """Give back the part of max_tokens the answer did not use (usage-corrected TPM)."""
        if self.tokens is not None and unused > 0:
            self.tokens.level = min(self.tokens.capacity, self.tokens.level + unused)

    def check(self, charge: int, anthropic: bool) -> tuple[list[tuple[str, str]], float, str]:
        """Take one request and `charge` tokens if both buckets allow; else how long to wait."""
        now = time.monotonic()
        req_wait = self.requests.wait_for(1, now) if self.requests else 0.0
        tok_wait = self.tokens.wait_for(charge, now) if self.tokens else 0.0
        if req_wait == tok_wait == 0.0:
            if self.requests:
                self.requests.level -= 1
            if self.tokens:
                self.tokens.level -= charge
        headers: list[tuple[str, str]] = []
        for name, bucket in (("requests", self.requests), ("tokens", self.tokens)):
            if bucket is None:
                continue
            reset = bucket.reset_s()
            if anthropic:
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + reset + 0.999))
                headers += [
                    (f"anthropic-ratelimit-{name}-limit", str(bucket.limit)),
                    (f"anthropic-ratelimit-{name}-remaining", str(bucket.remaining())),
                    (f"anthropic-ratelimit-{name}-reset", at),
                ]
            else:
                headers += [
                    (f"x-ratelimit-limit-{name}", str(bucket.limit)),
                    (f"x-ratelimit-remaining-{name}", str(bucket.remaining())),
                    (f"x-ratelimit-reset-{name}", f"{reset:.3f}".rstrip("0").rstrip(".") + "s"),
                ]
        wait = max(req_wait, tok_wait)
        return headers, wait, "requests" if req_wait >= tok_wait else "tokens"


class SimStats:
    """Counters behind GET /stats; `in_flight` is a gauge and survives a reset."""

    def __init__(self, record_arrivals: bool = False) -> None:
        self.in_flight = 0
        self.record_arrivals = record_arrivals
        self.reset()

    def reset(self) -> None:
        self.requests = self.ok_answers = self.duplicate_ok_answers = self.rate_limited = 0
        self.prompt_tokens = self.completion_tokens = 0
        self.cache_read_tokens = self.cache_write_tokens = 0
        self.batches_created = self.batch_items = 0
        self.batch_items_failed = self.batch_items_expired = self.batch_items_canceled = 0
        self.max_in_flight = self.in_flight
        self.by_endpoint: dict[str, int] = {}
        self.by_status: dict[str, int] = {}
        self.ok_keys: set[bytes] = set()
        self.first_request_at: float | None = None
        self.last_response_at: float | None = None
        # (time.monotonic() at arrival, fingerprint of endpoint + sample index + body): a retry
        # has its first attempt's fingerprint, so tests can measure the gap between them.
        self.arrivals: list[tuple[float, str]] = []

    def arrive(self, endpoint: str, sample_index: str = "", body: bytes = b"") -> None:
        if self.record_arrivals:
            self.arrivals.append((time.monotonic(), _fingerprint(endpoint, sample_index, body)))
        self.requests += 1
        self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.first_request_at is None:
            self.first_request_at = time.monotonic()

    def depart(self) -> None:
        self.in_flight -= 1
        self.last_response_at = time.monotonic()

    def ok(
        self,
        key: tuple[str, str, bytes],
        prompt_tokens: int,
        completion: int,
        cache_read: int = 0,
        cache_write: int = 0,
    ) -> None:
        """One answer given: `key` is (endpoint, sample index, canonical body), the same for a
        sync request and a batch item, so an answer given twice either way is a duplicate."""
        digest = hashlib.blake2b(digest_size=16)
        for part in (key[0].encode(), b"\0", key[1].encode(), b"\0", key[2]):
            digest.update(part)
        fingerprint = digest.digest()
        self.ok_answers += 1
        if fingerprint in self.ok_keys:
            self.duplicate_ok_answers += 1
        self.ok_keys.add(fingerprint)
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion
        self.cache_read_tokens += cache_read
        self.cache_write_tokens += cache_write

    def as_dict(self) -> dict[str, Any]:
        names = (
            "requests",
            "by_endpoint",
            "by_status",
            "ok_answers",
            "duplicate_ok_answers",
            "in_flight",
            "max_in_flight",
            "prompt_tokens",
            "completion_tokens",
            "first_request_at",
            "last_response_at",
            "rate_limited",
            "cache_read_tokens",
            "cache_write_tokens",
            "batches_created",
            "batch_items",
            "batch_items_failed",
            "batch_items_expired",
            "batch_items_canceled",
        )
        out = {name: getattr(self, name) for name in names}
        out["by_endpoint"], out["by_status"] = dict(self.by_endpoint), dict(self.by_status)
        out["distinct_ok_keys"] = len(self.ok_keys)
        if self.record_arrivals:
            out["arrivals"] = [list(a) for a in self.arrivals]
        return out


def _fingerprint(endpoint: str, sample_index: str, body: bytes) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for part in (endpoint.encode(), b"\0", sample_index.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()
