"""The import stage of `distill run`: each `[[sources]]` entry adds its new tasks to its file.

Ids are stable hashes of source and content, so a source imported again adds only what is new:
the nightly job grows its task set (say, merges committed since yesterday) and harvest then pays
only for the new tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distill.config import Config, SourceConfig
from distill.errors import ConfigError
from distill.jsonl import write_jsonl_atomic
from distill.records import read_tasks
from distill.sources import FORMATS, ImportContext, MineOptions, import_files, import_merges
from distill.sources.common import slug


def run_sources(config: Config) -> dict[str, Any]:
    """Import every source; per source: tasks found, added, and already present."""
    report: dict[str, Any] = {}
    for index, source in enumerate(config.sources):
        where = f"sources[{index}] ({source.format})"
        report[f"{index}:{source.format}"] = _import_one(source, where)
    return {
        "added": sum(r["added"] for r in report.values()),
        "sources": report,
    }


def _import_one(source: SourceConfig, where: str) -> dict[str, int]:
    max_samples = source.max_samples or None
    if source.format == "merges":
        if not source.repo:
            raise ConfigError(f'{where}: merges needs repo = "path/to/repository"')
        name = source.name or f"git-{slug(Path(source.repo).name)}"
        ctx = ImportContext(name, options=dict(source.options))
        options = MineOptions(
            repo=Path(source.repo),
            since=source.since or None,
            max_commits=source.max_commits or None,
            include=source.include,
            exclude=source.exclude,
        )
        tasks = import_merges(ctx, options, max_samples, source.seed)
    elif source.format in FORMATS:
        if not source.inputs:
            raise ConfigError(f"{where}: list the dataset files in inputs = [...]")
        ctx = ImportContext(source.name or source.format, options=dict(source.options))
        tasks = import_files(source.format, source.inputs, ctx, max_samples, source.seed)
    else:
        known = ", ".join(["merges", *sorted(FORMATS)])
        raise ConfigError(f"{where}: unknown format {source.format!r}; known: {known}")
    output = Path(source.output)
    existing = read_tasks([output]) if output.exists() else []
    present = {t.id for t in existing}
    fresh = [t for t in tasks if t.id not in present]
    if fresh or not output.exists():
        write_jsonl_atomic(output, (t.to_dict() for t in [*existing, *fresh]))
    return {"found": len(tasks), "added": len(fresh), "already_present": len(tasks) - len(fresh)}
