"""The verbs: each loads its config, makes one library call and prints what it returns.

Stage modules load inside the verb that runs them, so `distill --help` loads none of them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from distill.cli.flags import overrides
from distill.config import Config, ExportConfig, config_to_dict, load_config
from distill.errors import ExitCode

if TYPE_CHECKING:
    from distill.report.data import ReportData
    from distill.sources import ImportResult

log = logging.getLogger("distill")

Verb = Callable[[argparse.Namespace], int]


def _load(args: argparse.Namespace) -> Config:
    """The config with every override the command line gives; saved beside the outputs."""
    given = overrides(args)
    if args.output_dir is not None:  # relative to the config file, like the file's own value
        given.append(f"output_dir={json.dumps(args.output_dir)}")
    config = load_config(args.config, given)
    _save_resolved(config)
    return config


def _save_resolved(config: Config) -> None:
    """The resolved config beside the outputs (it holds env-var names, never key values)."""
    from distill.jsonl import write_text_atomic

    text = json.dumps(config_to_dict(config), indent=2, sort_keys=True) + "\n"
    write_text_atomic(config.out / "config.resolved.json", text)


def _locked(out: str | Path) -> AbstractContextManager[str]:
    """The output directory's lock, for a single verb (`distill run` takes it for all stages)."""
    from distill.pipeline import new_run_id
    from distill.runlock import output_lock

    return output_lock(Path(out), new_run_id())


def _dry_run(config: Config) -> int:
    from distill.cli import console
    from distill.harvest.dryrun import dry_run

    console.print_dry_run(dry_run(config))
    return ExitCode.OK


def _cmd_harvest(args: argparse.Namespace) -> int:
    from distill.cli import console
    from distill.harvest.shards import harvest_places
    from distill.pipeline import harvest_or_raise, harvest_stage

    config = _load(args)
    if args.dry_run:
        return _dry_run(config)
    # A shard locks its own folder, so N shards can share an output directory.
    out = harvest_places(config).out
    with _locked(out), console.harvest_progress(not args.quiet) as progress:
        result = harvest_stage(config, progress)
    if not args.quiet:
        console.out.print(console.harvest_table(result))
    harvest_or_raise(result)
    return ExitCode.PARTIAL if result.stats.errors else ExitCode.OK


