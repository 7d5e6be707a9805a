"""The flags of `distill import`: one sub-command per dataset format, and `merges`.

distill import FORMAT INPUT... -o tasks.jsonl [--source NAME] [--max-samples N] [--seed N]
                               [--skip-bad] [--append]
distill import merges --repo PATH -o merges.jsonl [--since DATE] [--max-commits N] ...

They are the importers' own options, not config keys; a `[[sources]]` entry of `distill run`
gives an importer's options in its `options` table. Both go through sources.run_import.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `import` verb with one sub-command per format, and `merges`."""
    from distill.cli import verbs
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
        p.set_defaults(func=verbs._cmd_import)
    merges = formats.add_parser(
        "merges", parents=[shared], help="merge: conflicts and resolutions mined from git history"
    )
    _merge_flags(merges)
    merges.set_defaults(func=verbs._cmd_merges)


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
        "--repo-name",
        default="",
        metavar="NAME",
        help="meta.repo and the default source (default: the remote URL, origin first)",
    )
    p.add_argument(
        "--max-commits",
        type=_count,
        default=0,
        metavar="N",
        help="walk at most N merge commits, newest first (default 0: all; the rest is counted)",
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
        "--max-prompt-tokens",
        type=_positive,
        default=8000,
        metavar="N",
        help="drop hunks whose prompt exceeds about N tokens (chars/4; default 8000)",
    )
    p.add_argument(
        "--max-resolution-tokens",
        type=_positive,
        default=4000,
        metavar="N",
        help="drop hunks whose resolution exceeds about N tokens (chars/4; default 4000)",
    )
    p.add_argument(
        "--max-hunk-lines",
        type=_positive,
        metavar="N",
        help="drop hunks whose ours+base+theirs or resolution exceed N lines (default: no limit)",
    )
