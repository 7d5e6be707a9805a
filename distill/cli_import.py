"""`distill import`: task sources (dataset importers, merge mining). Registered by cli.py.

distill import FORMAT INPUT... -o tasks.jsonl [--source NAME] [--max-samples N] [--seed N]
                               [--skip-bad] [--append]
distill import merges --repo PATH -o merges.jsonl [--since DATE] [--max-commits N] ...
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distill.records import Task
    from distill.sources.common import ImportContext

log = logging.getLogger("distill")

_ANSWER_TYPES = ("math", "numeric", "choice", "short")


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             common: argparse.ArgumentParser) -> None:  # fmt: skip
    """Add the `import` verb with one sub-command per format, and `merges`."""
    from distill.sources import FORMATS

    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("-o", "--output", required=True, type=Path, help="task file to write")
    shared.add_argument(
        "--source",
        help="source name on every task, part of its id "
        "(default: the format name, or git-REPO for merges)",
    )
    shared.add_argument(
        "--max-samples",
        type=_positive,
        metavar="N",
        help="keep a random N of the imported tasks (after dedup)",
    )
    shared.add_argument("--seed", type=int, default=0, help="seed for --max-samples (default 0)")
    shared.add_argument(
        "--append",
        action="store_true",
        help="add to OUTPUT, keeping its tasks; ids already there are not added",
    )
    shared.add_argument("--quiet", action="store_true", help="no summary table")
    shared.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")

    verb = sub.add_parser(
        "import",
        help="turn datasets or git merge history into task files",
        description="Import tasks from a dataset file (JSONL, JSON, CSV/TSV, parquet, .gz, or a "
        "folder of them), or mine merge conflicts with their committed resolutions from git.",
    )
    formats = verb.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for fmt in FORMATS.values():
        p = formats.add_parser(fmt.name, parents=[shared], help=f"{fmt.kind}: {fmt.help}")
        p.add_argument("inputs", nargs="+", metavar="INPUT", help="data files or folders")
        p.add_argument(
            "--skip-bad",
            action="store_true",
            help="skip malformed rows and count them instead of stopping",
        )
        _FLAGS.get(fmt.name, lambda _: None)(p)
        p.set_defaults(func=_cmd_import)
    merges = formats.add_parser(
        "merges", parents=[shared], help="merge: conflicts and resolutions mined from git history"
    )
    _merge_flags(merges)
    merges.set_defaults(func=_cmd_merges)


def _answer_type(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--answer-type",
        choices=_ANSWER_TYPES,
        help="meta.answer_type: how the answer grader compares (default: inferred)",
    )


def _csv_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt-column", default="prompt", help="the user's text (default: prompt)")
    p.add_argument(
        "--input-column",
        action="append",
        metavar="NAME",
        help="more text appended to the prompt (repeatable)",
    )
    p.add_argument("--output-column", help="the dataset's answer → reference.output")
    p.add_argument("--system-column", help="a system prompt")
    p.add_argument("--answer-column", help="a checkable answer → reference.answer (math tasks)")
    p.add_argument(
        "--kind",
        choices=("chat", "math"),
        help="task kind (default: math with --answer-column, else chat)",
    )
    p.add_argument("--meta-column", action="append", metavar="NAME", help="copy into meta")
    p.add_argument("--delimiter", help="field separator (default: ',' for .csv, tab for .tsv)")
    _answer_type(p)


def _apps_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--public-tests",
        type=_count,
        default=1,
        metavar="N",
        help="the first N tests are public (shown), the rest hidden (default 1)",
    )


def _lcb_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="decode compressed private tests (base64+zlib+pickle); trusted files only",
    )


def _oasst_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", help="keep conversations in this language, e.g. en")


_FLAGS = {
    "csv": _csv_flags,
    "apps": _apps_flags,
    "taco": _apps_flags,
    "livecodebench": _lcb_flags,
    "oasst1": _oasst_flags,
    "gsm8k": _answer_type,
    "math": _answer_type,
    "qa": _answer_type,
}


def _merge_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", required=True, type=Path, help="git repository (read only)")
    walk = p.add_mutually_exclusive_group()
    walk.add_argument("--rev", default="HEAD", help="walk merges reachable from REV (default HEAD)")
    walk.add_argument("--all", action="store_true", help="walk merges reachable from any ref")
    p.add_argument("--since", metavar="DATE", help="only merges committed after DATE (git syntax)")
    p.add_argument(
        "--max-commits",
        type=_count,
        default=1000,
        metavar="N",
        help="walk at most N merge commits, newest first (default 1000; 0: all)",
    )
    p.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="only files whose path matches (repeatable; '*' crosses '/')",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files whose path matches (repeatable)",
    )
    p.add_argument(
        "--context",
        type=_count,
        default=5,
        metavar="N",
        help="context lines shown on each side of a hunk (default 5)",
    )
    p.add_argument(
        "--max-hunk-lines",
        type=_positive,
        default=30,
        metavar="N",
        help="drop hunks whose ours+base+theirs, or resolution, exceed N lines (default 30)",
    )
    p.add_argument(
        "--max-prompt-chars",
        type=_positive,
        default=6000,
        metavar="N",
        help="drop hunks whose prompt exceeds N characters (default 6000)",
    )


def _cmd_import(args: argparse.Namespace) -> int:
    from distill.sources import ImportContext, import_files

    ctx = ImportContext(args.source or args.format, args.skip_bad, vars(args))
    tasks = import_files(args.format, args.inputs, ctx, args.max_samples, args.seed)
    return _write(args, ctx, tasks)


def _cmd_merges(args: argparse.Namespace) -> int:
    from distill.sources import ImportContext, MineOptions, import_merges
    from distill.sources.common import slug
    from distill.sources.merge_hunks import Limits

    source = args.source or f"git-{slug(args.repo.resolve().name)}"
    options = MineOptions(
        repo=args.repo,
        rev="--all" if args.all else args.rev,
        since=args.since,
        max_commits=args.max_commits or None,
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        limits=Limits(
            context=args.context,
            max_hunk_lines=args.max_hunk_lines,
            max_prompt_chars=args.max_prompt_chars,
        ),
    )
    ctx = ImportContext(source, options=vars(args))
    tasks = import_merges(ctx, options, args.max_samples, args.seed)
    return _write(args, ctx, tasks)


def _write(args: argparse.Namespace, ctx: ImportContext, tasks: list[Task]) -> int:
    from distill.jsonl import write_jsonl_atomic
    from distill.records import read_tasks

    output: Path = args.output
    kept: list[Task] = []
    if args.append and output.exists():
        kept = read_tasks([output])
        present = {t.id for t in kept}
        fresh = [t for t in tasks if t.id not in present]
        ctx.stats.already_present = len(tasks) - len(fresh)
        tasks = fresh
    written = write_jsonl_atomic(output, (t.to_dict() for t in [*kept, *tasks]))
    if not tasks:
        log.warning("no tasks imported")
    if not args.quiet:
        _summary(args, ctx, len(tasks), written)
    return 0


def _summary(args: argparse.Namespace, ctx: ImportContext, added: int, written: int) -> None:
    from rich.table import Table

    from distill import console

    stats = ctx.stats
    table = Table(title=f"import {args.format} → {args.output}", show_header=False)
    rows: list[tuple[str, int]] = []
    if args.format == "merges":
        rows += [(k, v) for k, v in stats.extra.items() if not k.startswith("kept")]
    else:
        rows.append(("rows read", stats.rows))
    rows += [(f"bad row: {reason}", n) for reason, n in sorted(stats.bad.items())]
    rows += [(f"dropped: {reason}", n) for reason, n in sorted(stats.skipped.items())]
    rows += [("duplicates dropped", stats.duplicates)]
    if stats.sampled_out:
        rows.append(("left out by --max-samples", stats.sampled_out))
    if args.format != "merges":
        rows += list(stats.extra.items())
    rows.append(("imported", stats.imported))
    if args.format == "merges":
        rows += [(k, v) for k, v in stats.extra.items() if k.startswith("kept")]
    if args.append:
        rows += [("already in the output", stats.already_present), ("added", added)]
    rows.append((f"tasks in {args.output}", written))
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    console.out.print(table)
