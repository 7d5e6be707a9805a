"""Run untrusted Python: a fresh process per run, limited, isolated, and always cleaned up.

A Sandbox starts one zygote (sandbox_zygote.py: a clean `python -I` with a scrubbed
environment) in its own network, mount, IPC and PID namespaces where the OS allows, and asks it
to fork one child per run. The child gets an empty cwd holding `files`, rlimits, no inherited
descriptors, another uid (as root) or no capabilities (in a user namespace), a read-only
filesystem with `hide_paths` covered by empty tmpfs, and a /proc showing only its namespace.
Its stdin/stdout/stderr are pipes to this process. After each run every process it left is
killed and reaped, its files wiped. Where no zygote starts, each run is a fresh `python -I`
subprocess in its own session (limits, empty cwd, scrubbed environment, no namespaces), whose
parent is a shielded waiter, not this process.
A run that signals its parent (the zygote or the waiter) harms neither: each blocks every
signal that could, and a run that sent one is `signalled_sandbox`. Where a run shares the
zygote's uid outside a PID namespace (`reachable`), it can still SIGSTOP or SIGKILL it: the
stop is seen from here and undone, the death charged to the run, and both are
`signalled_sandbox` too, with a fresh zygote next run where needed.
`isolation` says which you got. Nothing a run produced is unpickled or evaluated here: results
are bytes, plus a JSON status from the zygote.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import pwd
import secrets
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import PurePosixPath
from typing import Any

from distill.grade import sandbox_zygote as zygote
from distill.grade.sandbox_fallback import run_subprocess
from distill.grade.sandbox_io import (
    BOOT,
    Broken,
    Limits,
    Output,
    RunResult,
    broken,
    pump,
    reply_of,
    result_of,
)

__all__ = ["Limits", "RunResult", "Sandbox", "run_python"]

log = logging.getLogger(__name__)

_START_TIMEOUT = 20.0  # a cold interpreter on a loaded CI machine
_GRACE = 5.0  # past the wall clock, a zygote that has not answered is broken
_ISOLATION_KEYS = (*zygote.FLAGS, "separate_user", "readonly_fs", "hidden_paths", "fresh_proc")


class _Zygote:
    def __init__(self, python: str, cfg: dict[str, Any]) -> None:
        ours, theirs = socket.socketpair()
        # Its std streams are pipes, so CPython builds sys.stdin/stdout/stderr for pipes at
        # startup and every run inherits them ready-made. It writes nothing to stdout and,
        # unless it fails, nothing to stderr: that pipe is kept to read why it failed.
        (in_r, in_w), (out_r, out_w), (self.log, err_w) = os.pipe(), os.pipe(), os.pipe()
        argv = [python, "-I", "-c", BOOT, str(theirs.fileno()), json.dumps(cfg)]
        try:
            self.proc = subprocess.Popen(
                argv, stdin=in_r, stdout=out_w, stderr=err_w, env=zygote.ENV, cwd="/",
                pass_fds=[theirs.fileno()], start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            ours.close()
            os.close(self.log)
            raise Broken(f"cannot start {python}: {exc}") from exc
        finally:
            theirs.close()
            for fd in (in_r, in_w, out_r, out_w, err_w):
                os.close(fd)
        self.sock = ours
        self._finalizer = weakref.finalize(self, _stop, self.proc, ours, self.log)
        ours.settimeout(_START_TIMEOUT)
        try:
            self.isolation: dict[str, Any] = zygote.recv_frame(ours)[0]["isolation"]
        except (OSError, EOFError, ValueError, KeyError) as exc:
            why = self.why() or str(exc)
            self.close()
            raise Broken(f"zygote did not start: {why}") from exc
        ours.settimeout(30.0)  # for sends: a zygote that stops reading is broken

    def why(self) -> str:
        """The last line the zygote wrote to stderr (a traceback's message)."""
        tail = b""
        with contextlib.suppress(OSError):
            os.set_blocking(self.log, False)
            while chunk := os.read(self.log, 1 << 16):
                tail = (tail + chunk)[-2000:]
        lines = tail.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def close(self) -> None:
        self._finalizer()


def _stop(proc: subprocess.Popen[bytes], sock: socket.socket, log_fd: int) -> None:
    sock.close()  # the zygote sees EOF, kills what is left and exits
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()  # PDEATHSIG takes its namespace's init along, and init all the rest
        proc.wait()
    os.close(log_fd)


@functools.lru_cache(maxsize=64)
def _as_dict(limits: Limits) -> dict[str, Any]:
    return asdict(limits)


def _check_files(files: Mapping[str, bytes] | None) -> list[tuple[str, bytes]]:
    checked = []
    for name, data in (files or {}).items():
        parts = PurePosixPath(name).parts
        if not parts or name.startswith("/") or ".." in parts or "\0" in name or name == "main.py":
            raise ValueError(f"sandbox file names are relative paths other than main.py: {name!r}")
        checked.append(("/".join(parts), bytes(data)))
    return checked


def _pick_uid() -> int | None:
    """A uid no process and no account has, so kill(-1) and RLIMIT_NPROC see only our runs."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return None
    used = set()
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            used.add(os.stat(f"/proc/{entry}").st_uid)
    while True:
        uid = 60000 + secrets.randbelow(30000)
        if uid not in used and uid != 65534:
            try:
                pwd.getpwuid(uid)
            except KeyError:
                return uid


class Sandbox:
    """One per worker process (not thread-safe). Context manager."""

    def __init__(
        self, limits: Limits = Limits(), *, hide_paths: Sequence[str] = (),
        python: str = sys.executable, namespaces: bool = True,
    ) -> None:  # fmt: skip
        self.limits, self._python, self._uid, self._pid = limits, python, _pick_uid(), os.getpid()
        self._zygote: _Zygote | None = None
        self._cfg: dict[str, Any] | None = None
        self._closed = False
        self._isolation: dict[str, bool | str] = dict.fromkeys(_ISOLATION_KEYS, False)
        self._isolation["method"] = "subprocess"
        hide = [os.path.abspath(os.fspath(p)) for p in hide_paths]
        for ns in (True, False) if namespaces else (False,):  # the most this platform grants
            cfg = {"namespaces": ns, "uid": self._uid, "hide": hide}
            try:
                self._zygote = _Zygote(python, cfg)
            except Broken as exc:
                log.warning("sandbox zygote (namespaces=%s) did not start: %s", ns, exc)
                continue
            self._cfg = cfg
            self._isolation = {**self._zygote.isolation, "method": "zygote"}
            break
        else:
            log.warning("sandbox: each run is a plain subprocess: no namespaces, no other user")
        if hide and not self._isolation["hidden_paths"]:
            log.warning("sandbox: cannot hide %s from runs on this platform", ", ".join(hide))

    @property
    def isolation(self) -> dict[str, bool | str]:
        return dict(self._isolation)

    @property
    def reachable(self) -> bool:
        """Whether a run can signal its zygote: same uid and no PID namespace (no root, no
        user namespaces). Then a zygote stopped or killed during a run is that run's doing."""
        iso = self._isolation
        return iso["method"] == "zygote" and not iso["pid_namespace"] and not iso["separate_user"]

    @property
    def uid(self) -> int | None:
        """The uid runs execute as, where they run as a user of their own."""
        return self._uid if self._isolation["separate_user"] else None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._drop_zygote()

    def _drop_zygote(self) -> None:
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None

    def run_python(
        self, source: str, stdin: bytes = b"", *, files: Mapping[str, bytes] | None = None,
        limits: Limits | None = None,
    ) -> RunResult:  # fmt: skip
        """Run `source` as __main__ (file main.py) in a FRESH process whose cwd is a fresh empty
        temp dir holding `files`, with `stdin` on fd 0; capture stdout/stderr."""
        if self._closed:
            raise RuntimeError("this Sandbox is closed")
        lim, code = limits or self.limits, source.encode("utf-8", "surrogatepass")
        checked = _check_files(files)
        if self._cfg is None:
            return run_subprocess(self._python, code, stdin, checked, lim)
        start = time.monotonic()
        if os.getpid() != self._pid:  # inherited through fork: that zygote is the parent's
            self._zygote, self._pid = None, os.getpid()
        try:
            if self._zygote is None or self._zygote.proc.poll() is not None:
                self._drop_zygote()  # it died between runs, or the last run broke it
                self._zygote = _Zygote(self._python, self._cfg)
            return self._run_zygote(self._zygote, code, stdin, checked, lim)
        except Broken as exc:
            self._drop_zygote()
            return broken(str(exc), time.monotonic() - start)

    def _run_zygote(
        self, z: _Zygote, code: bytes, stdin: bytes, files: list[tuple[str, bytes]], lim: Limits
    ) -> RunResult:
        start = time.monotonic()
        (in_r, in_w), (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe(), os.pipe()
        sizes = [[name, len(data)] for name, data in files]
        header = {"limits": _as_dict(lim), "source": len(code), "files": sizes}
        try:
            socket.send_fds(z.sock, [b"R"], [in_r, out_w, err_w])
            zygote.send_frame(z.sock, header, (code, *(data for _, data in files)))
        except OSError as exc:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise Broken(f"zygote is not answering: {exc}") from exc
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        out = Output(lim)

        def kill() -> None:
            with contextlib.suppress(OSError):
                z.sock.send(b"K")

        stopped: list[int] = []

        def resume_if_stopped() -> None:  # the run stopped it: let it go on to kill the run
            if _is_stopped(z.proc.pid):
                stopped[:] = [signal.SIGSTOP]
                with contextlib.suppress(OSError):
                    os.kill(z.proc.pid, signal.SIGCONT)
                kill()

        deadline, watch = start + lim.wall_s + _GRACE, resume_if_stopped if self.reachable else None
        try:
            reply = pump(in_w, stdin, out, out_r, err_r, deadline, kill, z.sock, watch)
        except Broken:
            killed_by = self._killed_by_run(z)
            if killed_by is None:
                raise
            self._drop_zygote()
            return result_of(lim, out, reply_of(signalled=[killed_by]), time.monotonic() - start)
        wall = time.monotonic() - start
        if reply is None and stopped:  # it kept stopping the zygote: a fresh one next run
            self._drop_zygote()
            return result_of(lim, out, reply_of(signalled=stopped), wall)
        if reply is None:
            raise Broken(f"zygote gave no result {_GRACE:g} s past the wall clock")
        reply["signalled"] = sorted({*reply.get("signalled", ()), *stopped})
        if reply.get("leftovers"):
            log.warning("sandbox: a run's processes outlived SIGKILL; restarting the zygote")
        if reply.get("error") or reply.get("leftovers"):
            self._drop_zygote()  # a fresh one has fresh namespaces and an empty /tmp
        if reply.get("error") or reply.get("setup_error"):
            return broken(f"sandbox failed: {reply.get('error') or reply['setup_error']}", wall)
        return result_of(lim, out, reply, reply["wall_s"])

    def _killed_by_run(self, z: _Zygote) -> int | None:
        """The signal that killed the zygote during a run, where only that run can have sent it."""
        if not self.reachable:
            return None
        try:
            code = z.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return None
        return -code if code < 0 else None


def _is_stopped(pid: int) -> bool:
    try:
        info = os.waitid(os.P_PID, pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT)
    except (ChildProcessError, AttributeError):  # gone, or no waitid on this platform
        return False
    return info is not None and info.si_code == os.CLD_STOPPED


def run_python(
    source: str, stdin: bytes = b"", *, files: Mapping[str, bytes] | None = None,
    limits: Limits | None = None, hide_paths: Sequence[str] = (), python: str = sys.executable,
) -> RunResult:  # fmt: skip
    """One run in a one-shot Sandbox (pays the zygote's start: use a Sandbox for many runs)."""
    with Sandbox(limits or Limits(), hide_paths=hide_paths, python=python) as box:
        return box.run_python(source, stdin, files=files)
