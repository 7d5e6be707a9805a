"""One run's plumbing, shared by the zygote path and the fallback: its limits and result, the
pipes pumped until the run is over, and the run's end classified (ok, exit, timeout, …).

Nothing here trusts the run: output is capped as it arrives and only bytes come back.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distill.grade import sandbox_zygote as zygote

STDERR_CAP = 64 << 10
IDLE_S = 0.1  # how often a quiet run's zygote is checked for having been stopped
# Load the zygote alone (not the distill package) and from its cached bytecode: compiling it
# as a script leaves 2.5 MB of freed heap behind, which every fork would copy.
_ZYGOTE_PATH = os.path.abspath(zygote.__file__)
BOOT = (
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
    status: str  # ok | exit | signal | timeout | memory | output_limit | signalled_sandbox
    # | sandbox_error
    returncode: int | None  # exit code, -signal, or None where the sandbox killed or failed it
    stdout: bytes
    stderr: bytes
    wall_s: float
    detail: str  # one line: why


class Broken(Exception):
    """The sandbox failed (not the program): sandbox_error, and a fresh zygote next run."""


class Output:
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


def pump(
    stdin_fd: int, data: bytes, out: Output, out_fd: int, err_fd: int, deadline: float,
    on_over: Callable[[], None], ctrl: socket.socket | None = None,
    on_idle: Callable[[], None] | None = None,
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
            events = poller.poll(min(left, IDLE_S if on_idle else left) * 1000)
            if not events and on_idle is not None:
                on_idle()
            for fd, _ in events:
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
                        raise Broken("zygote died during the run")
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


def signal_name(sig: int) -> str:
    """SIGTERM, SIGRTMIN+3: the name a signal number has on this platform."""
    if sig in signal.Signals._value2member_map_:
        return signal.Signals(sig).name
    rtmin = getattr(signal, "SIGRTMIN", None)
    return f"SIGRTMIN+{sig - rtmin}" if rtmin is not None and sig > rtmin else f"signal {sig}"


def _classify(limits: Limits, out: Output, reply: dict[str, Any]) -> tuple[str, int | None, str]:
    code, sig, killed = reply["exitcode"], reply["signal"], reply["killed"]
    if reply.get("signalled"):  # whatever else it did: it attacked the sandbox
        names = ", ".join(signal_name(s) for s in reply["signalled"])
        return "signalled_sandbox", None, f"the program signalled the sandbox ({names})"
    tail = bytes(out.err[-400:]).decode(errors="replace").strip()
    last = tail.splitlines()[-1][:200] if tail else ""
    if out.over:
        return "output_limit", None, f"{out.over} exceeded {limits.output_bytes} bytes"
    if killed == "wall":
        return "timeout", None, f"wall clock {limits.wall_s:g} s exceeded"
    name = signal_name(sig) if sig is not None else ""
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


def result_of(lim: Limits, out: Output, reply: dict[str, Any], wall: float) -> RunResult:
    status, returncode, detail = _classify(lim, out, reply)
    return RunResult(status, returncode, bytes(out.out), bytes(out.err), wall, detail)


def broken(detail: str, wall: float = 0.0) -> RunResult:
    return RunResult("sandbox_error", None, b"", b"", wall, " ".join(detail.split()))


def reply_of(**fields: Any) -> dict[str, Any]:
    """A reply for a run whose zygote could not give one."""
    return {"exitcode": None, "signal": None, "killed": None, "cpu_s": 0.0, "maxrss_kb": 0,
            **fields}  # fmt: skip
