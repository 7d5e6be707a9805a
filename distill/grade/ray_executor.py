"""Grading on Ray: the process pool's jobs as Ray tasks, on this machine or across a cluster.

The same `runner.grade_one` runs in Ray worker processes; each worker configures its own
sandbox on its first task (and starts its own math-verify child when first needed), as a pool
worker does, so every node gives graded code the isolation a local run gives. The driver keeps
a bounded number of chunks in flight (IN_FLIGHT_PER_CPU x the cluster's CPUs) and puts each
verdict back in its job's place, so graded.jsonl is the pool's, byte for byte. A worker that
dies mid-chunk is retried by Ray (MAX_RETRIES): graders are pure, so a retry gives the same
verdicts, and as only the driver writes them none is lost or doubled. A chunk that fails past
its retries gets `error` verdicts, which are not cached, so the next run grades them again.

Ray is imported here only, and only when `grade.executor = "ray"` (the optional [ray] extra).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import socket
import warnings
from types import ModuleType
from typing import Any

from distill.config import Config
from distill.errors import ConfigError
from distill.grade import code
from distill.grade.runner import Job, error_verdict, grade_one
from distill.records import Verdict

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'distill[ray]'"
MAX_RETRIES = 3  # a worker or node lost mid-chunk: Ray runs the chunk again elsewhere
IN_FLIGHT_PER_CPU = 3  # enough queued work to keep every CPU busy, not every job at once
CHUNK = 16  # jobs per Ray task, as the pool's chunksize: a task costs ~1 ms of overhead
CONNECT_TIMEOUT_S = 5.0  # ray.init waits minutes on an unreachable head: probe it first
# Past their retries these mean the machine failed, not the answer: `error` verdicts.
_LOST = ("WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OutOfMemoryError")

# Recent Ray (2.60) starts clusters with token auth; Ray Client sends the token only when told.
TOKEN_HINT = (
    " (a cluster with token auth needs RAY_AUTH_MODE=token here and its token in "
    "~/.ray/auth_token or RAY_AUTH_TOKEN)"
)

_configured: tuple[str, ...] | None = None  # the hide paths this worker's sandbox was made with


def require_ray() -> ModuleType:
    """The ray module, or a one-line error naming the extra."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ConfigError(
            f"grade.executor = 'ray' needs the ray extra, but ray cannot be imported ({exc}); "
            f"install it with: {INSTALL_HINT}"
        ) from None


def grade_on_ray(work: list[Job], hide: list[str], config: Config) -> list[Verdict]:
    """One verdict per job, in the jobs' order, graded by Ray tasks."""
    ray = require_ray()
    started = _connect(ray, config)
    try:
        return grade_connected(ray, work, tuple(hide))
    finally:
        if started:
            ray.shutdown()


def _grade_chunk(hide: tuple[str, ...], jobs: list[Job]) -> list[Verdict]:
    """Runs in a Ray worker process, which keeps its sandbox from one task to the next."""
    global _configured
    if _configured != hide:
        code.configure_sandbox(hide)
        _configured = hide
    return [grade_one(job) for job in jobs]


def grade_connected(ray: Any, work: list[Job], hide: tuple[str, ...]) -> list[Verdict]:
    """grade_on_ray once connected (bench/night_cost.py times this alone)."""
    remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_grade_chunk)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    limit = max(2, IN_FLIGHT_PER_CPU * cpus)
    size = max(1, min(CHUNK, len(work) // (4 * cpus)))  # a small run still uses every CPU
    verdicts: list[Verdict | None] = [None] * len(work)
    pending: dict[Any, int] = {}  # object ref → the first job of its chunk
    log.info("grading %d answers on Ray: %d CPUs, %d chunks in flight", len(work), cpus, limit)

    def collect(block: bool) -> None:
        refs = list(pending)
        if block:  # wait for one, then take every other one already done
            ray.wait(refs, num_returns=1)
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in ready:
            start = pending.pop(ref)
            chunk = work[start : start + size]
            for offset, verdict in enumerate(_result(ray, ref, chunk)):
                verdicts[start + offset] = verdict

    try:
        for start in range(0, len(work), size):
            while len(pending) >= limit:
                collect(block=True)
            pending[remote.remote(hide, work[start : start + size])] = start
        while pending:
            collect(block=True)
    except BaseException:
        for ref in pending:  # a cluster outlives this run: leave it no orphaned work
            with contextlib.suppress(Exception):
                ray.cancel(ref)
        raise
    assert all(v is not None for v in verdicts)
    return [v for v in verdicts if v is not None]


def _result(ray: Any, ref: Any, chunk: list[Job]) -> list[Verdict]:
    try:
        verdicts: list[Verdict] = ray.get(ref)
    except ray.exceptions.RayError as exc:
        if type(exc).__name__ not in _LOST:  # our task failed on the worker: not an answer's
            raise ConfigError(  # fault, and every other chunk would fail the same way
                f"grading on Ray failed on a worker ({_first_line(exc)}); every node needs "
                f"distill with the ray extra ({INSTALL_HINT}) and the driver's Python version"
            ) from None
        log.warning("a Ray chunk of %d answers was lost past %d retries", len(chunk), MAX_RETRIES)
        return [_lost(job, exc) for job in chunk]
    for (grader, *_), verdict in zip(chunk, verdicts, strict=True):
        if verdict.grader == grader.name and verdict.grader_version != grader.version:
            raise ConfigError(
                f"a Ray worker graded with {grader.name} version {verdict.grader_version}, this "
                f"distill has version {grader.version}: install the same distill on every node"
            )
    return verdicts


def _lost(job: Job, exc: BaseException) -> Verdict:
    return error_verdict(job[0], "worker_lost", f"{type(exc).__name__}: {_first_line(exc)}")


def _connect(ray: Any, config: Config) -> bool:
    """Connect, or start a local Ray; True when this run started the connection (and ends it).
    A connection this process already holds (a program embedding distill, the tests) is used."""
    if ray.is_initialized():
        return False
    address = config.grade.ray_address
    at = f"{config.source}: grade.ray_address = {address!r}"
    try:
        if not address:
            cpus = config.grade.workers or os.cpu_count() or 1
            ray.init(
                address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR
            )
            return True
        _probe(_bootstrap_address(address), at)
        with warnings.catch_warnings():  # Ray Client warns, then raises: one line is enough
            warnings.simplefilter("ignore")
            ray.init(address=address, logging_level=logging.ERROR)
    except ConfigError:
        raise
    except Exception as exc:
        if address:
            hint = TOKEN_HINT if address.startswith("ray://") else ""
            raise ConfigError(f"{at}: cannot connect to Ray: {_first_line(exc)}{hint}") from None
        raise ConfigError(
            f"{config.source}: cannot start a local Ray for grading: {_first_line(exc)}"
        ) from None
    return True


def _bootstrap_address(address: str) -> str:
    """HOST:PORT that ray.init(address) will dial; "" when Ray is left to tell."""
    if address != "auto":
        return address.removeprefix("ray://")
    try:  # RAY_ADDRESS, else the cluster `ray start` left on this machine
        services = importlib.import_module("ray._private.services")
        found = services.canonicalize_bootstrap_address("auto")
    except Exception:  # a private helper: when it moves, ray.init reports the problem itself
        return ""
    return str(found or "")


def _probe(host_port: str, at: str) -> None:
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{at}: no Ray cluster answers at {host_port} ({exc.strerror or exc}); start one "
            "with `ray start --head` or fix the address (empty = a local Ray for this run)"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
