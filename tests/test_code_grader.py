"""The code grader end to end: real sandboxed processes, every test kind, hacks, failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from distill.grade import code
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


def test_passing_public_but_failing_hidden_is_suspect() -> None:
    special = "s = input()\nprint({'1 2': 3, '5 5': 10}.get(s, 0))"
    verdict = code.grade(SUM, answer(special), {})
    assert (verdict.status, verdict.reason) == ("suspect", "hidden_tests")


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
    full = {
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
    bare = {**dict.fromkeys(full, False), "method": "subprocess"}
    summary = code.isolation_summary(bare)
    assert summary.startswith("subprocess without network_namespace, mount_namespace")
    assert "separate_user" in summary and "user_namespace" not in summary
