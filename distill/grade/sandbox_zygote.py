"""The sandbox's zygote: one clean, long-lived Python that forks a fresh child per run.

`distill.grade.sandbox` loads it alone in `python -I` with only PATH and LANG in its
environment and no descriptor but a socket: it never holds the grader's secrets, task files,
expected outputs or memory. It unshares what the OS allows, builds the filesystem runs see, then
serves: b"R" carrying a run's stdin/stdout/stderr pipe ends (SCM_RIGHTS) and one frame (limits,
source, files); it answers one JSON frame. A b"K" during a run kills it (the output cap).
It blocks every signal a run could hurt it with, and names in its answer those a run sent.
`--once LIMITS FD` runs ./main.py in a child of this process, which stays its shielded parent:
the per-run subprocess fallback, reporting on FD the signals the run sent it. It loads no
module a run would not have anyway beyond a few cheap ones: every page it holds slows each
fork, and every page a child writes is a copy (about 4 µs each on a VM).
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import ctypes
import gc
import json
import math
import os
import re
import resource
import select
import signal
import socket
import struct
import sys
import time
import types

TYPE_CHECKING = False  # not `typing`'s: importing typing would load it into every run
if TYPE_CHECKING:
    from typing import Any, NoReturn

# Cheap modules candidates import all the time; preloading them is part of the speed-up.
for _name in ("bisect", "collections", "functools", "heapq", "itertools", "string"):
    __import__(_name)

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # world-writable: a fresh tmpfs each
FLAGS = ("network_namespace", "mount_namespace", "pid_namespace", "user_namespace")
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x20000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 4096, 16384, 1 << 18, 1 << 21
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38
SYS_MOUNT_SETATTR, AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = 442, -100, 0x8000, 1
LINUX = sys.platform.startswith("linux")
# A run of the zygote's uid can signal it (as init of a PID namespace it gets no SIGKILL or
# SIGSTOP from inside, but every signal it blocks or handles). Each signal that could hurt is
# blocked, so it stays pending, harms nothing, and tells on the run that sent it. The harmless
# ones stay open (SIGCHLD must); SIGKILL and SIGSTOP the grader sees from outside.
SHIELDED = signal.valid_signals() - {
    signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGCONT, signal.SIGURG, signal.SIGWINCH
}  # fmt: skip

try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # not a POSIX libc: no namespaces, no prctl
    _libc = None

# --- framing, shared with the parent: two lengths, a JSON header, raw payload bytes ---
_HEAD = struct.Struct("!II")


def send_frame(sock: socket.socket, header: dict[str, Any], parts: tuple[bytes, ...] = ()) -> None:
    head = json.dumps(header).encode()
    sock.sendall(_HEAD.pack(len(head), sum(len(p) for p in parts)) + head)
    for part in parts:
        sock.sendall(part)


def _recv_exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise EOFError("peer closed the socket")
        got += k
    return buf


def recv_frame(sock: socket.socket) -> tuple[dict[str, Any], bytearray]:
    head_len, payload_len = _HEAD.unpack(_recv_exact(sock, _HEAD.size))
    header: dict[str, Any] = json.loads(_recv_exact(sock, head_len))
    return header, _recv_exact(sock, payload_len)


def parse_frame(buf: bytearray) -> dict[str, Any] | None:
    """The header of a complete frame at the start of buf (replies carry no payload), or None."""
    head_len, payload_len = _HEAD.unpack_from(buf) if len(buf) >= _HEAD.size else (1 << 30, 0)
    done = len(buf) >= _HEAD.size + head_len + payload_len
    header: dict[str, Any] | None = (
        json.loads(buf[_HEAD.size : _HEAD.size + head_len]) if done else None
    )
    return header


# --- kernel calls through ctypes (Python 3.11 has no os.unshare, no mount) ---
def _call(name: str, *args: Any) -> None:
    if _libc is None or getattr(_libc, name)(*args) != 0:
        err = ctypes.get_errno() if _libc is not None else 38
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _unshare(flag: int) -> bool:
    try:
        _call("unshare", ctypes.c_int(flag))
    except OSError:
        return False
    return True


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    _call("mount", enc(src), target.encode(), enc(fstype), ctypes.c_ulong(flags), enc(data or None))


def _prctl(option: int, value: int) -> None:
    _call("prctl", ctypes.c_int(option), ctypes.c_ulong(value), 0, 0, 0)


def _readonly(path: str, recursive: bool) -> bool:
    attr = ctypes.create_string_buffer(struct.pack("4Q", MOUNT_ATTR_RDONLY, 0, 0, 0))  # set, clr..
    rec = ctypes.c_uint(AT_RECURSIVE if recursive else 0)
    try:
        args = (ctypes.c_int(AT_FDCWD), path.encode(), rec, attr, ctypes.c_size_t(32))
        _call("syscall", ctypes.c_long(SYS_MOUNT_SETATTR), *args)
        return True
    except OSError:
        pass
    # Kernels before 5.12: remount each mount bind-read-only, keeping its flags (a user
    # namespace may not drop the locked ones).
    points = [path]
    if recursive:
        with open("/proc/self/mountinfo") as info:
            mounts = [re.sub(r"\\(\d{3})", lambda m: chr(int(m[1], 8)), s.split()[4]) for s in info]
        points = [p for p in mounts if p == path or p.startswith(path.rstrip("/") + "/")]
    ok = True
    for point in points:
        f = os.statvfs(point).f_flag
        keep = f & (MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048)  # + NOATIME, NODIRATIME
        keep |= MS_RELATIME if f & os.ST_RELATIME else 0
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
        except OSError:
            ok = False
    return ok


# --- start: namespaces and the filesystem the runs see ---
def _isolate(cfg: dict[str, Any]) -> dict[str, Any]:
    iso: dict[str, Any] = dict.fromkeys(FLAGS, False)
    if not cfg["namespaces"] or _libc is None or not LINUX:
        return iso
    if os.geteuid() != 0:
        uid, gid = os.geteuid(), os.getegid()
        if not _unshare(CLONE_NEWUSER):
            return iso
        maps = {"setgroups": "deny", "uid_map": f"0 {uid} 1", "gid_map": f"0 {gid} 1"}
        for name, text in maps.items():
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        iso["user_namespace"] = True
    iso["network_namespace"] = _unshare(CLONE_NEWNET)
    iso["mount_namespace"] = _unshare(CLONE_NEWNS)
    _unshare(CLONE_NEWIPC)  # SysV shared memory and queues a run makes stay in here
    iso["pid_namespace"] = _unshare(CLONE_NEWPID)
    return iso


def _python_dirs() -> list[str]:
    """The interpreter's install trees: a child still imports stdlib modules lazily."""
    dirs = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.base_exec_prefix)}
    dirs.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(d for d in dirs if not any(d.startswith(o + "/") for o in dirs))


