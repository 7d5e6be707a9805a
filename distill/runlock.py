"""One writer per output directory: an advisory lock that dies with the process holding it.

A POSIX record lock (`lockf`) is released by the kernel when its holder exits, however it exits
(SIGKILL included), so a lock file left behind by a killed run is simply taken over; its contents
only say who held it. Unlike `flock`, it is not inherited by forked workers, so a worker that
outlives a killed run cannot keep the directory locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from distill.errors import LockedError

LOCK_NAME = ".distill.lock"
log = logging.getLogger(__name__)


@contextlib.contextmanager
def output_lock(out: Path, run_id: str) -> Iterator[str]:
    """Hold the lock on `out`; yields who held it last and died holding it ("" if nobody)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EACCES or EAGAIN: held by another process
            raise LockedError(
                f"{out}: another distill run is writing here ({_holder(fd) or 'starting'}); "
                "it exits on its "
                "own, so try again later (or use another output_dir)"
            ) from None
        previous = _holder(fd)
        if previous:
            log.info("taking over the lock left by %s (no longer running)", previous)
        holder = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                  "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        try:
            yield previous
        finally:
            os.ftruncate(fd, 0)  # a clean exit leaves no holder behind
    finally:
        os.close(fd)  # closing releases the lock


def _holder(fd: int) -> str:
    text = os.pread(fd, 4096, 0)
    if not text.strip():
        return ""
    try:
        info = json.loads(text)
        return f"run {info['run_id']}, pid {info['pid']} on {info['host']}, since {info['since']}"
    except (ValueError, TypeError, KeyError):
        return "an unknown holder"
