"""`distill status` and `distill report`: what the nightly runs did. Registered by cli.py.

distill status [-c CONFIG | --output-dir DIR]
distill report [-c CONFIG | --output-dir DIR] [-o FILE]

With a config, the output and cache directories and task kinds come from it. With only
--output-dir (and no config file at -c's path), the directory is read as it is: cache directory
and task kinds come from the `config.resolved.json` a run left there, else kinds are "unknown".
pandas and matplotlib are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distill.report.data import ReportData

log = logging.getLogger("distill")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             common: argparse.ArgumentParser) -> None:  # fmt: skip
    """Add the `status` and `report` verbs."""
    status = sub.add_parser(
        "status",
        parents=[common],
        help="tables: tasks, samples, verdicts, pass rates, spend, errors, cache, last run",
        description="Show what is in an output directory: tasks, samples, verdicts per status, "
        "pass rate per teacher, kind and grader, spend, errors by kind, cache size, and the "
        "last nightly run. Reads a config (-c) or just an output directory (--output-dir).",
    )
    status.set_defaults(func=_cmd_status)
    report = sub.add_parser(
        "report",
        parents=[common],
        help="write report.html: plots of the nightly history, latency, tokens, errors",
        description="Write one self-contained HTML file (no network needed to view it) with "
        "plots: pass rate per kind and teacher over the nightly history, spend per night, "
        "latency and token histograms, reasoning length against correctness, error breakdown.",
    )
    report.add_argument(
        "-o", "--out", metavar="FILE", help="where to write it (default: OUTPUT_DIR/report.html)"
    )
    report.set_defaults(func=_cmd_report)


def _cmd_status(args: argparse.Namespace) -> int:
    from distill import console
    from distill.report.status import status_tables

    data = _read(args)
    for table in status_tables(data):  # the tables are the command's output, --quiet or not
        console.out.print(table)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    data = _read(args)  # before matplotlib is imported: a bad directory fails fast

    from distill import console
    from distill.errors import InputError
    from distill.jsonl import write_text_atomic
    from distill.report.html import render
    from distill.report.plots import all_plots

    path = Path(args.out) if args.out else data.out / "report.html"
    page = render(data, all_plots(data), path)
    try:
        write_text_atomic(path, page)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report ({exc.strerror or exc})") from None
    if not args.quiet:
        console.out.print(str(path), markup=False, highlight=False, soft_wrap=True)
    return 0


def _read(args: argparse.Namespace) -> ReportData:
    """The output directory to show: from the config, or --output-dir alone when no config."""
    from distill.config import load_config
    from distill.errors import DistillError, InputError
    from distill.report.data import load
    from distill.tasks import load_tasks

    if not args.debug:  # matplotlib says INFO things (its font cache) that are not ours
        logging.getLogger("matplotlib").setLevel(logging.WARNING)
    if not Path(args.config).exists():
        if args.output_dir:
            return load(Path(args.output_dir))
        raise InputError(
            f"{args.config}: config file not found (give -c CONFIG or --output-dir DIR)"
        )
    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"output_dir={json.dumps(os.path.abspath(args.output_dir))}")
    config = load_config(args.config, overrides)
    try:
        kinds = {t.id: t.kind for t in load_tasks(config)}
    except DistillError as exc:
        log.warning("task kinds unknown: %s", exc)
        kinds = {}
    return load(config.out, kinds=kinds, cache_dir=config.cache, name=config.name)
