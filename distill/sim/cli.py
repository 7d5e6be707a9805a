"""The teacher simulator's command line: `distill teacher-sim` and `python -m distill.sim`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from distill.errors import ConfigError, DistillError
from distill.jsonl import write_text_atomic
from distill.sim.app import TeacherSim
from distill.sim.config import FAULTS, SimConfig

log = logging.getLogger(__name__)

SIM_DESCRIPTION = (
    "Run a local SIMULATOR of a teacher API (OpenAI chat completions and Anthropic messages) "
    "for demos, tests and benchmarks. It is NOT a model: it returns canned, deterministic "
    "answers to the bundled example tasks, with configurable latency, rate limits and faults."
)


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    """The `distill teacher-sim` options. Numbers are parsed in run_sim_from_args, so a bad
    value is a one-line ConfigError like every other distill error."""
    parser.description = parser.description or SIM_DESCRIPTION
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="only 127.0.0.1 (or localhost) is allowed")
    add("--port", default="0", help="port to listen on; 0 picks a free one (default)")
    add("--port-file", help="write the port here (atomically) once listening")
    add("--seed", default="0", help="seed for answers and faults (default 0)")
    add("--p-correct", default="0.7", help="chance a bundled task is answered right (0.7)")
    add(
        "--latency",
        default="0",
        help="seconds before answering: 0.2, uniform:LO,HI, lognormal:MEDIAN,SIGMA, exp:MEAN",
    )
    add("--rpm", default="0", help="requests per minute limit (0 = none)")
    add("--tpm", default="0", help="tokens per minute limit, prompt + max_tokens (0 = none)")
    add("--limit-window-s", default="1.0", help="burst window of the limits in seconds (1)")
    for fault, what in (
        ("5xx", "500/502/503 (529 on /v1/messages)"),
        ("malformed", "200 with a body that is not JSON"),
        ("truncated", "a body cut short"),
        ("drop", "connection closed, no answer"),
        ("stall", "request held unanswered for --stall-s, then closed"),
    ):
        add(f"--fault-{fault}", default="0", help=f"fraction of requests answered with {what}")
    add("--stall-s", default="30", help="how long a stalled request is held (30)")
    add(
        "--keepalive-interval-s",
        default="0",
        help="DeepSeek style: send a blank line this often while answering (0 = off)",
    )
    add(
        "--api-key-env",
        metavar="NAME",
        help="require the key held in this environment variable (never pass a key itself)",
    )
    add("--status-override", default="0", help="answer every request with this HTTP error")
    add(
        "--retry-after",
        default="",
        help="Retry-After on 503/529 answers: SECONDS, or date:SECONDS for an HTTP-date",
    )
    add(
        "--record-arrivals",
        action="store_true",
        help="GET /stats lists each API request's arrival time and fingerprint",
    )
    add("--batch-delay-s", default="0", help="seconds until a batch ends (0: by the first look)")
    add("--batch-expire-rate", default="0", help="fraction of batch items that expire (0)")
    add("--batch-fail-rate", default="0", help="fraction of batch items that error (0)")
    add("--cache-min-tokens", default="1024", help="shortest prompt cached (1024 tokens)")
    add("--cache-ttl-s", default="300", help="prompt cache entry lifetime after last use (300)")
    add(
        "--reasoning-tokens",
        default="0",
        help="pad each answer's reasoning to about this many tokens (0 = off)",
    )
    add(
        "--tasks",
        nargs="+",
        metavar="FILE",
        default=[],
        help="task JSONL files to answer (default: the bundled examples)",
    )


def config_from_args(args: argparse.Namespace) -> SimConfig:
    def num(option: str, kind: type[int] | type[float]) -> Any:
        raw = getattr(args, option.replace("-", "_"))
        try:
            return kind(raw)
        except (TypeError, ValueError):
            what = "an integer" if kind is int else "a number"
            raise ConfigError(f"--{option} must be {what}, got {raw!r}") from None

    api_key = ""
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env, "")
        if not api_key:
            raise ConfigError(
                f"--api-key-env: environment variable {args.api_key_env} is not set or empty"
            )
    return SimConfig(
        host=args.host,
        port=num("port", int),
        seed=num("seed", int),
        p_correct=num("p-correct", float),
        latency=args.latency,
        rpm=num("rpm", int),
        tpm=num("tpm", int),
        limit_window_s=num("limit-window-s", float),
        **{f"fault_{f}": num(f"fault-{f}", float) for f in FAULTS},
        stall_s=num("stall-s", float),
        keepalive_interval_s=num("keepalive-interval-s", float),
        api_key=api_key,
        status_override=num("status-override", int),
        retry_after=args.retry_after,
        record_arrivals=args.record_arrivals,
        task_files=tuple(args.tasks),
        batch_delay_s=num("batch-delay-s", float),
        batch_expire_rate=num("batch-expire-rate", float),
        batch_fail_rate=num("batch-fail-rate", float),
        cache_min_tokens=num("cache-min-tokens", int),
        cache_ttl_s=num("cache-ttl-s", float),
        reasoning_tokens=num("reasoning-tokens", int),
    )


def run_sim_from_args(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop."""
    config = config_from_args(args)
    asyncio.run(_serve(config, args.port_file))
    return 0


async def _serve(config: SimConfig, port_file: str | None) -> None:
    sim = TeacherSim(config)
    await sim.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C raises instead
            loop.add_signal_handler(sig, stop.set)
    try:
        log.info("teacher simulator listening on %s/v1", sim.url)
        if port_file:
            write_text_atomic(port_file, f"{sim.port}\n")
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distill.sim")
    add_sim_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run_sim_from_args(args)
    except DistillError as exc:
        sys.stderr.write(f"distill teacher-sim: error: {exc}\n")
        return exc.exit_code
