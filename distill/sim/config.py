"""The simulator's settings: one frozen, validated SimConfig (flags map onto it in cli.py)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from email.utils import formatdate

from distill.errors import ConfigError
from distill.sim.limits import Latency
from distill.sim.server import check_host

FAULTS = ("5xx", "malformed", "truncated", "drop", "stall")


@dataclass(frozen=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    p_correct: float = 0.7
    latency: str = "0"
    rpm: int = 0
    tpm: int = 0
    limit_window_s: float = 1.0
    fault_5xx: float = 0.0
    fault_malformed: float = 0.0
    fault_truncated: float = 0.0
    fault_drop: float = 0.0
    fault_stall: float = 0.0
    stall_s: float = 30.0
    keepalive_interval_s: float = 0.0
    api_key: str = ""
    status_override: int = 0
    # Retry-After on 503/529 answers: "" none, "2.5" seconds, "date:2" an HTTP-date 2 s ahead.
    retry_after: str = ""
    record_arrivals: bool = False  # GET /stats lists (arrival time, request fingerprint)
    task_files: tuple[str, ...] = ()
    # Batch APIs: seconds from creation until a batch ends (0 = ended by the first status
    # check), and the fractions of items that expire / error, drawn from seed + custom_id.
    batch_delay_s: float = 0.0
    batch_expire_rate: float = 0.0
    batch_fail_rate: float = 0.0
    # Prompt caching: the shortest prompt (or marked prefix) cached, and how long an entry
    # lives after its last use.
    cache_min_tokens: int = 1024
    cache_ttl_s: float = 300.0
    # When > 0, each answer's reasoning is padded to about this many tokens (±30 %).
    reasoning_tokens: int = 0

    def __post_init__(self) -> None:
        check_host(self.host)
        Latency.parse(self.latency)
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"sim port must be 0..65535, got {self.port}")
        if not 0.0 <= self.p_correct <= 1.0:
            raise ConfigError(f"sim p_correct must be between 0 and 1, got {self.p_correct}")
        nonneg = ("rpm", "tpm", "stall_s", "keepalive_interval_s", "batch_delay_s")
        for name in (*nonneg, "cache_min_tokens", "cache_ttl_s", "reasoning_tokens"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):  # also refuses NaN
                raise ConfigError(f"sim {name} must be a finite number >= 0, got {value}")
        if self.limit_window_s <= 0:
            raise ConfigError(f"sim limit_window_s must be > 0, got {self.limit_window_s}")
        rates = self.fault_rates()
        if any(not 0.0 <= r <= 1.0 for r in rates.values()) or sum(rates.values()) > 1.0 + 1e-9:
            raise ConfigError(f"sim fault rates must each be in 0..1 and sum to <= 1, got {rates}")
        batch = (self.batch_expire_rate, self.batch_fail_rate)
        if any(not 0.0 <= r <= 1.0 for r in batch) or sum(batch) > 1.0 + 1e-9:
            raise ConfigError(
                "sim batch_expire_rate and batch_fail_rate must each be in 0..1 and sum to <= 1,"
                f" got {batch}"
            )
        if self.retry_after and retry_after_seconds(self.retry_after) is None:
            raise ConfigError(
                f"sim retry_after must be SECONDS or date:SECONDS, got {self.retry_after!r}"
            )
        if self.status_override and not 400 <= self.status_override <= 599:
            raise ConfigError(f"sim status_override must be 400..599, got {self.status_override}")

    def __repr__(self) -> str:  # never show the key
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
        return f"SimConfig({shown}, api_key={'set' if self.api_key else 'unset'})"

    def retry_after_header(self) -> str:
        """The Retry-After value for an overloaded answer now; "" when none is configured.

        An HTTP-date has whole seconds: it is rounded up, so the wait asked is never shorter."""
        if not self.retry_after:
            return ""
        seconds = retry_after_seconds(self.retry_after) or 0.0
        if self.retry_after.startswith("date:"):
            return formatdate(math.ceil(time.time() + seconds), usegmt=True)
        return f"{seconds:g}"

    def fault_rates(self) -> dict[str, float]:
        return {name: float(getattr(self, "fault_" + name)) for name in FAULTS}


def retry_after_seconds(spec: str) -> float | None:
    """The seconds in a retry_after spec ("2.5" or "date:2"); None when it is not one."""
    try:
        seconds = float(spec.removeprefix("date:"))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
