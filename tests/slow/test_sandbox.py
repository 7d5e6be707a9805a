"""The code sandbox against hostile programs, with real processes.

Each hostile run must be contained (verdict not "ok" where the program misbehaved, or its
effect proven absent), leave no process behind (none of the sandbox's uid, none new under this
test process), and the next run in the same Sandbox must still work. Where a platform cannot
enforce something, the test skips, and only where `isolation` says so.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import distill.grade.sandbox as sandbox_mod
from distill.grade import sandbox_zygote as zygote
from distill.grade.sandbox import Limits, RunResult, Sandbox, run_python
from distill.grade.sandbox_io import Broken, signal_name

ROOT = Path(__file__).resolve().parents[2]
SECRET = "distill-test-secret-" + secrets.token_hex(8)
FAST = Limits(wall_s=3.0, cpu_s=1.0, memory_mb=256)
LINUX = sys.platform.startswith("linux")
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, uid) for every process this test can see (Linux /proc)."""
    table = {}
    for entry in os.listdir("/proc") if LINUX else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                table[int(entry)] = (ppid, os.stat(f"/proc/{entry}").st_uid)
            except (OSError, IndexError, ValueError):
                continue
    return table


def _descendants(pid: int) -> set[int]:
    table, found, frontier = _processes(), set[int](), {pid}
    while frontier:
        frontier = {p for p, (ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


@dataclass
class Env:
    box: Sandbox
    hidden: Path  # in hide_paths: world-readable, so only the mount hides it
    visible: Path  # its world-readable sibling, not hidden: the control
    secret_fd: int  # an inheritable descriptor open in this process
    baseline: set[int]  # this process's descendants with the box idle (its zygote)
    tmp_listing: str  # /tmp as a fresh run sees it: `run`, plus Python re-exposed under /tmp


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    os.environ["DISTILL_TEST_SECRET"] = SECRET
    base = ROOT / "outputs" / f"sandbox-test-{secrets.token_hex(4)}"
    hidden, visible = base / "hidden", base / "visible"
    for d in (hidden, visible):
        d.mkdir(parents=True)
        (d / "answers.txt").write_text(SECRET)
    for p in (base, hidden, visible, hidden / "answers.txt", visible / "answers.txt"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    secret_fd = os.open(visible / "answers.txt", os.O_RDONLY)
    os.set_inheritable(secret_fd, True)
    box = Sandbox(FAST, hide_paths=[str(hidden)])
    assert box.run_python("print(1)").stdout == b"1\n"
    listing = box.run_python("import os\nprint(sorted(os.listdir('/tmp')))").stdout.decode()
    try:
        yield Env(box, hidden, visible, secret_fd, _descendants(os.getpid()), listing.strip())
    finally:
        box.close()
        os.close(secret_fd)
        shutil.rmtree(base)
        del os.environ["DISTILL_TEST_SECRET"]


def _needs(env: Env, *keys: str) -> None:
    missing = [k for k in keys if not env.box.isolation.get(k)]
    if missing:
        pytest.skip(f"this platform's sandbox has no {', '.join(missing)}")


def _assert_contained(env: Env) -> None:
    """Nothing of the last run is alive, and the next run works and sees a clean sandbox."""
    if env.box.uid is not None:
        assert not [p for p, (_, uid) in _processes().items() if uid == env.box.uid]
    if LINUX:
        assert _descendants(os.getpid()) <= env.baseline
    probe = "import os\nprint(input()[::-1])\nprint(sorted(os.listdir('/tmp')))\n"
    probe += (
        "print(sorted({p for p in os.listdir('/proc') if p.isdigit()} - {'1', str(os.getpid())}))"
    )
    after = env.box.run_python(probe, b"abc\n")
    assert after.status == "ok", after
    lines = after.stdout.decode().splitlines()
    assert lines[0] == "cba"
    if env.box.isolation["mount_namespace"]:
        assert lines[1] == env.tmp_listing  # the last run's files are gone
    if env.box.isolation["fresh_proc"]:
        assert lines[2] == "[]"  # no process but the zygote (init) and this probe


def _hostile(env: Env, source: str, stdin: bytes = b"", limits: Limits | None = None) -> RunResult:
    result = env.box.run_python(source, stdin, limits=limits)
    _assert_contained(env)
    return result


FORK_BOMB = (
    "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
)
HOSTILE = {
    "memory_bytearray": ("x = bytearray(10**10)", "memory"),
    "memory_growing_list": ("x = []\nwhile True:\n    x.append([0] * 10**5)", "memory"),
    "loop_python": ("while True:\n    pass", "timeout"),
    "loop_in_regex": ("import re\nre.match(r'(a+)+$', 'a' * 40 + 'b')", "timeout"),
    "loop_in_sum": ("sum(range(10**15))", "timeout"),
    "sleep": ("import time\ntime.sleep(60)", "timeout"),
    "stdout_flood": ("while True:\n    print('x' * 1000)", "output_limit"),
    "stderr_flood": ("import sys\nwhile True:\n    sys.stderr.write('x' * 1000)", "output_limit"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_is_stopped(env: Env, name: str) -> None:
    source, status = HOSTILE[name]
    result = _hostile(env, source)
    assert result.status == status, result
    assert result.wall_s < FAST.wall_s + 1
    if status == "output_limit":
        assert len(result.stdout) <= FAST.output_bytes and len(result.stderr) <= 64 << 10


def test_fork_bomb(env: Env) -> None:
    if not (env.box.isolation["separate_user"] or env.box.isolation["user_namespace"]):
        pytest.skip("no per-run process limit on this platform: a fork bomb would hit the host")
    result = _hostile(env, FORK_BOMB)
    assert result.status == "timeout", result


def test_setsid_daemon_and_orphans_do_not_survive(env: Env) -> None:
    _needs(env, "pid_namespace")
    daemon = """import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            with open('/tmp/marker', 'a') as f:
                f.write('x')
            time.sleep(0.1)
    os._exit(0)
if os.fork() == 0:
    time.sleep(60)
time.sleep(0.3)
print('main done')
"""
    result = _hostile(env, daemon)
    assert result.status == "ok" and result.stdout == b"main done\n", result


def test_killing_the_parent_fails(env: Env) -> None:
    _needs(env, "pid_namespace")
    me = os.getpid()
    for source, status in (
        ("import os\nos.kill(os.getppid(), 9)", "exit"),  # PermissionError
        ("import os\nos.kill(1, 9)", "exit"),
        (f"import os\nos.kill({me}, 9)", "exit"),  # no such process in its namespace
        ("import os\nos.killpg(os.getpgid(0), 9)", "signal"),  # only its own group
        ("import os\nos.kill(-1, 9)", "exit"),  # none but itself, which kill(-1) spares
    ):
        result = _hostile(env, source + "\nprint('survived')")
        assert result.status == status, (source, result)
    assert os.getpid() == me  # and this process is still here to say so


def test_writing_outside_the_cwd_leaves_nothing(env: Env) -> None:
    _needs(env, "readonly_fs", "mount_namespace")
    tag = secrets.token_hex(6)
    targets = [f"/tmp/distill-escape-{tag}", f"/var/tmp/distill-escape-{tag}",
               f"/dev/shm/distill-escape-{tag}", f"/root/distill-escape-{tag}",
               str(env.visible / f"escape-{tag}"), str(env.hidden / f"escape-{tag}"),
               str(ROOT / f"escape-{tag}")]  # fmt: skip
    if os.path.isdir("/run/lock"):
        targets.append(f"/run/lock/distill-escape-{tag}")
    source = f"""for path in {targets!r}:
    try:
        with open(path, 'w') as f:
            f.write('x')
        print('wrote', path)
    except OSError as exc:
        print('refused', path, exc.errno)
"""
    result = _hostile(env, source)
    assert result.status == "ok", result
    assert not [t for t in targets if os.path.exists(t)]


def test_environment_and_proc_hold_no_secret(env: Env) -> None:
    _needs(env, "fresh_proc")
    source = f"""import os
print(dict(os.environ))
for pid in [str(os.getppid()), '1', '{os.getpid()}', 'self', *os.listdir('/proc')]:
    for name in ('environ', 'cmdline'):
        try:
            with open(f'/proc/{{pid}}/{{name}}', 'rb') as f:
                print(pid, name, f.read())
        except OSError as exc:
            print(pid, name, 'refused', exc.errno)
"""
    result = _hostile(env, source)
    assert result.status == "ok", result
    assert b"PATH" in result.stdout  # it did print its environment
    assert SECRET.encode() not in result.stdout + result.stderr
    assert b"DISTILL_TEST_SECRET" not in result.stdout + result.stderr


def test_no_network_even_to_localhost(env: Env) -> None:
    _needs(env, "network_namespace")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(1.5)
    port, accepted = server.getsockname()[1], []
    thread = threading.Thread(target=lambda: accepted.append(_accept(server)))
    thread.start()
    source = f"""import socket
for host in ('127.0.0.1', 'localhost', '::1'):
    try:
        socket.create_connection((host, {port}), timeout=1).sendall(b'{SECRET}')
        print('connected', host)
    except OSError as exc:
        print('failed', host, exc.errno)
"""
    result = _hostile(env, source)
    thread.join()
    server.close()
    assert b"connected" not in result.stdout and result.stdout.count(b"failed") == 3, result
    assert accepted == [None]


def _accept(server: socket.socket) -> str | None:
    try:
        conn, addr = server.accept()
    except OSError:
        return None
    conn.close()
    return str(addr)


def test_hidden_paths_are_empty_and_read_only(env: Env) -> None:
    _needs(env, "hidden_paths", "mount_namespace")
    source = f"""import os
try:
    print(open({str(env.visible / "answers.txt")!r}).read())
except OSError as exc:
    print('refused', exc.errno)
print(os.listdir({str(env.hidden)!r}) if os.path.isdir({str(env.hidden)!r}) else [])
try:
    print(open({str(env.hidden / "answers.txt")!r}).read())
except OSError as exc:
    print('refused', exc.errno)
"""
    result = _hostile(env, source)
    lines = result.stdout.decode().splitlines()
    # The control: the same file outside hide_paths is readable, unless the checkout lies under
    # a scratch directory (/tmp), which every run sees as a fresh empty tmpfs.
    under_scratch = any(env.visible.is_relative_to(d) for d in zygote.SCRATCH)
    assert lines[0] == ("refused 2" if under_scratch else SECRET)
    assert lines[1:] == ["[]", "refused 2"], result


def test_inherited_descriptors_are_closed(env: Env) -> None:
    source = """import os
print(sorted(os.listdir('/proc/self/fd')) if os.path.isdir('/proc/self/fd') else 'no proc')
for fd in range(3, 51):
    try:
        print(fd, os.read(fd, 100))
    except OSError:
        pass
"""
    result = _hostile(env, source)
    assert result.status == "ok", result
    assert SECRET.encode() not in result.stdout
    if env.box.isolation["fresh_proc"]:
        assert result.stdout.splitlines()[0] == b"['0', '1', '2', '3']"  # 3: the listing's own


def test_exit_before_printing_is_ok_and_empty(env: Env) -> None:
    for source in ("import os\nos._exit(0)", "import os\nprint('lost in the buffer')\nos._exit(0)"):
        result = _hostile(env, source)
        assert (result.status, result.stdout) == ("ok", b""), result


# --- what a program may do ---
def test_stdin_and_stdout_round_trip_exactly(env: Env) -> None:
    data = bytes(range(256)) * 1200  # 300 KiB, every byte value, more than a pipe holds
    echo = "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())"
    result = env.box.run_python(echo, data)
    assert (result.status, result.returncode, result.stdout) == ("ok", 0, data)
    text = env.box.run_python("print(sum(map(int, input().split())))", b"1 2 3\n")
    assert (text.status, text.stdout, text.stderr) == ("ok", b"6\n", b"")
    unicode = env.box.run_python("print(input().upper())", "ñandú ✓\n".encode())
    assert unicode.stdout == "ÑANDÚ ✓\n".encode()


def test_files_are_in_a_fresh_cwd(env: Env) -> None:
    files = {"data/in.txt": b"41\n", "helper.py": b"def inc(x):\n    return x + 1\n"}
    source = """import os, helper
print(helper.inc(int(open('data/in.txt').read())))
print(sorted(os.listdir('.')), os.getcwd() == os.environ['HOME'], __name__, __file__)
open('scratch.txt', 'w').write('mine')
"""
    result = env.box.run_python(source, files=files)
    assert result.status == "ok", result
    first, second = result.stdout.decode().splitlines()
    assert first == "42"
    assert second.startswith("['data', 'helper.py', 'main.py'] True __main__ ")
    again = env.box.run_python("import os\nprint(sorted(os.listdir('.')))")
    assert again.stdout == b"['main.py']\n"  # nothing of the last run's files


def test_errors_and_exit_codes(env: Env) -> None:
    boom = env.box.run_python("def f():\n    raise ValueError('boom')\nf()")
    assert (boom.status, boom.returncode) == ("exit", 1)
    assert b'File "main.py", line 3' in boom.stderr and b"sandbox_zygote" not in boom.stderr
    assert boom.detail == "exit code 1: ValueError: boom"
    code = env.box.run_python("import sys\nprint('out')\nsys.exit(3)")
    assert (code.status, code.returncode, code.stdout) == ("exit", 3, b"out\n")
    message = env.box.run_python("raise SystemExit('bye')")
    assert (message.returncode, message.stderr) == (1, b"bye\n")
    syntax = env.box.run_python("def f(:\n")
    assert syntax.status == "exit" and b"SyntaxError" in syntax.stderr
    assert env.box.run_python("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)").status == (
        "signal"
    )


def test_per_run_limits(env: Env) -> None:
    started = time.monotonic()
    result = env.box.run_python("import time\ntime.sleep(10)", limits=Limits(wall_s=0.5))
    assert result.status == "timeout" and time.monotonic() - started < 2, result
    assert result.detail == "wall clock 0.5 s exceeded"
    small = env.box.run_python("print('x' * 100)", limits=Limits(output_bytes=50))
    assert small.status == "output_limit" and len(small.stdout) == 50


def test_isolation_on_this_machine(env: Env) -> None:
    iso = env.box.isolation
    assert iso["method"] == "zygote"
    if LINUX and os.geteuid() == 0:  # root on Linux gets all of it (CI included)
        for key in ("network_namespace", "pid_namespace", "mount_namespace", "separate_user",
                    "readonly_fs", "hidden_paths", "fresh_proc"):  # fmt: skip
            assert iso[key] is True, key
        assert env.box.uid is not None and env.box.uid >= 60000
        who = env.box.run_python("import os\nprint(os.getuid(), os.getgid(), os.getgroups())")
        assert who.stdout == f"{env.box.uid} {env.box.uid} []\n".encode()


def test_two_sandboxes_and_one_shot(env: Env) -> None:
    with Sandbox(FAST) as other:
        assert other.uid is None or other.uid != env.box.uid
        a = other.run_python("print(input())", b"a\n")
        b = env.box.run_python("print(input())", b"b\n")
        assert (a.stdout, b.stdout) == (b"a\n", b"b\n")
    one = run_python("print(input() * 2)", b"ab\n", limits=FAST)
    assert (one.status, one.stdout) == ("ok", b"abab\n")
    _assert_contained(env)


def test_bad_file_names_are_the_callers_error(env: Env) -> None:
    for name in ("/etc/x", "../x", "a/../../x", "main.py", ""):
        with pytest.raises(ValueError):
            env.box.run_python("pass", files={name: b""})


# --- the sandbox itself failing ---
def test_zygote_death_is_sandbox_error_then_recovers() -> None:
    with Sandbox(FAST) as box:
        zygote = box._zygote
        assert zygote is not None
        threading.Timer(0.5, zygote.proc.kill).start()
        result = box.run_python("import time\ntime.sleep(2)\nprint('done')")
        # Where a run can reach its zygote, a zygote killed during a run is that run's doing.
        status = "signalled_sandbox" if box.reachable else "sandbox_error"
        assert result.status == status and result.returncode is None, result
        assert box.run_python("print(7)").stdout == b"7\n"


def test_missing_interpreter_is_sandbox_error_not_an_exception() -> None:
    with Sandbox(FAST, python="/nonexistent/python3") as box:
        assert box.isolation["method"] == "subprocess"
        result = box.run_python("print(1)")
        assert result.status == "sandbox_error" and "cannot start" in result.detail


def test_subprocess_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_TEST_SECRET", SECRET)

    def no_zygote(*args: object) -> None:
        raise Broken("no zygote in this test")

    monkeypatch.setattr(sandbox_mod, "_Zygote", no_zygote)
    with Sandbox(FAST) as box:
        assert box.isolation["method"] == "subprocess" and not box.isolation["network_namespace"]
        ok = box.run_python("import os\nprint(input(), sorted(os.listdir('.')))", b"hi\n")
        assert (ok.status, ok.stdout) == ("ok", b"hi ['main.py']\n"), ok
        assert box.run_python("while True:\n    pass").status == "timeout"
        assert box.run_python("x = bytearray(10**10)").status == "memory"
        assert box.run_python("while True:\n    print('x' * 1000)").status == "output_limit"
        leak = box.run_python("import os\nprint(os.environ.get('DISTILL_TEST_SECRET', '-'))")
        assert leak.stdout == b"-\n"


def test_a_sandbox_inherited_through_fork_starts_its_own_zygote(env: Env) -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked worker: must not talk to its parent's zygote
        try:
            result = env.box.run_python("print(input())", b"child\n")
            os.write(write, result.stdout)
            env.box.close()
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 100) == b"child\n"
    os.close(read)
    os.waitpid(pid, 0)
    assert env.box.run_python("print(input())", b"parent\n").stdout == b"parent\n"


# --- signals a run sends to the sandbox that runs it ---
# Every mode a platform may give: runs as a uid of their own (root), as the zygote's own uid in
# a PID namespace (what a user namespace gives a non-root user), and as the zygote's own uid
# with no namespace at all (where user namespaces are refused), in which a run can reach it.
MODES = ("own_uid", "same_uid", "no_namespaces")
# Every signal a run can send but the harmless ones (SIGCHLD, SIGCONT, SIGURG, SIGWINCH), and
# SIGKILL and SIGSTOP, which nothing can ignore: tested apart.
HARMLESS = {signal.SIGCHLD, signal.SIGCONT, signal.SIGURG, signal.SIGWINCH}
CATCHABLE = sorted(signal.valid_signals() - HARMLESS - {signal.SIGKILL, signal.SIGSTOP})
HONEST = ("print(int(input()) * 2)", b"21\n", b"42\n")


@pytest.fixture(scope="module", params=MODES)
def mode_box(request: pytest.FixtureRequest, env: Env) -> Iterator[Sandbox]:
    if request.param == "own_uid":
        if env.box.uid is None:
            pytest.skip("runs have no uid of their own on this platform (not root)")
        yield env.box
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox_mod, "_pick_uid", lambda: None)  # runs keep the zygote's uid
        box = Sandbox(FAST, namespaces=request.param == "same_uid")
    try:
        if request.param == "same_uid" and not box.isolation["pid_namespace"]:
            pytest.skip("no PID namespace on this platform")
        yield box
    finally:
        box.close()


def _can_reach_zygote(box: Sandbox) -> bool:
    """Whether a run can signal its zygote at all: same uid, no PID namespace around it."""
    return box.uid is None and not box.isolation["pid_namespace"]


def _honest_still_passes(box: Sandbox) -> None:
    source, stdin, stdout = HONEST
    result = box.run_python(source, stdin)
    assert (result.status, result.stdout) == ("ok", stdout), result


def _expected(box: Sandbox) -> str:
    """A run that signals its parent: refused as another uid, else caught by the zygote."""
    return "exit" if box.uid is not None else "signalled_sandbox"


@pytest.mark.parametrize("sig", CATCHABLE, ids=lambda s: signal_name(s))
def test_a_signal_to_the_parent_is_shielded(mode_box: Sandbox, sig: int) -> None:
    zygote_before = mode_box._zygote
    source = f"import os, time\nos.kill(os.getppid(), {sig})\ntime.sleep(0.05)\nprint('survived')"
    result = mode_box.run_python(source)
    assert result.status == _expected(mode_box), result
    if result.status == "signalled_sandbox":
        assert signal_name(sig) in result.detail
    assert mode_box._zygote is zygote_before  # it kept going: not even a restart
    _honest_still_passes(mode_box)


@pytest.mark.parametrize("sig", [signal.SIGSTOP, signal.SIGKILL], ids=["SIGSTOP", "SIGKILL"])
def test_stopping_or_killing_the_parent_fails_the_run(mode_box: Sandbox, sig: int) -> None:
    source = f"import os, time\nos.kill(os.getppid(), {sig})\ntime.sleep(0.05)\nprint('survived')"
    started = time.monotonic()
    result = mode_box.run_python(source)
    if mode_box.uid is not None:
        assert result.status == "exit", result  # PermissionError
    elif mode_box.isolation["pid_namespace"]:
        assert (result.status, result.stdout) == ("ok", b"survived\n"), result  # init: dropped
    else:  # it stopped or killed the zygote: the grader sees it and fails the run
        assert result.status == "signalled_sandbox", result
        assert signal_name(sig) in result.detail
    assert time.monotonic() - started < FAST.wall_s + 1
    _honest_still_passes(mode_box)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_signalling_the_process_group_reaches_only_the_run(mode_box: Sandbox, sig: int) -> None:
    for target in ("0", "-os.getpgid(0)", "-os.getpgid(os.getppid())"):
        source = f"import os, time\nos.kill({target}, {sig})\ntime.sleep(0.05)\nprint('survived')"
        result = mode_box.run_python(source)
        assert result.status != "sandbox_error", (target, result)
        if target == "-os.getpgid(os.getppid())" and _can_reach_zygote(mode_box):
            assert result.status == "signalled_sandbox", (target, result)  # the zygote's group
        else:  # its own session and group (in a PID namespace the zygote's group reads 0)
            assert result.status in ("signal", "exit"), (target, result)
        _honest_still_passes(mode_box)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGSTOP, signal.SIGKILL])
def test_kill_minus_one_reaches_no_sandbox(mode_box: Sandbox, sig: int) -> None:
    if _can_reach_zygote(mode_box):  # it would reach every process of this user: not run here
        pytest.skip("without a PID namespace or a uid of its own, kill(-1) reaches the host")
    zygote_before = mode_box._zygote
    source = f"import os, time\nos.kill(-1, {sig})\ntime.sleep(0.05)\nprint('survived')"
    result = mode_box.run_python(source)
    assert result.status in ("ok", "exit"), result  # nothing but itself to reach (ESRCH)
    assert mode_box._zygote is zygote_before
    _honest_still_passes(mode_box)


def test_the_fallbacks_run_does_not_have_the_grader_as_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_zygote(*args: object) -> None:
        raise Broken("no zygote in this test")

    monkeypatch.setattr(sandbox_mod, "_Zygote", no_zygote)
    me = os.getpid()
    # Refuse before signalling: were the grader (this test) the parent, it would stop itself.
    guard = f"import os, sys, time\nif os.getppid() == {me}:\n    sys.exit('the grader')\n"
    with Sandbox(FAST) as box:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGSTOP):
            result = box.run_python(guard + f"os.kill(os.getppid(), {sig})\ntime.sleep(0.05)")
            assert result.status == "signalled_sandbox", (sig, result)
            assert signal_name(sig) in result.detail
            _honest_still_passes(box)
        result = box.run_python(guard + "os.kill(0, 15)\ntime.sleep(0.05)")  # its group
        assert result.status in ("signal", "signalled_sandbox"), result
        segv = box.run_python("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
        assert (segv.status, segv.returncode) == ("signal", -signal.SIGSEGV), segv
        assert box.run_python("raise SystemExit(3)").returncode == 3
    assert os.getpid() == me


def test_the_fallback_judges_memory_by_the_run_not_by_a_big_grader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A process's peak memory survives exec: a grader that has grown past the run's limit
    # once made every crash of a fallback run look like `memory`.
    def no_zygote(*args: object) -> None:
        raise Broken("no zygote in this test")

    monkeypatch.setattr(sandbox_mod, "_Zygote", no_zygote)
    ballast = bytearray(FAST.memory_mb << 20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    with Sandbox(FAST) as box:
        segv = box.run_python("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
        assert (segv.status, segv.returncode) == ("signal", -signal.SIGSEGV), segv
        hog = box.run_python("x = bytearray(1 << 30)")
        assert hog.status == "memory", hog
    del ballast


@pytest.mark.parametrize("namespaces", [True, False])
def test_a_run_gets_fresh_signals_however_the_grader_was_started(
    monkeypatch: pytest.MonkeyPatch, namespaces: bool
) -> None:
    # A grader started in the background (cron, CI, `cmd &`) ignores SIGINT, and an ignored
    # disposition survives exec: the run must still see what a fresh `python` sees.
    if not namespaces:
        monkeypatch.setattr(sandbox_mod, "_Zygote", lambda *a: (_ for _ in ()).throw(Broken("no")))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        with Sandbox(FAST) as box:
            probe = (
                "import signal\n"
                "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler,"
                " signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,"
                " signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN,"
                " signal.pthread_sigmask(signal.SIG_BLOCK, []) == set())"
            )
            assert box.run_python(probe).stdout == b"True True True True\n"
            stopped = box.run_python("import os, signal\nos.kill(os.getpid(), signal.SIGINT)")
            assert stopped.status == "exit" and b"KeyboardInterrupt" in stopped.stderr, stopped
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
