"""The code grader end to end: real sandboxed processes, every test kind, hacks, failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from distill.grade import code, sandbox
from distill.paths import example_task_files
from distill.records import Sample, Task, read_tasks

EXAMPLES = [t for t in read_tasks(example_task_files()) if t.kind == "code"]


def answer(program: str, tag: str = "python") -> Sample:
    return Sample(
        task_id="t",
        sample_index=0,
        teacher="t",
        request_key="k",
        messages=[],
        status="ok",
        content=f"Here it is.\n\n```{tag}\n{program}\n```\n",
        finish_reason="stop",
    )


def task(tests: dict[str, Any], **meta: Any) -> Task:
    return Task(id="t", kind="code", prompt="p", reference={"tests": tests}, meta=meta)


SUM = task(
    {
        "public": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10\n"}],
        "hidden": [{"input": "-4 4\n", "output": "0\n"}, {"input": "100 1\n", "output": "101\n"}],
    }
)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda t: t.id)
def test_reference_solutions_of_the_examples_pass(example: Task) -> None:
    verdict = code.grade(example, answer(example.reference["solution"]), {})
    assert (verdict.status, verdict.reason) == ("pass", "all_tests_passed"), verdict.details
    assert verdict.details["tests_passed"] == verdict.details["tests_total"] == 5


def test_wrong_answer_reports_the_first_failing_test() -> None:
    verdict = code.grade(SUM, answer("a, b = map(int, input().split())\nprint(a * b)"), {})
    assert (verdict.status, verdict.reason) == ("fail", "wrong_answer")
    failure = verdict.details["first_failure"]
    assert failure["set"] == "public" and failure["index"] == 0 and failure["got"] == "2\n"


def test_an_honest_answer_only_the_hidden_tests_catch_is_suspect_hidden_tests() -> None:
    wrong_for_negatives = "a, b = map(int, input().split())\nprint(abs(a) + b)"
    verdict = code.grade(SUM, answer(wrong_for_negatives), {})
    assert (verdict.status, verdict.reason) == ("suspect", "hidden_tests")
    assert verdict.details["first_failure"]["set"] == "hidden"


def test_a_lookup_table_of_the_public_cases_is_hardcoded_public() -> None:
    special = "s = input()\nprint({'1 2': 3, '5 5': 10}.get(s, 0))"
    verdict = code.grade(SUM, answer(special), {})
    assert (verdict.status, verdict.reason) == ("suspect", "hardcoded_public")
    assert verdict.details["hardcoded_public"] == "public_literals"


PARITY = task(
    {
        "public": [{"input": "2\n", "output": "even\n"}, {"input": "4\n", "output": "even\n"}],
        "hidden": [
            {"input": "3\n", "output": "odd\n"},
            {"input": "8\n", "output": "even\n"},
            {"input": "7\n", "output": "odd\n"},
        ],
    }
)


def test_an_answer_whose_output_is_the_same_for_every_input_is_hardcoded_public() -> None:
    verdict = code.grade(PARITY, answer("input()\nprint('even')"), {})
    assert (verdict.status, verdict.reason) == ("suspect", "hardcoded_public")
    assert verdict.details["hardcoded_public"] == "constant_output"
    honest = "n = int(input())\nprint('even' if n % 2 == 0 or n == 7 else 'odd')"
    verdict = code.grade(PARITY, answer(honest), {})
    assert (verdict.status, verdict.reason) == ("suspect", "hidden_tests")


def test_call_based_lookup_table_and_honest_miss() -> None:
    tests: dict[str, Any] = {
        "fn_name": "sq",
        "public": [{"args": [2], "output": 4}, {"args": [3], "output": 9}],
        "hidden": [{"args": [5], "output": 25}, {"args": [6], "output": 36}],
    }
    table = code.grade(task(tests), answer("def sq(x):\n    return {2: 4, 3: 9}.get(x, 0)"), {})
    assert (table.status, table.reason) == ("suspect", "hardcoded_public")
    constant = code.grade(
        task({**tests, "public": tests["public"][:1] * 2}), answer("def sq(x):\n    return 4"), {}
    )
    assert (constant.status, constant.reason) == ("suspect", "hardcoded_public")
    honest = code.grade(task(tests), answer("def sq(x):\n    return x * x if x < 4 else x + x"), {})
    assert (honest.status, honest.reason) == ("suspect", "hidden_tests")


@pytest.fixture(params=["default", "reachable"])
def grader_sandbox(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The grader's own sandbox, or one whose runs can reach the zygote (same uid, no
    namespaces: what a machine without root or user namespaces gives)."""
    if request.param == "default":
        yield request.param
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox, "_pick_uid", lambda: None)
        box = sandbox.Sandbox(sandbox.Limits(), namespaces=False)
    monkeypatch.setattr(code, "_sandbox", box)
    try:
        yield request.param
    finally:
        box.close()


