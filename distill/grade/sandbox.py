"""Run untrusted Python: a fresh process per run, limited, isolated, and always cleaned up.

A Sandbox starts one zygote (sandbox_zygote.py: a clean `python -I` with a scrubbed
environment) in its own network, mount, IPC and PID namespaces where the OS allows, and asks it
to fork one child per run. The child gets an empty cwd holding `files`, rlimits, no inherited
descriptors, another uid (as root) or no capabilities (in a user namespace), a read-only
filesystem with `hide_paths` covered by empty tmpfs, and a /proc showing only its namespace.
Its stdin/stdout/stderr are pipes to this process. After each run every process it left is
killed and reaped, its files wiped. Where no zygote starts, each run is a fresh `python -I`
subprocess in its own session (limits, empty cwd, scrubbed environment, no namespaces).
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
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from distill.grade import sandbox_zygote as zygote

log = logging.getLogger(__name__)

STDERR_CAP = 64 << 10
_START_TIMEOUT = 20.0  # a cold interpreter on a loaded CI machine
_GRACE = 5.0  # past the wall clock, a zygote that has not answered is broken
_ISOLATION_KEYS = (*zygote.FLAGS, "separate_user", "readonly_fs", "hidden_paths", "fresh_proc")
# Load the zygote alone (not the distill package) and from its cached bytecode: compiling it
# as a script leaves 2.5 MB of freed heap behind, which every fork would copy.
_ZYGOTE_PATH = os.path.abspath(zygote.__file__)
_BOOT = (
    f"import importlib.util as u, sys; s = u.spec_from_file_location('z', {_ZYGOTE_PATH!r}); "
    "z = u.module_from_spec(s); s.loader.exec_module(z); sys.exit(z.main(sys.argv))"
)


@dataclass(frozen=True)
class Limits:
    wall_s: float = 6.0  # wall clock per run; the whole process tree is killed and reaped after it
    cpu_s: float = 4.0  # RLIMIT_CPU (whole seconds, rounded up)
    memory_mb: int = 1024  # RLIMIT_AS
    processes: int = 32  # max processes/threads for the sandbox user
    file_mb: int = 16  # RLIMIT_FSIZE
    open_files: int = 64  # RLIMIT_NOFILE
    output_bytes: int = 1 << 20  # stdout cap (stderr keeps 64 KiB); over it → output_limit


@dataclass(frozen=True)
class RunResult:
    status: str  # ok | exit | signal | timeout | memory | output_limit | sandbox_error
    returncode: int | None  # exit code, -signal, or None where the sandbox killed or failed it
    stdout: bytes
    stderr: bytes
    wall_s: float
    detail: str  # one line: why


class _Broken(Exception):
    """The sandbox failed (not the program): sandbox_error, and a fresh zygote next run."""


class _Zygote:
    def __init__(self, python: str, cfg: dict[str, Any]) -> None:
        ours, theirs = socket.socketpair()
        # Its std streams are pipes, so CPython builds sys.stdin/stdout/stderr for pipes at
        # startup and every run inherits them ready-made. It writes nothing to stdout and,
        # unless it fails, nothing to stderr: that pipe is kept to read why it failed.
        (in_r, in_w), (out_r, out_w), (self.log, err_w) = os.pipe(), os.pipe(), os.pipe()
        argv = [python, "-I", "-c", _BOOT, str(theirs.fileno()), json.dumps(cfg)]
        try:
            self.proc = subprocess.Popen(
                argv, stdin=in_r, stdout=out_w, stderr=err_w, env=zygote.ENV, cwd="/",
                pass_fds=[theirs.fileno()], start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            ours.close()
            os.close(self.log)
            raise _Broken(f"cannot start {python}: {exc}") from exc
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
            raise _Broken(f"zygote did not start: {why}") from exc
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


class _Output:
    """stdout and stderr as they arrive, capped; `over` names the stream that overflowed."""

    def __init__(self, limits: Limits) -> None:
        self.limits, self.out, self.err = limits, bytearray(), bytearray()
        self.totals = {"stdout": 0, "stderr": 0}
        self.over: str | None = None

    def take(self, stream: str, chunk: bytes) -> bool:
        """Keep what fits; True the first time a stream goes over the output cap."""
        self.totals[stream] += len(chunk)
        if stream == "stdout":
            buf, cap = self.out, self.limits.output_bytes
        else:
            buf, cap = self.err, STDERR_CAP
        buf += chunk[: max(0, cap - len(buf))]  # past 64 KiB stderr is drained, not kept
        if self.totals[stream] > self.limits.output_bytes and self.over is None:
            self.over = stream
            return True
        return False


def _pump(
    stdin_fd: int, data: bytes, out: _Output, out_fd: int, err_fd: int, deadline: float,
    on_over: Callable[[], None], ctrl: socket.socket | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """Feed stdin and collect output until both pipes close (and the zygote's reply is in)."""
    poller, reply, frame, pos = select.poll(), None, bytearray(), 0
    names = {out_fd: "stdout", err_fd: "stderr"}
    for fd in names:
        os.set_blocking(fd, False)
        poller.register(fd, select.POLLIN)
    if data:
        os.set_blocking(stdin_fd, False)
        poller.register(stdin_fd, select.POLLOUT)
    else:
        os.close(stdin_fd)
        stdin_fd = -1
    if ctrl is not None:
        poller.register(ctrl, select.POLLIN)
    try:
        while names or (ctrl is not None and reply is None):
            if reply is not None:  # the run is over: what is left in the pipes comes at once
                deadline = min(deadline, time.monotonic() + 2.0)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for fd, _ in poller.poll(left * 1000):
                if fd == stdin_fd:
                    try:
                        pos += os.write(stdin_fd, data[pos : pos + (1 << 16)])
                    except BlockingIOError:
                        continue
                    except OSError:  # it exited or closed stdin: the rest stays unread
                        pos = len(data)
                    if pos >= len(data):
                        poller.unregister(stdin_fd)
                        os.close(stdin_fd)
                        stdin_fd = -1
                elif ctrl is not None and fd == ctrl.fileno():
                    chunk = ctrl.recv(1 << 16)
                    if not chunk:
                        raise _Broken("zygote died during the run")
                    frame += chunk
                    if (reply := zygote.parse_frame(frame)) is not None:
                        poller.unregister(fd)
                elif fd in names:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        poller.unregister(fd)
                        os.close(fd)
                        del names[fd]
                    elif out.take(names[fd], chunk):
                        on_over()
    finally:
        for fd in [stdin_fd, *names]:
            if fd != -1:
                os.close(fd)
    return reply


def _classify(limits: Limits, out: _Output, reply: dict[str, Any]) -> tuple[str, int | None, str]:
    code, sig, killed = reply["exitcode"], reply["signal"], reply["killed"]
    tail = bytes(out.err[-400:]).decode(errors="replace").strip()
    last = tail.splitlines()[-1][:200] if tail else ""
    if out.over:
        return "output_limit", None, f"{out.over} exceeded {limits.output_bytes} bytes"
    if killed == "wall":
        return "timeout", None, f"wall clock {limits.wall_s:g} s exceeded"
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and reply["cpu_s"] >= limits.cpu_s - 0.05):
        return "timeout", -sig, f"CPU time {limits.cpu_s:g} s exceeded (killed by {name})"
    near_limit = reply["maxrss_kb"] >= 0.9 * limits.memory_mb * 1024
    oom_words = ("MemoryError", "Cannot allocate memory", "bad_alloc", "out of memory")
    if (code or sig) and (any(w in last for w in oom_words) or (sig and near_limit)):
        rc = code if sig is None else -sig
        return "memory", rc, f"memory limit {limits.memory_mb} MB: {last or name}"
    if sig is not None:
        return "signal", -sig, f"killed by {name}"
    if code:
        return "exit", code, f"exit code {code}" + (f": {last}" if last else "")
    return "ok", 0, "exit code 0"


