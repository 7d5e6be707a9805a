"""The `distill` command: thin verbs over the library. Errors become one line and an exit code.

Exit codes: 0 success; 1 partial (some samples ended in error); 2 config or input error;
3 teacher fatal (bad key, no balance); 4 locked; 70 internal error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from distill import __version__
from distill.config import Config, config_to_dict, load_config
from distill.errors import DistillError

EXIT_OK, EXIT_PARTIAL, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 70, 130

log = logging.getLogger("distill")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx2", "httpcore", "openai", "anthropic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        code: int = args.func(args)
        return code
    except DistillError as exc:
        sys.stderr.write(f"distill: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(
            "distill: interrupted; completed requests are cached, run again to resume\n"
        )
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        sys.stderr.write(
            f"distill: internal error: {type(exc).__name__}: {exc} "
            "(rerun with --debug for details)\n"
        )
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distill",
        description="Harvest reasoning traces from a teacher model, grade them, export SFT data.",
    )
    parser.add_argument("--version", action="version", version=f"distill {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", default="distill.toml", help="config file (TOML or JSON)")
    common.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config value, e.g. --set teachers.r1.samples_per_task=4 (repeatable)",
    )
    common.add_argument("--output-dir", help="override output_dir")
    common.add_argument("--quiet", action="store_true", help="no progress or tables (for cron)")
    common.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    harvest = sub.add_parser("harvest", parents=[common], help="send task prompts to the teachers")
    _harvest_flags(harvest)
    harvest.set_defaults(func=_cmd_harvest)

    grade = sub.add_parser("grade", parents=[common], help="grade harvested samples")
    _grade_flags(grade)
    grade.set_defaults(func=_cmd_grade)

    export = sub.add_parser("export", parents=[common], help="write train/val splits")
    _export_flags(export)
    export.set_defaults(func=_cmd_export)

    run = sub.add_parser("run", parents=[common], help="harvest, grade and export (for cron)")
    _harvest_flags(run)
    _grade_flags(run)
    _export_flags(run)
    run.set_defaults(func=_cmd_run)

    from distill import cli_import, cli_report, cli_train

    cli_import.register(sub, common)
    cli_train.register(sub, common)
    cli_report.register(sub, common)

    from distill.sim_cli import add_sim_arguments, run_sim_from_args

    sim = sub.add_parser(
        "teacher-sim",
        help="run the local teacher SIMULATOR (for demos, tests, benchmarks; not a model)",
        description="A local SIMULATOR of a teacher API (OpenAI chat completions with "
        "DeepSeek-style reasoning_content, and Anthropic Messages with thinking blocks), for "
        "demos, tests and benchmarks. It is not a model: it answers bundled example tasks "
        "correctly with probability p and plausibly wrong otherwise.",
    )
    sim.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    sim.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    add_sim_arguments(sim)
    sim.set_defaults(func=run_sim_from_args)

    prompts = sub.add_parser("prompts", help="the prompt library")
    prompts.add_argument("action", choices=["list"])
    prompts.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    prompts.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    prompts.set_defaults(func=_cmd_prompts)
    return parser


def _harvest_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--refresh", action="store_true", help="ignore the cache and ask again (pays again)"
    )
    p.add_argument(
        "--max-cost", type=float, metavar="USD", help="stop sending new requests at this spend"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="show requests, tokens and cost; send nothing"
    )


def _grade_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--regrade", action="store_true", help="ignore cached verdicts")


def _export_flags(p: argparse.ArgumentParser) -> None:
    from distill.config import EXPORT_FORMATS, REASONING_PLACEMENTS

    g = p.add_argument_group("export (each flag sets export.KEY; lists are comma-separated)")
    g.add_argument(
        "--correct-only",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep only samples whose verdict is pass (default from config: on)",
    )
    g.add_argument("--input", dest="inputs", action="append", metavar="FILE",
                   help="a graded file or a ready-made dataset (repeatable)")  # fmt: skip
    g.add_argument("--tasks-file", dest="export_tasks", action="append", metavar="FILE",
                   help="task files for the kind/source/test filters (repeatable)")  # fmt: skip
    g.add_argument("--format", choices=EXPORT_FORMATS, help="row format (default messages)")
    g.add_argument("--file-format", choices=("jsonl", "parquet", "csv"))
    g.add_argument("--template", choices=("chatml", "instruct", "chat"), help="for --format text")
    g.add_argument("--dpo-style", choices=("trl", "openai"))
    g.add_argument("--reasoning", choices=REASONING_PLACEMENTS, help="where the reasoning goes")
    g.add_argument("--missing-reasoning", choices=("drop", "keep", "basic"))
    g.add_argument("--type", dest="dataset_type", choices=("auto", "code", "cai", "multiturn"))
    for name in ("statuses", "kinds", "teachers", "sources", "finish_reasons",
                 "system_prompt_ids", "problem_prompt_ids", "test_format_ids"):  # fmt: skip
        g.add_argument("--" + name.replace("_", "-"), type=_words, metavar="A,B")
    g.add_argument("--fractions", type=_floats, metavar="F,F", help="per input, summing to 1")
    g.add_argument("--weights", type=_floats, metavar="W,W", help="per input, relative")
    g.add_argument("--num-samples", type=int, metavar="N")
    g.add_argument("--min-test-cases", type=int, metavar="N")
    g.add_argument("--max-tokens", type=int, metavar="N", help="drop longer rows (counted)")
    g.add_argument("--tokenizer", metavar="PATH", help="tokenizer.json or a model directory")
    g.add_argument("--near-duplicate-threshold", type=float, metavar="J")
    for name in ("shuffle", "deduplicate", "include_flag_prompt", "include_system",
                 "turn_weights"):  # fmt: skip
        g.add_argument(
            "--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=None
        )
    g.add_argument("--val-fraction", type=float, help="fraction of tasks held out for validation")
    g.add_argument("--seed", type=int, help="export seed (mixing, split, shuffle, variants)")
    g.add_argument("--out-file-stem", help="write STEM_train.jsonl and STEM_val.jsonl")


_EXPORT_KEYS = (
    "correct_only", "inputs", "export_tasks", "format", "file_format", "template", "dpo_style",
    "reasoning", "missing_reasoning", "dataset_type", "statuses", "kinds", "teachers", "sources",
    "finish_reasons", "system_prompt_ids", "problem_prompt_ids", "test_format_ids", "fractions",
    "weights", "num_samples", "min_test_cases", "max_tokens", "tokenizer",
    "near_duplicate_threshold", "shuffle", "deduplicate", "include_flag_prompt", "include_system",
    "turn_weights", "val_fraction", "seed", "out_file_stem",
)  # fmt: skip
_PATH_KEYS = ("inputs", "export_tasks", "tokenizer")  # relative to where the command runs


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _floats(text: str) -> list[float]:
    try:
        return [float(w) for w in _words(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas: {text!r}"
        ) from None


def _export_overrides(args: argparse.Namespace) -> list[str]:
    from distill.cli_flags import flag_overrides

    flags = {
        attr: ("export." + ("tasks" if attr == "export_tasks" else attr), attr in _PATH_KEYS)
        for attr in _EXPORT_KEYS
    }
    return flag_overrides(args, flags)


def _load(args: argparse.Namespace) -> Config:
    overrides = list(args.overrides)
    flag_keys = {"output_dir": "output_dir", "max_cost": "harvest.max_cost_usd"}
    for attr, key in flag_keys.items():
        value = getattr(args, attr, None)
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    overrides += _export_overrides(args)
    for attr, key in (("refresh", "harvest.refresh"), ("regrade", "grade.regrade")):
        if getattr(args, attr, False):
            overrides.append(f"{key}=true")
    config = load_config(args.config, overrides)
    _save_resolved(config)
    return config


def _save_resolved(config: Config) -> None:
    """The resolved config beside the outputs (it holds env-var names, never key values)."""
    from distill.jsonl import write_text_atomic

    text = json.dumps(config_to_dict(config), indent=2, sort_keys=True) + "\n"
    write_text_atomic(config.out / "config.resolved.json", text)


def _cmd_harvest(args: argparse.Namespace) -> int:
    from distill import console
    from distill.harvest import run_harvest

    config = _load(args)
    if args.dry_run:
        from distill.harvest.dryrun import dry_run

        console.print_dry_run(dry_run(config))
        return EXIT_OK
    with _locked(config.out), console.harvest_progress(not args.quiet) as progress:
        result = run_harvest(config, progress)
    if not args.quiet:
        console.out.print(console.harvest_table(result))
    return _harvest_exit(result)


def _locked(out: object) -> Any:
    """The output directory's lock, for a single verb (`distill run` takes it for all stages)."""
    from pathlib import Path

    from distill.nightly import new_run_id
    from distill.runlock import output_lock

    return output_lock(Path(str(out)), new_run_id())