def test_an_answer_that_signals_the_grader_fails_and_the_next_one_passes(
    grader_sandbox: str,
) -> None:
    for sig in ("SIGINT", "SIGTERM", "SIGSTOP", "SIGKILL"):
        hostile = (
            f"import os, signal\ntry:\n    os.kill(os.getppid(), signal.{sig})\n"
            "except OSError:\n    pass\na, b = map(int, input().split())\nprint(a + b)"
        )
        verdict = code.grade(SUM, answer(hostile), {})
        # Refused (another uid), dropped (init of a PID namespace) or caught by the sandbox:
        # never an error retried every night.
        assert verdict.status != "error", (sig, verdict)
        if verdict.status == "fail" or grader_sandbox == "reachable":
            assert (verdict.status, verdict.reason) == ("fail", "signalled_sandbox"), (sig, verdict)
        honest = code.grade(SUM, answer("a, b = map(int, input().split())\nprint(a + b)"), {})
        assert honest.status == "pass", (sig, honest)


def test_static_signal_on_a_full_pass_is_suspect() -> None:
    program = "import os, sys\na, b = map(int, input().split())\nsys.stdout.write(f'{a+b}\\n')\nsys.stdout.flush()\nos._exit(0)"
    verdict = code.grade(SUM, answer(program), {})
    assert (verdict.status, verdict.reason) == ("suspect", "early_exit")


def test_exit_before_printing_fails() -> None:
    verdict = code.grade(SUM, answer("import os\nos._exit(0)"), {})
    assert (verdict.status, verdict.reason) == ("fail", "wrong_answer")


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        ("while True:\n    pass", "timeout"),
        ("x = bytearray(8 * 1024**3)", "memory_limit"),
        ("raise SystemExit(3)", "runtime_error"),
        ("print(undefined_name)", "runtime_error"),
    ],
)
def test_runaway_or_crashing_programs_fail_with_the_reason(program: str, reason: str) -> None:
    verdict = code.grade(SUM, answer(program), {"wall_s": 2, "cpu_s": 1})
    assert (verdict.status, verdict.reason) == ("fail", reason)


def test_no_code_block_and_other_language() -> None:
    assert (
        code.grade(
            SUM,
            Sample(
                task_id="t",
                sample_index=0,
                teacher="t",
                request_key="k",
                messages=[],
                status="ok",
                content="print(3)",
            ),
            {},
        ).reason
        == "no_code"
    )
    verdict = code.grade(SUM, answer("int main() {}", tag="cpp"), {})
    assert verdict.reason == "no_code" and verdict.details["found_block"] == "cpp"


def test_last_python_block_is_graded() -> None:
    content = "```python\nprint(0)\n```\nBetter:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    sample = Sample(
        task_id="t",
        sample_index=0,
        teacher="t",
        request_key="k",
        messages=[],
        status="ok",
        content=content,
    )
    assert code.grade(SUM, sample, {}).status == "pass"


def test_call_based_tests_and_leetcode_class() -> None:
    tests = {
        "fn_name": "twice",
        "public": [{"args": [2], "output": 4}],
        "hidden": [{"args": [[1, 2]], "output": [1, 2, 1, 2]}],
    }
    assert code.grade(task(tests), answer("def twice(x):\n    return x * 2"), {}).status == "pass"
    leet = "class Solution:\n    def twice(self, x):\n        return x + x"
    assert code.grade(task(tests), answer(leet), {}).status == "pass"
    wrong = code.grade(task(tests), answer("def twice(x):\n    return x"), {})
    assert (wrong.status, wrong.reason) == ("fail", "wrong_answer")