def _result(lim: Limits, out: _Output, reply: dict[str, Any], wall: float) -> RunResult:
    status, returncode, detail = _classify(lim, out, reply)
    return RunResult(status, returncode, bytes(out.out), bytes(out.err), wall, detail)


def _broken(detail: str, wall: float = 0.0) -> RunResult:
    return RunResult("sandbox_error", None, b"", b"", wall, " ".join(detail.split()))


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
        python: str = sys.executable,
    ) -> None:  # fmt: skip
        self.limits, self._python, self._uid, self._pid = limits, python, _pick_uid(), os.getpid()
        self._zygote: _Zygote | None = None
        self._cfg: dict[str, Any] | None = None
        self._closed = False
        self._isolation: dict[str, bool | str] = dict.fromkeys(_ISOLATION_KEYS, False)
        self._isolation["method"] = "subprocess"
        hide = [os.path.abspath(os.fspath(p)) for p in hide_paths]
        for namespaces in (True, False):  # the most isolation this platform grants, else less
            cfg = {"namespaces": namespaces, "uid": self._uid, "hide": hide}
            try:
                self._zygote = _Zygote(python, cfg)
            except _Broken as exc:
                log.warning("sandbox zygote (namespaces=%s) did not start: %s", namespaces, exc)
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
            return _run_subprocess(self._python, code, stdin, checked, lim)
        start = time.monotonic()
        if os.getpid() != self._pid:  # inherited through fork: that zygote is the parent's
            self._zygote, self._pid = None, os.getpid()
        try:
            if self._zygote is None or self._zygote.proc.poll() is not None:
                self._drop_zygote()  # it died between runs, or the last run broke it
                self._zygote = _Zygote(self._python, self._cfg)
            return self._run_zygote(self._zygote, code, stdin, checked, lim)
        except _Broken as exc:
            self._drop_zygote()
            return _broken(str(exc), time.monotonic() - start)

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
            raise _Broken(f"zygote is not answering: {exc}") from exc
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        out = _Output(lim)

        def kill() -> None:
            with contextlib.suppress(OSError):
                z.sock.send(b"K")

        reply = _pump(in_w, stdin, out, out_r, err_r, start + lim.wall_s + _GRACE, kill, z.sock)
        wall = time.monotonic() - start
        if reply is None:
            raise _Broken(f"zygote gave no result {_GRACE:g} s past the wall clock")
        if reply.get("leftovers"):
            log.warning("sandbox: a run's processes outlived SIGKILL; restarting the zygote")
        if reply.get("error") or reply.get("leftovers"):
            self._drop_zygote()  # a fresh one has fresh namespaces and an empty /tmp
        if reply.get("error") or reply.get("setup_error"):
            return _broken(f"sandbox failed: {reply.get('error') or reply['setup_error']}", wall)
        return _result(lim, out, reply, reply["wall_s"])