def _blocker(path: str, covered: set[str], other_user: bool) -> str | None:
    """The first ancestor (or path itself) that hides `path` from the child, if any."""
    cur = ""
    for part in path.split("/")[1:]:
        cur += "/" + part
        if cur in covered or (other_user and not os.stat(cur).st_mode & 0o001):
            return cur
    return None


def _setup_mounts(cfg: dict[str, Any], iso: dict[str, Any], other_user: bool) -> list[str]:
    try:  # nothing may propagate back to the host: never mount before this succeeded
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
    except OSError:
        iso["mount_namespace"] = False
        return []
    pydirs = {d: os.open(d, os.O_PATH | os.O_DIRECTORY) for d in _python_dirs()}
    iso["readonly_fs"] = _readonly("/", recursive=True)
    scratch = [d for d in SCRATCH if os.path.isdir(d) and not os.path.islink(d)]
    for d in scratch:  # /tmp holds the run dirs and files; the others stay small
        size = 512 if d == "/tmp" else 64
        _mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}m")
    covers = []
    for hide in cfg["hide"]:
        real = os.path.realpath(hide)
        if os.path.isdir(real):
            _mount("tmpfs", real, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m")
            covers.append(real)
        elif os.path.exists(real):
            _mount("/dev/null", real, None, MS_BIND)
    covered = set(scratch) | set(covers)
    for d, fd in pydirs.items():  # re-expose Python under a hidden or 0700 ancestor (/root)
        top = _blocker(d, covered, other_user)
        if top is not None and top not in covered:
            _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
            covered.add(top)
            covers.append(top)
        if top is not None:
            os.makedirs(d, 0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", d, None, MS_BIND | MS_REC)  # read-only like its source
        os.close(fd)
    iso["hidden_paths"] = all([_readonly(c, recursive=False) for c in covers])
    try:  # a /proc of this PID namespace only; without one, no /proc at all
        if not iso["pid_namespace"]:
            raise OSError("no PID namespace")
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        iso["fresh_proc"] = True
    except OSError:
        _mount("tmpfs", "/proc", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k")
    return scratch


# --- signals sent to this process ---
def _take_signals() -> list[int]:
    """The shielded signals pending here, consumed; only those a run can have sent: not from
    outside our PID namespace (si_pid 0), our parent (the grader) or this process."""
    pending = signal.sigpending()
    if not pending or not hasattr(signal, "sigtimedwait"):  # macOS: no sender to tell apart
        return sorted(signal.sigwait({sig}) for sig in pending)
    sent, others = set(), (0, os.getppid(), os.getpid())  # the kernel's own (SIGPIPE): ours
    while (info := signal.sigtimedwait(SHIELDED, 0)) is not None:
        if info.si_pid not in others:
            sent.add(info.si_signo)
    return sorted(sent)


# --- one run ---
def rlimits(lim: dict[str, Any], nproc: bool) -> list[int]:
    """(resource, soft, hard) triples, flattened."""
    mib, cpu = 1 << 20, max(1, math.ceil(lim["cpu_s"]))
    flat = [
        *(resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU first, SIGKILL a second later
        *(resource.RLIMIT_AS, lim["memory_mb"] * mib, lim["memory_mb"] * mib),
        *(resource.RLIMIT_FSIZE, lim["file_mb"] * mib, lim["file_mb"] * mib),
        *(resource.RLIMIT_NOFILE, lim["open_files"], lim["open_files"]),
        *(resource.RLIMIT_CORE, 0, 0),
    ]
    if nproc:  # counts every process of the user: only meaningful for a user of our own
        flat += [resource.RLIMIT_NPROC, lim["processes"], lim["processes"]]
    return flat


def _set_rlimits(flat: list[int]) -> None:
    for i in range(0, len(flat), 3):
        try:
            resource.setrlimit(flat[i], (flat[i + 1], flat[i + 2]))
        except (OSError, ValueError):
            if LINUX:
                raise  # elsewhere (macOS RLIMIT_AS) a limit may simply not exist


def _drop_caps() -> None:
    """Root of our user namespace keeps no capability, so it cannot undo the mounts."""
    header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))  # version 3, self
    _call("capset", header, ctypes.create_string_buffer(24))  # all sets empty


def _fresh_signals() -> None:
    """Signals as `python -I` sets them up from a clean start: nothing blocked, SIGINT raising
    KeyboardInterrupt, SIGPIPE and SIGXFSZ ignored, the rest default. Not as the grader got
    them: one started in the background (cron, CI, `cmd &`) ignores SIGINT, and a run must not
    behave differently for it."""
    for sig in SHIELDED:
        with contextlib.suppress(OSError, ValueError):  # real-time and reserved ones
            signal.signal(sig, _FRESH.get(sig, signal.SIG_DFL))
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


_FRESH: dict[int, Any] = {
    signal.SIGINT: signal.default_int_handler,
    signal.SIGPIPE: signal.SIG_IGN,
    **({signal.SIGXFSZ: signal.SIG_IGN} if hasattr(signal, "SIGXFSZ") else {}),
}


def _become_main(run_dir: str) -> None:
    """What `python -I main.py` looks like from inside, minus the startup. (The std streams
    need nothing: the zygote's are pipes nobody used, which CPython built at its startup.)"""
    os.chdir(run_dir)
    if os.environ.get("HOME") != run_dir:  # the rest of the environment is ENV already
        os.environ["HOME"] = run_dir
    sys.path.insert(0, run_dir)
    sys.argv, sys.orig_argv = ["main.py"], [sys.executable, "main.py"]
    sys.dont_write_bytecode = True  # its cwd is wiped after the run anyway
    atexit._clear()  # the zygote's own exit hooks are not the run's


def _exec_main(source: bytes, run_dir: str) -> int:
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=os.path.join(run_dir, "main.py"), __builtins__=builtins)
    sys.modules["__main__"] = main
    try:
        exec(compile(source, "main.py", "exec"), main.__dict__)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if not isinstance(exc.code, int | None):
            sys.stderr.write(f"{exc.code}\n")
    except BaseException as exc:  # the program's own error, printed as Python would
        code = 1
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # not this frame
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
    # Interpreter shutdown, in CPython's order: non-daemon threads, atexit, flush.
    for hook in (getattr(sys.modules.get("threading"), "_shutdown", None), atexit._run_exitfuncs):
        with contextlib.suppress(BaseException):
            if hook is not None:
                hook()
    for stream, failed in ((sys.stdout, 120), (sys.stderr, code)):
        try:
            stream.flush()
        except BaseException:
            code = failed
    return code


def _child(ctx: dict[str, Any], flat: list[int], run_dir: str, fds: list[int], errw: int,
           source: bytes) -> NoReturn:  # fmt: skip
    """The run's process: every page it writes is a copy, so the zygote did what it could
    beforehand (NO_NEW_PRIVS, warm-ups, the rlimit numbers)."""
    try:
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
        os.closerange(3, errw)  # the control socket, the pipes' other copies, anything else
        os.closerange(errw + 1, ctx["maxfd"])
        os.setsid()
        _set_rlimits(flat)
        if ctx["uid"] is not None:
            os.setgroups([])
            os.setresgid(ctx["uid"], ctx["uid"], ctx["uid"])
            os.setresuid(ctx["uid"], ctx["uid"], ctx["uid"])
        elif ctx["iso"]["user_namespace"]:
            _drop_caps()
        if LINUX and _libc is not None:  # after setresuid, which clears it: dies with us
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _fresh_signals()
        _become_main(run_dir)
    except BaseException as exc:
        os.write(errw, f"{type(exc).__name__}: {exc}".encode()[:500])
        os._exit(1)
    os.close(errw)
    os._exit(_exec_main(source, run_dir))


def _warm_up() -> None:
    """Pay once, here, the first-use costs every child would pay again (2 ms for compile)."""
    code = b"import sys\nx = [int(t) for t in '1 2'.split()]\nprint(sum(x), end='')"
    exec(compile(code, "warm-up", "exec"), {"print": lambda *a, **k: None})


# --- after a run: nothing of it may remain ---
def _reap() -> bool:
    """Reap exited children; True while some are still alive."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _children(proc: int | None) -> list[int]:
    """Our live children, read from /proc as it was before it was hidden (`proc`, a dirfd)."""
    me, kids = str(os.getpid()), []
    for entry in os.listdir(proc) if proc is not None else []:
        try:
            with open(os.open(f"{entry}/stat", os.O_RDONLY, dir_fd=proc)) as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if ppid == me and state != "Z":
            kids.append(int(entry))
    return kids


def _kill_rest(ctx: dict[str, Any], pid: int | None) -> bool:
    """SIGKILL everything the run left; True when nothing is left."""
    if os.getpid() == 1:  # init of our PID namespace: kill(-1) reaches all of it but us
        for _ in range(1000):
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
            if not _reap():
                return True
            time.sleep(0.002)
        return False
    if pid is not None:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    for _ in range(1000):  # orphans come back to us (a subreaper): kill them level by level
        kids = _children(ctx["proc"])
        for kid in kids:
            with contextlib.suppress(OSError):
                os.kill(kid, signal.SIGKILL)
        if not _reap() and not kids:
            return True
        time.sleep(0.002)
    return False


def _wait(sock: socket.socket, pid: int, deadline: float) -> tuple[int, Any, str | None]:
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    killed = None
    try:
        while True:
            if pidfd is None and (done := os.wait4(pid, os.WNOHANG))[0]:
                return done[1], done[2], None
            left = deadline - time.monotonic()
            if left <= 0:
                killed = "wall"
                break
            fds = [sock.fileno()] if pidfd is None else [sock.fileno(), pidfd]
            ready = select.select(fds, [], [], left if pidfd is not None else min(left, 0.005))[0]
            if pidfd is not None and pidfd in ready:
                break
            if sock.fileno() in ready and (byte := sock.recv(1)) in (b"K", b""):
                killed = "output" if byte else "parent"
                break
    finally:
        if pidfd is not None:
            os.close(pidfd)
    if killed:
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    return status, usage, killed


def _write_files(run_dir: str, header: dict[str, Any], blob: bytearray, uid: int | None) -> None:
    view, off = memoryview(blob), 0
    for name, size in [["main.py", header["source"]], *header["files"]]:
        parts = name.split("/")
        if name.startswith("/") or ".." in parts:
            raise ValueError(f"bad file name {name!r}")
        for i in range(1, len(parts)):  # its folders, which the child may write in
            with contextlib.suppress(FileExistsError):
                os.mkdir(os.path.join(run_dir, *parts[:i]), 0o755)
                if uid is not None:
                    os.chown(os.path.join(run_dir, *parts[:i]), uid, uid)
        fd = os.open(os.path.join(run_dir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with open(fd, "wb") as f:
            f.write(view[off : off + size])
        off += size


def _remove(path: str, keep: frozenset[str] = frozenset()) -> None:
    """rm -r of what is inside `path`, sparing `keep`."""
    with contextlib.suppress(OSError, RecursionError), os.scandir(path) as entries:
        for entry in entries:
            if entry.path not in keep:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        _remove(entry.path)
                        os.rmdir(entry.path)
                    else:
                        os.unlink(entry.path)


def _run(ctx: dict[str, Any], sock: socket.socket, header: dict[str, Any], blob: bytearray,
         fds: list[int], run_dir: str) -> dict[str, Any]:  # fmt: skip
    lim, uid = header["limits"], ctx["uid"]
    os.mkdir(run_dir, 0o700)
    flat = rlimits(lim, nproc=uid is not None or ctx["iso"]["user_namespace"])
    pid, clean = None, False
    errr, errw = os.pipe()
    try:
        if uid is not None:
            os.chown(run_dir, uid, uid)
        _write_files(run_dir, header, blob, uid)
        _take_signals()  # not this run's
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(ctx, flat, run_dir, fds, errw, bytes(blob[: header["source"]]))
        for fd in [*fds, errw]:  # the parent must see EOF once the run's processes are gone
            os.close(fd)
        fds.clear()
        errw = -1
        blob[:] = bytes(len(blob))  # the next run's fork must not find this run's inputs
        status, usage, killed = _wait(sock, pid, start + lim["wall_s"])
        wall = time.monotonic() - start
        clean = _kill_rest(ctx, pid)
        signalled = _take_signals()
        os.set_blocking(errr, False)
        setup_error = os.read(errr, 1000).decode(errors="replace")
    finally:
        if pid is not None and not clean:
            _kill_rest(ctx, pid)
        for fd in [errr, errw, *fds]:
            if fd != -1:
                os.close(fd)
    return {
        "exitcode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "killed": killed,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_kb": usage.ru_maxrss // (1024 if sys.platform == "darwin" else 1),
        "setup_error": setup_error or None,
        "leftovers": not clean,
        "signalled": signalled,
    }


def _serve(sock: socket.socket, ctx: dict[str, Any]) -> None:
    while True:
        data, fds, _, _ = socket.recv_fds(sock, 1, 3)
        if not data:
            return
        if data != b"R" or len(fds) != 3:  # a b"K" that came after its run ended
            for fd in fds:
                os.close(fd)
            continue
        header, blob = recv_frame(sock)
        run_dir = "/tmp/run" if ctx["scratch"] else f"/tmp/distill-sandbox-{os.urandom(8).hex()}"
        try:
            reply = _run(ctx, sock, header, blob, fds, run_dir)
        except Exception as exc:  # fork failed, disk full: the parent's sandbox_error
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            send_frame(sock, reply)
        finally:  # while the parent reads the reply; whatever the run wrote anywhere goes
            for d in ctx["scratch"] or [run_dir]:
                _remove(d, ctx["keep"])
            with contextlib.suppress(OSError):
                os.rmdir(run_dir)


def _once(limits: dict[str, Any], report: int) -> NoReturn:
    """The fallback's run, as a child of this process (Popen made its session): a run that
    signals its parent reaches this shielded process, not the grader. Its exit status is
    passed on as ours; the signals it sent us go to the grader on `report`."""
    _set_rlimits(rlimits(limits, nproc=False))
    pid = os.fork()
    if pid == 0:
        os.close(report)
        if LINUX and _libc is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _fresh_signals()
        _become_main(os.getcwd())
        with open("main.py", "rb") as f:
            os._exit(_exec_main(f.read(), os.getcwd()))
    _, status, usage = os.wait4(pid, 0)
    # The run's own peak memory: ours (and so the grader's wait4 of us) carries the grader's
    # peak across exec, which would make any crash of a run from a big grader look like OOM.
    maxrss = usage.ru_maxrss // (1024 if sys.platform == "darwin" else 1)
    os.write(report, json.dumps({"signalled": _take_signals(), "maxrss_kb": maxrss}).encode())
    if os.WIFSIGNALED(status):  # die of the same signal, so the grader sees what the run did
        sig = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def main(argv: list[str]) -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, SHIELDED)  # before any fork: inherited
    if argv[1] == "--once":
        _once(json.loads(argv[2]), int(argv[3]))
    sock, cfg = socket.socket(fileno=int(argv[1])), json.loads(argv[2])
    os.umask(0o022)
    iso = _isolate(cfg)
    if iso["pid_namespace"]:  # the first child is init of the new namespace: it serves
        if pid := os.fork():
            sock.close()
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) & 0xFF
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # if the outer process dies, so does all this
    proc = None  # /proc as it was, to find a run's orphans once a mount hides it
    with contextlib.suppress(OSError):
        proc = None if iso["pid_namespace"] else os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    other_user = cfg["uid"] is not None and os.geteuid() == 0 and not iso["user_namespace"]
    iso.update(readonly_fs=False, hidden_paths=not cfg["hide"], fresh_proc=False)
    scratch = _setup_mounts(cfg, iso, other_user) if iso["mount_namespace"] else []
    if other_user and not scratch:  # no mount namespace to fix an unreadable interpreter
        other_user = all(_blocker(d, set(), True) is None for d in _python_dirs())
    iso["separate_user"] = other_user
    if _libc is not None and LINUX:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)  # inherited: no setuid binary (su) gives a run root
        if os.getpid() != 1:
            _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a run come back to us to be killed
    pydirs = [(d, s) for d in _python_dirs() for s in scratch if d.startswith(s + "/")]
    keep = frozenset(s + "/" + d[len(s) + 1 :].split("/")[0] for d, s in pydirs)  # not wiped
    uid, maxfd = cfg["uid"] if other_user else None, resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    ctx = dict(iso=iso, uid=uid, proc=proc, scratch=scratch, keep=keep, maxfd=maxfd)
    if scratch:  # every run's cwd and HOME is /tmp/run: nothing to change per child
        os.environ["HOME"] = "/tmp/run"
    _warm_up()
    gc.freeze()  # children do not copy pages just to scan the zygote's objects
    send_frame(sock, {"isolation": iso})
    with contextlib.suppress(EOFError, OSError):
        _serve(sock, ctx)
    _kill_rest(ctx, None)
    return 0
