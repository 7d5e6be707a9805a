"""Code answers: extract the program, run every test in a fresh sandboxed process, compare.

Options (config `[grade.options.code]`): `languages` (accepted fence tags; default python),
`wall_s`, `memory_mb` (per test), `stop_on_first_failure` (default true; hidden tests still run
after public ones pass, to tell a hack from a solution, and past a failing hidden test while the
answer's output has been the same for every input). Per-task comparison comes from the
reference (`tests.compare`). The expected output never enters the child: stdout, or the
JSON-encoded return value of a call, comes back and is compared here.
"""

from __future__ import annotations

import atexit
import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distill.code_tests import CodeTest, CodeTests, UngradeableReference, parse_tests
from distill.grade.compare import MODES, outputs_match, values_match
from distill.grade.hacks import hardcoded_public, same_output, static_signals
from distill.grade.sandbox import Limits, RunResult, Sandbox
from distill.records import Sample, Task, Verdict

NAME = "code"
VERSION = "2"


def task_inputs(task: Task) -> dict[str, Any]:
    """What grading reads of a task beside its reference (part of the verdict key)."""
    limit = task.meta.get("time_limit_s")
    return {} if limit is None else {"time_limit_s": limit}


_FENCE = re.compile(r"^```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_FAILED_RUN = {
    "timeout": "timeout",
    "memory": "memory_limit",
    "output_limit": "output_limit",
    "signal": "runtime_error",
    "exit": "runtime_error",
    "signalled_sandbox": "signalled_sandbox",  # it signalled the process that runs it
}
_sandbox: Sandbox | None = None
_hide_paths: tuple[str, ...] = ()


def configure_sandbox(hide_paths: Sequence[str]) -> None:
    """Paths the untrusted code must not see (task files, outputs, cache); set per process."""
    global _hide_paths, _sandbox
    _hide_paths = tuple(hide_paths)
    if _sandbox is not None:
        _sandbox.close()
        _sandbox = None


def _get_sandbox() -> Sandbox:
    global _sandbox
    if _sandbox is None:
        _sandbox = Sandbox(Limits(), hide_paths=_hide_paths)
        atexit.register(_sandbox.close)
    return _sandbox


def isolation_summary(isolation: Mapping[str, bool | str]) -> str:
    """One word per run method, plus the protections this machine could not give."""
    # Root gets a uid of its own; others get a user namespace: either one is enough.
    own_user = bool(isolation.get("separate_user")) or bool(isolation.get("user_namespace"))
    skip = {"separate_user", "user_namespace"} if own_user else {"user_namespace"}
    missing = [k for k, v in isolation.items() if v is False and k not in skip]
    method = str(isolation.get("method", "unknown"))
    return method if not missing else f"{method} without {', '.join(missing)}"


def extract_code(content: str, languages: Sequence[str]) -> tuple[str | None, str]:
    """The last fenced block whose tag is an accepted language (or untagged); and its tag."""
    accepted = {lang.lower() for lang in languages} | {""}
    found = [(tag.lower(), body) for tag, body in _FENCE.findall(content)]
    for tag, body in reversed(found):
        if tag in accepted:
            return body, tag or "untagged"
    return None, found[-1][0] if found else ""


@dataclass
class _Outcome:
    ok: bool
    reason: str = ""
    got: str = ""


def grade(task: Task, sample: Sample, options: dict[str, Any]) -> Verdict:
    languages = options.get("languages", ("python", "py", "python3"))
    code, tag = extract_code(sample.content, languages)
    if code is None:
        found = {"found_block": tag} if tag else {}
        return Verdict(NAME, VERSION, "fail", reason="no_code", details=found)
    try:
        suite = parse_tests(task.reference)
    except UngradeableReference as exc:
        return Verdict(NAME, VERSION, "ungradeable", reason="bad_tests", details={"why": str(exc)})
    compare = {"mode": "exact_lines", **suite.compare}
    if compare["mode"] not in MODES:
        return Verdict(NAME, VERSION, "ungradeable", reason="unknown_compare_mode", details=compare)
    if compare["mode"] == "checker" and not compare.get("checker"):
        return Verdict(NAME, VERSION, "ungradeable", reason="checker_missing")
    limits = Limits(
        wall_s=float(options.get("wall_s", task.meta.get("time_limit_s", 2) * 3)),
        cpu_s=float(options.get("cpu_s", task.meta.get("time_limit_s", 2) * 2)),
        memory_mb=int(options.get("memory_mb", 1024)),
    )
    started = time.monotonic()
    details: dict[str, Any] = {
        "language": tag,
        "compare": compare["mode"],
        "tests_total": suite.total,
    }
    passed = 0
    stop = bool(options.get("stop_on_first_failure", True))
    failures: list[dict[str, Any]] = []
    outputs: list[str] = []  # what it printed or returned, while every run gave an output
    runs = 0
    for group, cases in (("public", suite.public), ("hidden", suite.hidden)):
        if failures and stop:
            break
        for index, case in enumerate(cases):
            outcome = _run_case(code, case, suite, compare, limits)
            if outcome is None:
                details["time_s"] = round(time.monotonic() - started, 3)
                return Verdict(NAME, VERSION, "error", reason="sandbox_error", details=details)
            runs += 1
            if case.kind != "assert" and outcome.reason in ("", "wrong_answer"):
                outputs.append(outcome.got)
            if outcome.ok:
                passed += 1
                continue
            failures.append(
                {
                    "set": group,
                    "index": index,
                    "reason": outcome.reason,
                    "expected": _excerpt(case.output),
                    "got": _excerpt(outcome.got),
                }
            )
            if stop and not (group == "hidden" and _constant_so_far(outputs, runs)):
                break
    details.update(
        tests_passed=passed,
        time_s=round(time.monotonic() - started, 3),
        sandbox=isolation_summary(_get_sandbox().isolation),
    )
    if failures:
        details["first_failure"] = failures[0]
        public_ok = all(f["set"] == "hidden" for f in failures)
        if public_ok and suite.hidden:
            gamed = hardcoded_public(code, suite.public, outputs if len(outputs) == runs else [])
            if gamed:
                details["hardcoded_public"] = gamed
            reason = "hardcoded_public" if gamed else "hidden_tests"
            return Verdict(NAME, VERSION, "suspect", score=0.0, reason=reason, details=details)
        return Verdict(
            NAME,
            VERSION,
            "fail",
            score=passed / suite.total,
            reason=failures[0]["reason"],
            details=details,
        )
    signals = static_signals(code, suite.public + suite.hidden)
    if signals:
        details["signals"] = signals
        return Verdict(NAME, VERSION, "suspect", score=1.0, reason=signals[0], details=details)
    return Verdict(NAME, VERSION, "pass", score=1.0, reason="all_tests_passed", details=details)