def _harvest_exit(result: object) -> int:
    from distill.errors import TeacherFatalError
    from distill.harvest import HarvestResult

    assert isinstance(result, HarvestResult)
    if result.fatal:
        raise TeacherFatalError("; ".join(result.fatal.values()))
    return EXIT_PARTIAL if result.stats.errors else EXIT_OK


def _cmd_grade(args: argparse.Namespace) -> int:
    from distill import console
    from distill.grade import run_grade

    config = _load(args)
    with _locked(config.out):
        result = run_grade(config)
    if not args.quiet:
        console.out.print(console.grade_table(result))
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from distill import console
    from distill.config import is_export_only, load_export_config
    from distill.export import run_export, run_standalone_export

    path = Path(args.config)
    if (not path.exists() and args.inputs) or (path.exists() and is_export_only(path)):
        # A standalone export: export keys at the top level of the file, or flags alone.
        overrides = [*args.overrides, *_export_overrides(args)]
        if args.output_dir:
            overrides.append(f"output_dir={json.dumps(os.path.abspath(args.output_dir))}")
        settings = load_export_config(path, overrides)
        with _locked(settings.output_dir):
            result = run_standalone_export(settings)
    else:
        config = _load(args)
        with _locked(config.out):
            result = run_export(config)
    if not args.quiet:
        console.out.print(console.export_table(result))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from distill import console
    from distill.export import run_export
    from distill.grade import run_grade
    from distill.harvest import run_harvest
    from distill.nightly import DESCRIBE, run_nightly

    config = _load(args)
    if args.dry_run:
        from distill.harvest.dryrun import dry_run

        console.print_dry_run(dry_run(config))
        return EXIT_OK
    with console.harvest_progress(not args.quiet) as progress:
        stages: dict[str, Any] = {}
        if config.sources:
            from distill.sources.scheduled import run_sources

            stages["import"] = lambda: run_sources(config)
        stages |= {
            "harvest": lambda: _harvested(run_harvest(config, progress)),
            "grade": lambda: run_grade(config),
            "export": lambda: run_export(config),
        }
        stages |= _student_stages(config)
        result = run_nightly(config, stages, DESCRIBE)
    if not args.quiet:
        for name, outcome in result.results.items():
            console.out.print(console.STAGE_TABLES[name](outcome))
    if result.exit_code != EXIT_OK:  # cron mails this: one screen saying what happened
        console.out.print(console.run_summary(result.summary))
    if result.summary.get("error"):
        sys.stderr.write(f"distill: error: {result.summary['error']}\n")
    return result.exit_code


def _student_stages(config: Config) -> dict[str, Any]:
    """`[run] train` and `eval`: checked before anything is spent, run after export."""
    stages: dict[str, Any] = {}
    local_student = config.run.eval and not config.train.eval.base_url
    if config.run.train or local_student:
        from distill.train.extra import require_train_extra

        require_train_extra("run")  # a missing extra fails now, not after a paid harvest
    if config.run.train:
        from distill.train.runner import train_if_changed

        stages["train"] = lambda: train_if_changed(config)
    if config.run.eval:
        from distill.train.evaluate import run_eval

        stages["eval"] = lambda: run_eval(config)
    return stages


def _harvested(result: object) -> object:
    """Harvest's result, raising TeacherFatalError (exit 3) when a teacher refused us."""
    _harvest_exit(result)
    return result


def _cmd_prompts(args: argparse.Namespace) -> int:
    from rich.table import Table

    from distill import console
    from distill.prompts import PromptLibrary

    table = Table(title="prompt library")
    for column in ("role", "id", "kind", "description"):
        table.add_column(column)
    for template in PromptLibrary.load().all():
        table.add_row(template.role, template.id, template.kind, template.description)
    console.out.print(table)
    return EXIT_OK
