"""One source into its task file: `distill import`, and the import stage of `distill run`.

Ids are stable hashes of source and content, so a source imported again adds only what is new:
the nightly job grows its task set (say, merges committed since yesterday) and harvest then pays
only for the new tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from distill.config import Config, SourceConfig
from distill.errors import ConfigError
from distill.jsonl import write_jsonl_atomic
from distill.records import read_tasks
from distill.sources.common import ImportContext
from distill.sources.merge_hunks import Limits
from distill.sources.merges import MineOptions, merge_source_name
from distill.sources.runner import FORMATS, import_files, import_merges


@dataclass
class ImportResult:
    output: Path
    context: ImportContext  # its stats: rows read, bad rows, drops, duplicates, sampling
    found: int  # tasks the source gave
    added: int  # of those, the ones whose id was not in the output yet
    written: int  # tasks in the output file now

    def summary(self) -> dict[str, int]:
        """The figures a run's summary shows for this source, drops by reason included."""
        figures = {"found": self.found, "added": self.added,
                   "already_present": self.found - self.added}  # fmt: skip
        for reason, n in sorted(self.context.stats.skipped.items()):
            figures[f"dropped: {reason}"] = n
        return figures


def run_import(
    source: SourceConfig,
    *,
    append: bool = True,
    skip_bad: bool = False,
    mine: MineOptions | None = None,
    where: str = "",
) -> ImportResult:
    """Import `source` into `source.output`.

    With `append`, the tasks already in the output stay and only new ids are added (the file is
    rewritten only when there are some); without, the output holds just this import. `mine`
    gives merge mining options beyond what a SourceConfig holds (the CLI's walk and limits).
    """
    where = where or source.format
    max_samples = source.max_samples or None
    if source.format == "merges":
        if not source.repo:
            raise ConfigError(f'{where}: merges needs repo = "path/to/repository"')
        options = mine or MineOptions(
            repo=Path(source.repo),
            since=source.since or None,
            max_commits=source.max_commits or None,
            include=source.include,
            exclude=source.exclude,
            repo_name=source.repo_name,
            limits=_merge_limits(source),
        )
        name = source.name or merge_source_name(options)
        ctx = ImportContext(name, skip_bad, dict(source.options))
        tasks = import_merges(ctx, options, max_samples, source.seed)
    elif source.format in FORMATS:
        if not source.inputs:
            raise ConfigError(f"{where}: list the dataset files in inputs = [...]")
        ctx = ImportContext(source.name or source.format, skip_bad, dict(source.options))
        tasks = import_files(source.format, source.inputs, ctx, max_samples, source.seed)
    else:
        known = ", ".join(["merges", *sorted(FORMATS)])
        raise ConfigError(f"{where}: unknown format {source.format!r}; known: {known}")
    output = Path(source.output)
    kept = read_tasks([output]) if append and output.exists() else []
    present = {t.id for t in kept}
    fresh = [t for t in tasks if t.id not in present]
    ctx.stats.already_present = len(tasks) - len(fresh)
    if fresh or not append or not output.exists():
        write_jsonl_atomic(output, (t.to_dict() for t in [*kept, *fresh]))
    return ImportResult(output, ctx, len(tasks), len(fresh), len(kept) + len(fresh))


def run_sources(config: Config) -> dict[str, Any]:
    """Import every `[[sources]]` entry; per source: tasks found, added, and already present."""
    report: dict[str, Any] = {}
    for index, source in enumerate(config.sources):
        result = run_import(source, where=f"sources[{index}] ({source.format})")
        report[f"{index}:{source.format}"] = result.summary()
    return {
        "added": sum(r["added"] for r in report.values()),
        "sources": report,
    }


def _merge_limits(source: SourceConfig) -> Limits:
    """The [[sources]] size limits over the importer's defaults (0 keeps a default)."""
    limits = Limits()
    return replace(
        limits,
        max_prompt_tokens=source.max_prompt_tokens or limits.max_prompt_tokens,
        max_resolution_tokens=source.max_resolution_tokens or limits.max_resolution_tokens,
        max_hunk_lines=source.max_hunk_lines or limits.max_hunk_lines,
    )