def _constant_so_far(outputs: list[str], runs: int) -> bool:
    """Every run so far gave the same output: worth the remaining hidden tests to tell."""
    return len(outputs) == runs and same_output(outputs)


def _excerpt(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _run_case(
    code: str, case: CodeTest, suite: CodeTests, compare: dict[str, Any], limits: Limits
) -> _Outcome | None:
    sandbox = _get_sandbox()
    if case.kind == "stdio":
        result = sandbox.run_python(code, case.input.encode(), limits=limits)
        if result.status == "sandbox_error":
            return None
        if result.status != "ok":
            return _run_failed(result)
        got = result.stdout.decode("utf-8", "replace")
        if compare["mode"] == "checker":
            return _check(sandbox, str(compare["checker"]), case, got, limits)
        ok = outputs_match(got, str(case.output), compare)
        return _Outcome(ok, "" if ok else "wrong_answer", got)
    if case.kind == "assert":
        result = sandbox.run_python(code + "\n\n" + str(case.input) + "\n", b"", limits=limits)
        if result.status == "sandbox_error":
            return None
        if result.status != "ok":
            failed = _run_failed(result)
            asserted = result.status == "exit" and b"AssertionError" in result.stderr
            return _Outcome(False, "assertion_failed" if asserted else failed.reason)
        return _Outcome(True)
    return _call(sandbox, code, case, suite, compare, limits)


def _run_failed(result: RunResult) -> _Outcome:
    """A run that did not exit 0: what that means for the answer."""
    stderr_tail = result.stderr[-300:].decode("utf-8", "replace")
    return _Outcome(False, _FAILED_RUN.get(result.status, "runtime_error"), stderr_tail)


# The solution is imported as a module so its globals never hold the driver's state, and the
# result line carries a nonce read from stdin before the solution is imported.
_CALL_DRIVER = """\
import json, os, sys
def _main():
    nonce = sys.stdin.readline().strip()
    args = json.loads(sys.stdin.readline())
    import solution
    target = getattr(solution, {fn!r}, None)
    if target is None and hasattr(solution, "Solution"):
        target = getattr(solution.Solution(), {fn!r})
    result = target(*args)
    line = nonce + json.dumps(result, allow_nan=False) + "\\n"
    os.write(1, line.encode())
_main()
"""


def _call(
    sandbox: Sandbox,
    code: str,
    case: CodeTest,
    suite: CodeTests,
    compare: dict[str, Any],
    limits: Limits,
) -> _Outcome | None:
    nonce = secrets.token_hex(16)
    stdin = f"{nonce}\n{json.dumps(case.input)}\n".encode()
    driver = _CALL_DRIVER.format(fn=suite.fn_name)
    result = sandbox.run_python(driver, stdin, files={"solution.py": code.encode()}, limits=limits)
    if result.status == "sandbox_error":
        return None
    if result.status != "ok":
        return _run_failed(result)
    lines = [
        line
        for line in result.stdout.decode("utf-8", "replace").splitlines()
        if line.startswith(nonce)
    ]
    if len(lines) != 1:
        return _Outcome(False, "no_result")
    try:
        value = json.loads(lines[0][len(nonce) :])
    except json.JSONDecodeError:
        return _Outcome(False, "no_result")
    ok = values_match(value, case.output, compare)
    return _Outcome(ok, "" if ok else "wrong_answer", lines[0][len(nonce) :])


_CHECKER_FILES = ("input.txt", "output.txt", "expected.txt")


def _check(
    sandbox: Sandbox, checker: str, case: CodeTest, got: str, limits: Limits
) -> _Outcome | None:
    """A checker program reads input.txt, output.txt, expected.txt and exits 0 to accept."""
    files = dict(
        zip(
            _CHECKER_FILES,
            (str(case.input).encode(), got.encode(), str(case.output).encode()),
            strict=True,
        )
    )
    result = sandbox.run_python(checker, b"", files=files, limits=limits)
    if result.status == "sandbox_error":
        return None
    if result.status == "ok":
        return _Outcome(True, "", got)
    if result.status == "exit":
        return _Outcome(False, "checker_rejected", got)
    return None  # the checker itself broke: the harness failed, not the answer