def _cmd_merge_shards(args: argparse.Namespace) -> int:
    from distill.cli import console
    from distill.harvest.merge import merge_shards

    config = _load(args)
    with _locked(config.out):
        result = merge_shards(config, args.shards)
    if not args.quiet:
        never = result.planned - result.written
        console.out.print(
            f"merged {result.shards} shards: {result.written} samples in {result.samples_path}"
            + (f" ({never} planned requests never sent)" if never else "")
            + f"; {result.cache_added} answers added to {result.cache_dir}",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    return ExitCode.OK


def _cmd_grade(args: argparse.Namespace) -> int:
    from distill.cli import console
    from distill.grade import run_grade

    config = _load(args)
    with _locked(config.out):
        result = run_grade(config)
    if not args.quiet:
        console.out.print(console.grade_table(result))
    return ExitCode.OK


def _cmd_export(args: argparse.Namespace) -> int:
    from distill.cli import console
    from distill.config import load_export_settings
    from distill.export import run_export, run_standalone_export

    settings = load_export_settings(args.config, overrides(args), args.output_dir)
    if isinstance(settings, ExportConfig):  # export keys at the top level, or flags alone
        with _locked(settings.output_dir):
            result = run_standalone_export(settings)
    else:
        _save_resolved(settings)
        with _locked(settings.out):
            result = run_export(settings)
    if not args.quiet:
        console.out.print(console.export_table(result))
    return ExitCode.OK


def _cmd_run(args: argparse.Namespace) -> int:
    from distill.cli import console
    from distill.pipeline import run_pipeline

    config = _load(args)
    if args.dry_run:
        return _dry_run(config)
    with console.harvest_progress(not args.quiet) as progress:
        result = run_pipeline(config, progress)
    if not args.quiet:
        for name, outcome in result.results.items():
            console.out.print(console.STAGE_TABLES[name](outcome))
    if result.exit_code != ExitCode.OK:  # cron mails this: one screen saying what happened
        console.out.print(console.run_summary(result.summary))
    if result.summary.get("error"):
        sys.stderr.write(f"distill: error: {result.summary['error']}\n")
    return result.exit_code


def _cmd_train(args: argparse.Namespace) -> int:
    from distill.cli import console
    from distill.train.data import student_dir

    config = _load(args)
    from distill.train.runner import run_train

    # One trainer per student directory; the pipeline's own lock stays free for nightly runs.
    with _locked(student_dir(config)):
        result = run_train(config)
    if not args.quiet:
        console.out.print(console.train_table(result))
    return ExitCode.OK


def _cmd_eval(args: argparse.Namespace) -> int:
    from distill.cli import console

    config = _load(args)
    from distill.train.evaluate import run_eval, student_target

    with _locked(student_target(config)[1]):
        result = run_eval(config)
    if not args.quiet:
        console.out.print(console.eval_table(result))
        console.out.print(f"saved to {result.table_path}")
    # Some student requests failed: the table stands, but say so as a run with errors does.
    return ExitCode.PARTIAL if result.request_errors else ExitCode.OK


def _cmd_import(args: argparse.Namespace) -> int:
    from distill.config import SourceConfig
    from distill.sources import run_import

    source = SourceConfig(
        format=args.format,
        output=str(args.output),
        inputs=tuple(args.inputs),
        name=args.source or "",
        max_samples=args.max_samples or 0,
        seed=args.seed,
        options=vars(args),
    )
    return _imported(args, run_import(source, append=args.append, skip_bad=args.skip_bad))


def _cmd_merges(args: argparse.Namespace) -> int:
    from distill.config import SourceConfig
    from distill.sources import MineOptions, run_import
    from distill.sources.merge_hunks import Limits

    mine = MineOptions(
        repo=args.repo,
        rev="--all" if args.all else args.rev,
        since=args.since,
        max_commits=args.max_commits or None,
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        limits=Limits(
            context=args.context,
            max_prompt_tokens=args.max_prompt_tokens,
            max_resolution_tokens=args.max_resolution_tokens,
            max_hunk_lines=args.max_hunk_lines,
        ),
        repo_name=args.repo_name,
    )
    source = SourceConfig(
        format="merges",
        output=str(args.output),
        repo=str(args.repo.resolve()),
        name=args.source or "",
        max_samples=args.max_samples or 0,
        seed=args.seed,
        options=vars(args),
    )
    return _imported(args, run_import(source, append=args.append, mine=mine))


def _imported(args: argparse.Namespace, result: ImportResult) -> int:
    from distill.cli import console

    if not result.added:
        log.warning("no tasks imported")
    if not args.quiet:
        console.out.print(console.import_summary(args.format, args.output, args.append, result))
    return ExitCode.OK


def _cmd_status(args: argparse.Namespace) -> int:
    from distill.cli import console

    data = _report_data(args)
    for table in console.status_tables(data):  # the tables are the command's output, --quiet or not
        console.out.print(table)
    return ExitCode.OK


def _cmd_report(args: argparse.Namespace) -> int:
    data = _report_data(args)  # before matplotlib is imported: a bad directory fails fast

    from distill.cli import console
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
    return ExitCode.OK


def _report_data(args: argparse.Namespace) -> ReportData:
    """The output directory to show: from the config, or --output-dir alone when no config.

    Here --output-dir is taken from the cwd: the directory may be all there is.
    """
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
    given = list(args.overrides)
    if args.output_dir:
        given.append(f"output_dir={json.dumps(os.path.abspath(args.output_dir))}")
    config = load_config(args.config, given)
    try:
        kinds = {t.id: t.kind for t in load_tasks(config)}
    except DistillError as exc:
        log.warning("task kinds unknown: %s", exc)
        kinds = {}
    return load(config.out, kinds=kinds, cache_dir=config.cache, name=config.name)


def _cmd_prompts(args: argparse.Namespace) -> int:
    from distill.cli import console
    from distill.prompts import PromptLibrary

    console.out.print(console.prompts_table(PromptLibrary.load().all()))
    return ExitCode.OK