def _run_subprocess(
    python: str, code: bytes, stdin: bytes, files: list[tuple[str, bytes]], lim: Limits
) -> RunResult:
    """The fallback: a fresh `python -I` per run in its own session, killed as a group."""
    with tempfile.TemporaryDirectory(prefix="distill-sandbox-") as run_dir:
        for name, data in [("main.py", code), *files]:
            Path(run_dir, name).parent.mkdir(parents=True, exist_ok=True)
            Path(run_dir, name).write_bytes(data)
        (in_r, in_w), (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe(), os.pipe()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                [python, "-I", "-c", _BOOT, "--once", json.dumps(asdict(lim))],
                stdin=in_r, stdout=out_w, stderr=err_w, cwd=run_dir,
                env={**zygote.ENV, "HOME": run_dir}, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            return _broken(f"cannot start {python}: {exc}")
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)

        def kill() -> None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)

        out, deadline, killed = _Output(lim), start + lim.wall_s, None
        _pump(in_w, stdin, out, out_r, err_r, deadline, kill)
        while (done := os.wait4(proc.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() >= deadline:
                killed = "wall"
                kill()
                done = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        kill()  # whatever it left in its session
        _, status, usage = done
        proc.returncode = os.waitstatus_to_exitcode(status)
        reply = {
            "exitcode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "killed": killed,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "maxrss_kb": usage.ru_maxrss // (1024 if sys.platform == "darwin" else 1),
        }
        return _result(lim, out, reply, time.monotonic() - start)


def run_python(
    source: str, stdin: bytes = b"", *, files: Mapping[str, bytes] | None = None,
    limits: Limits | None = None, hide_paths: Sequence[str] = (), python: str = sys.executable,
) -> RunResult:  # fmt: skip
    """One run in a one-shot Sandbox (pays the zygote's start: use a Sandbox for many runs)."""
    with Sandbox(limits or Limits(), hide_paths=hide_paths, python=python) as box:
        return box.run_python(source, stdin, files=files)
