"""Export: graded samples and datasets → trainer-ready train/val splits and a manifest.

The runner loads on first use of its names, so `import distill.export.writers` loads no more.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distill.export.runner import ExportResult, run_export, run_standalone_export

_NAMES = ("ExportResult", "run_export", "run_standalone_export")
_LAZY = dict.fromkeys(_NAMES, "distill.export.runner")

__all__ = ["ExportResult", "run_export", "run_standalone_export"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
