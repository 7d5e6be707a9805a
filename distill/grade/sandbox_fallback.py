"""The fallback where no zygote starts: a fresh `python -I` per run, in its own session, whose
parent is a shielded waiter (the zygote module's `--once` mode), not the grader."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from distill.grade import sandbox_zygote as zygote
from distill.grade.sandbox_io import BOOT, Limits, Output, RunResult, broken, pump, result_of


def run_subprocess(
    python: str, code: bytes, stdin: bytes, files: list[tuple[str, bytes]], lim: Limits
) -> RunResult:
    """The fallback: a fresh `python -I` per run in its own session, killed as a group."""
    with tempfile.TemporaryDirectory(prefix="distill-sandbox-") as run_dir:
        for name, data in [("main.py", code), *files]:
            Path(run_dir, name).parent.mkdir(parents=True, exist_ok=True)
            Path(run_dir, name).write_bytes(data)
        (in_r, in_w), (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe(), os.pipe()
        report_r, report_w = os.pipe()  # the signals the run sent its parent
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                [python, "-I", "-c", BOOT, "--once", json.dumps(asdict(lim)), str(report_w)],
                stdin=in_r, stdout=out_w, stderr=err_w, cwd=run_dir, pass_fds=[report_w],
                env={**zygote.ENV, "HOME": run_dir}, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            for fd in (in_w, out_r, err_r, report_r):
                os.close(fd)
            return broken(f"cannot start {python}: {exc}")
        finally:
            for fd in (in_r, out_w, err_w, report_w):
                os.close(fd)

        def kill() -> None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)

        out, deadline, killed, stopped = Output(lim), start + lim.wall_s, None, []
        pump(in_w, stdin, out, out_r, err_r, deadline, kill)
        while (done := os.wait4(proc.pid, os.WNOHANG | os.WUNTRACED))[0] == 0 or os.WIFSTOPPED(
            done[1]
        ):
            if done[0] != 0:  # the run stopped its parent, this process's child
                stopped = [signal.SIGSTOP]
            if time.monotonic() >= deadline or stopped:
                killed = None if stopped else "wall"
                kill()
                done = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        kill()  # whatever it left in its session
        sent, maxrss_kb = _read_report(report_r)
        _, status, usage = done
        proc.returncode = os.waitstatus_to_exitcode(status)
        reply = {
            "exitcode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "killed": killed,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "maxrss_kb": maxrss_kb,
            "signalled": sorted({*sent, *stopped}),
        }
        return result_of(lim, out, reply, time.monotonic() - start)


def _read_report(fd: int) -> tuple[list[int], int]:
    """The signals the fallback's run sent its parent, and the run's peak memory (KiB), as the
    waiter saw them; none and 0 where the run killed the waiter before it could say."""
    os.set_blocking(fd, False)
    try:
        with open(fd, "rb") as report:
            said = json.loads(report.read() or b"{}")
        sent, maxrss = said.get("signalled", []), said.get("maxrss_kb", 0)
    except (OSError, TypeError, ValueError, AttributeError):
        return [], 0
    signals = [int(s) for s in sent if isinstance(s, int)]
    return signals, maxrss if isinstance(maxrss, int) else 0