def test_always_equal_object_cannot_pass_a_call_test() -> None:
    tests = {"fn_name": "f", "public": [{"args": [1], "output": 2}]}
    hack = (
        "class A:\n    def __eq__(self, other):\n        return True\n\ndef f(x):\n    return A()"
    )
    verdict = code.grade(task(tests), answer(hack), {})
    assert verdict.status == "fail"  # the result must survive JSON: an object does not


def test_printing_a_fake_result_line_does_not_pass() -> None:
    tests = {"fn_name": "f", "public": [{"args": [1], "output": 2}]}
    fake = "import sys\nprint('0' * 32 + '2')\ndef f(x):\n    return 0"
    assert code.grade(task(tests), answer(fake), {}).status == "fail"


def test_reading_the_callers_frame_finds_no_expected_value() -> None:
    tests = {"fn_name": "f", "public": [{"args": [1], "output": 12345}]}
    snoop = (
        "import sys\ndef f(x):\n    frame = sys._getframe(1)\n"
        "    for v in list(frame.f_locals.values()) + list(frame.f_globals.values()):\n"
        "        if v == 12345:\n            return v\n    return -1"
    )
    assert code.grade(task(tests), answer(snoop), {}).status == "fail"


def test_assert_tests() -> None:
    tests = {"asserts": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]}
    assert code.grade(task(tests), answer("def add(a, b):\n    return a + b"), {}).status == "pass"
    verdict = code.grade(task(tests), answer("def add(a, b):\n    return a - b"), {})
    assert (verdict.status, verdict.reason) == ("fail", "assertion_failed")


def test_float_and_checker_comparison() -> None:
    floats = {
        "public": [{"input": "1 3\n", "output": "0.333333\n"}],
        "compare": {"mode": "float", "rel_tol": 1e-5},
    }
    program = "a, b = map(int, input().split())\nprint(a / b)"
    assert code.grade(task(floats), answer(program), {}).status == "pass"
    checker = (
        "out = open('output.txt').read().split()\nexp = open('expected.txt').read().split()\n"
        "raise SystemExit(0 if sorted(out) == sorted(exp) else 1)"
    )
    any_order = {
        "public": [{"input": "\n", "output": "1 2 3\n"}],
        "compare": {"mode": "checker", "checker": checker},
    }
    assert code.grade(task(any_order), answer("print('3 1 2')"), {}).status == "pass"
    assert code.grade(task(any_order), answer("print('3 1 1')"), {}).reason == "checker_rejected"


def test_unusable_references_are_ungradeable() -> None:
    assert code.grade(task({"public": []}), answer("print(1)"), {}).status == "ungradeable"
    needs_checker = {"public": [{"input": "", "output": "1\n"}], "compare": "checker"}
    assert code.grade(task(needs_checker), answer("print(1)"), {}).reason == "checker_missing"
    bad = Task(id="t", kind="code", prompt="p", reference={"input_output": "{broken"})
    assert code.grade(bad, answer("print(1)"), {}).status == "ungradeable"


def test_apps_input_output_shape() -> None:
    apps = Task(
        id="a",
        kind="code",
        prompt="p",
        reference={
            "input_output": json.dumps({"inputs": ["2\n", "3\n"], "outputs": ["4\n", "9\n"]})
        },
    )
    assert code.grade(apps, answer("n = int(input())\nprint(n * n)"), {}).status == "pass"


def test_verdict_names_the_isolation_it_ran_under() -> None:
    verdict = code.grade(SUM, answer("a, b = map(int, input().split())\nprint(a + b)"), {})
    assert verdict.details["sandbox"].split()[0] in {"zygote", "subprocess"}


def test_isolation_summary_lists_only_what_is_missing() -> None:
    full: dict[str, bool | str] = {
        "network_namespace": True,
        "mount_namespace": True,
        "pid_namespace": True,
        "user_namespace": False,
        "readonly_fs": True,
        "hidden_paths": True,
        "fresh_proc": True,
        "separate_user": True,
        "method": "zygote",
    }
    assert code.isolation_summary(full) == "zygote"
    rootless = {**full, "separate_user": False, "user_namespace": True}
    assert code.isolation_summary(rootless) == "zygote"
    bare: dict[str, bool | str] = {**dict.fromkeys(full, False), "method": "subprocess"}
    summary = code.isolation_summary(bare)
    assert summary.startswith("subprocess without network_namespace, mount_namespace")
    assert "separate_user" in summary and "user_namespace" not in summary
