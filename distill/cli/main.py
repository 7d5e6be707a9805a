"""The `distill` command: argument parsing, and every error as one line and an exit code.

Exit codes (distill.errors.ExitCode): 0 success; 1 partial (some samples ended in error);
2 config or input error; 3 teacher fatal (bad key, no balance); 4 locked; 70 internal error;
130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from distill import __version__
from distill.cli import import_flags, verbs
from distill.cli.flags import add_config_flags, common_options
from distill.errors import DistillError, ExitCode


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
        return int(code)
    except DistillError as exc:
        sys.stderr.write(f"distill: error: {exc}\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write(
            "distill: interrupted; completed requests are cached, run again to resume\n"
        )
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        sys.stderr.write(
            f"distill: internal error: {type(exc).__name__}: {exc} "
            "(rerun with --debug for details)\n"
        )
        return ExitCode.INTERNAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distill",
        description="Harvest reasoning traces from a teacher model, grade them, export SFT data.",
    )
    parser.add_argument("--version", action="version", version=f"distill {__version__}")
    common = common_options()
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, func: verbs.Verb, help: str, description: str | None = None,
             dry_run: bool = False) -> argparse.ArgumentParser:  # fmt: skip
        p = sub.add_parser(name, parents=[common], help=help, description=description)
        if dry_run:
            p.add_argument(
                "--dry-run",
                action="store_true",
                help="show requests, tokens and cost; send nothing",
            )
        add_config_flags(p, name)
        p.set_defaults(func=func)
        return p

    verb("harvest", verbs._cmd_harvest, "send task prompts to the teachers", dry_run=True)
    merge = verb(
        "merge-shards",
        verbs._cmd_merge_shards,
        "join `harvest --shard I/N` outputs into samples.jsonl and the main cache",
        "Join the shards that `distill harvest --shard I/N` wrote (OUTPUT_DIR/shards/I-of-N) "
        "into the samples.jsonl an unsharded harvest writes, byte for byte, and copy their "
        "answers into the main cache, so a later unsharded harvest sends nothing. Sends nothing; "
        "refuses when a shard is missing, unfinished, run with another N, or overlaps another.",
    )
    merge.add_argument(
        "--shards", type=int, metavar="N", help="merge the shards of this N (when several were run)"
    )
    verb("grade", verbs._cmd_grade, "grade harvested samples")
    verb("export", verbs._cmd_export, "write train/val splits")
    verb("run", verbs._cmd_run, "harvest, grade and export (for cron)", dry_run=True)
    import_flags.register(sub)
    verb(
        "train",
        verbs._cmd_train,
        "LoRA-train the student on the exported splits (needs the train extra)",
        "LoRA SFT (TRL + PEFT) on train.jsonl/val.jsonl: loss on assistant turns only, long "
        "rows dropped or split (never truncated), checkpoints, merge, a generation test. Every "
        "flag is a train.* key of the config.",
    )
    verb(
        "eval",
        verbs._cmd_eval,
        "grade the student on the held-out tasks beside the teacher",
        "The student (a local model or adapter, or an OpenAI-compatible server) answers the "
        "validation split's tasks; the pipeline's graders grade the answers; pass rates per "
        "task kind, teacher and student side by side, go to eval.json beside the model.",
    )
    verb(
        "status",
        verbs._cmd_status,
        "tables: tasks, samples, verdicts, pass rates, spend, errors, cache, last run",
        "Show what is in an output directory: tasks, samples, verdicts per status, pass rate "
        "per teacher, kind and grader, spend, errors by kind, cache size, and the last nightly "
        "run. Reads a config (-c) or just an output directory (--output-dir).",
    )
    report = verb(
        "report",
        verbs._cmd_report,
        "write report.html: plots of the nightly history, latency, tokens, errors",
        "Write one self-contained HTML file (no network needed to view it) with plots: pass "
        "rate per kind and teacher over the nightly history, spend per night, latency and "
        "token histograms, reasoning length against correctness, error breakdown.",
    )
    report.add_argument(
        "-o", "--out", metavar="FILE", help="where to write it (default: OUTPUT_DIR/report.html)"
    )

    from distill.sim.cli import add_sim_arguments, run_sim_from_args

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
    prompts.set_defaults(func=verbs._cmd_prompts)
    return parser
