"""The simulator's settings: one frozen, validated SimConfig (flags map onto it in cli.py)."""

from __future__ import annotations

from dataclasses import dataclass, fields

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
    task_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_host(self.host)
        Latency.parse(self.latency)
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"sim port must be 0..65535, got {self.port}")
        if not 0.0 <= self.p_correct <= 1.0:
            raise ConfigError(f"sim p_correct must be between 0 and 1, got {self.p_correct}")
        for name in ("rpm", "tpm", "stall_s", "keepalive_interval_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"sim {name} must be >= 0, got {getattr(self, name)}")
        if self.limit_window_s <= 0:
            raise ConfigError(f"sim limit_window_s must be > 0, got {self.limit_window_s}")
        rates = self.fault_rates()
        if any(not 0.0 <= r <= 1.0 for r in rates.values()) or sum(rates.values()) > 1.0 + 1e-9:
            raise ConfigError(f"sim fault rates must each be in 0..1 and sum to <= 1, got {rates}")
        if self.status_override and not 400 <= self.status_override <= 599:
            raise ConfigError(f"sim status_override must be 400..599, got {self.status_override}")

    def __repr__(self) -> str:  # never show the key
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
        return f"SimConfig({shown}, api_key={'set' if self.api_key else 'unset'})"

    def fault_rates(self) -> dict[str, float]:
        return {name: float(getattr(self, "fault_" + name)) for name in FAULTS}
