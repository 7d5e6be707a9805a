"""Task sources: dataset importers by format name, and merge mining from git history.

    import_files("gsm8k", ["train.jsonl"], ctx)      rows → tasks, deduplicated, sampled
    import_merges(ctx, MineOptions(repo=Path(".")))  merge conflicts → tasks
    run_import(SourceConfig(...))                    one source into its task file

The first two return the tasks and leave their figures in ctx.stats; run_import adds the new
ones to the output file, for `distill import` and for the import stage of `distill run`.
The importers load on first use of these names, so `import distill.sources.readers` loads no more.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distill.sources.common import ImportContext
    from distill.sources.merges import MineOptions
    from distill.sources.runner import FORMATS, import_files, import_merges
    from distill.sources.task_file import ImportResult, run_import, run_sources

_LAZY = {
    "FORMATS": "distill.sources.runner",
    "ImportContext": "distill.sources.common",
    "MineOptions": "distill.sources.merges",
    "import_files": "distill.sources.runner",
    "import_merges": "distill.sources.runner",
    "ImportResult": "distill.sources.task_file",
    "run_import": "distill.sources.task_file",
    "run_sources": "distill.sources.task_file",
}

__all__ = [
    "FORMATS",
    "ImportContext",
    "ImportResult",
    "MineOptions",
    "import_files",
    "import_merges",
    "run_import",
    "run_sources",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
