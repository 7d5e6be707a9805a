"""Harvest: send task prompts to teachers under rate limits, cached, crash-safe.

The runner loads on first use of its names, so `import distill.harvest.cache` loads no more.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distill.harvest.runner import HarvestResult, HarvestStats, run_harvest

_LAZY = dict.fromkeys(("HarvestResult", "HarvestStats", "run_harvest"), "distill.harvest.runner")

__all__ = ["HarvestResult", "HarvestStats", "run_harvest"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
