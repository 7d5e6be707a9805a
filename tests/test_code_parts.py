"""Test-suite parsing, output comparison and static hack signals for code answers."""

from __future__ import annotations

import json

import pytest

from distill.code_tests import CodeTest, UngradeableReference, parse_tests
from distill.grade.compare import outputs_match, values_match
from distill.grade.hacks import static_signals


def test_distill_shape_keeps_public_and_hidden_apart() -> None:
    suite = parse_tests(
        {
            "tests": {
                "public": [{"input": "1\n", "output": "2\n"}],
                "hidden": [{"input": "2\n", "output": "3\n"}],
                "compare": "float",
            }
        }
    )
    assert [c.kind for c in suite.public + suite.hidden] == ["stdio", "stdio"]
    assert len(suite.hidden) == 1 and suite.compare == {"mode": "float"}


def test_distill_call_and_assert_shapes() -> None:
    suite = parse_tests(
        {
            "tests": {
                "fn_name": "add",
                "public": [{"args": [1, 2], "output": 3}],
                "asserts": ["assert add(2, 2) == 4"],
            }
        }
    )
    assert suite.public[0] == CodeTest("call", [1, 2], 3)
    assert suite.public[1] == CodeTest("assert", "assert add(2, 2) == 4")


def test_apps_stdio_and_call_based() -> None:
    stdio = parse_tests(
        {"input_output": json.dumps({"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "7\n"]})}
    )
    assert stdio.public == (CodeTest("stdio", "1 2\n", "3\n"),) and len(stdio.hidden) == 1
    call = parse_tests(
        {"input_output": {"fn_name": "f", "inputs": [[1], [2]], "outputs": [[2], [4]]}}
    )
    assert call.fn_name == "f" and call.public[0] == CodeTest("call", [1], 2)


def test_livecodebench_lists_and_compressed_private_tests() -> None:
    public = json.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin"}])
    functional = json.dumps(
        [{"input": "[1, 2]\n3", "output": "[1, 2, 3]", "testtype": "functional"}]
    )
    suite = parse_tests(
        {
            "public_test_cases": public,
            "private_test_cases": functional,
            "metadata": json.dumps({"func_name": "push"}),
        }
    )
    assert suite.hidden[0] == CodeTest("call", [[1, 2], 3], [1, 2, 3])
    with pytest.raises(UngradeableReference, match="--trust-pickle"):
        parse_tests({"public_test_cases": public, "private_test_cases": "eJzLSM3JyQcABiwCFQ=="})


@pytest.mark.parametrize(
    "reference",
    [
        {},
        {"tests": {"public": []}},
        {"tests": "{not json"},
        {"tests": {"public": [{"args": [1], "output": 1}]}},
        {"input_output": {"inputs": ["1"], "outputs": []}},
    ],
)
def test_bad_references_are_ungradeable(reference: dict[str, object]) -> None:
    with pytest.raises(UngradeableReference):
        parse_tests(reference)


@pytest.mark.parametrize(
    ("actual", "expected", "mode", "ok"),
    [
        ("1 2\n3  \n\n", "1 2\n3\n", "exact_lines", True),
        ("1 2\n", "1 2\n3\n", "exact_lines", False),
        ("2 1\n", "1 2\n", "exact_lines", False),  # never an unordered-token match
        ("1 2 3\n", "1 2\n3\n", "exact_lines", False),  # line count must match
        ("YES\n", "yes\n", "case_insensitive", True),
        ("YES\n", "yes\n", "exact_lines", False),
        ("0.3333333\n", "0.33333333\n", "float", True),
        ("0.34\n", "0.33333333\n", "float", False),
        ("x 1.0000001\n", "x 1\n", "float", True),
        ("y 1\n", "x 1\n", "float", False),
    ],
)
def test_output_comparison_modes(actual: str, expected: str, mode: str, ok: bool) -> None:
    assert outputs_match(actual, expected, {"mode": mode}) is ok


def test_call_values_compare_by_type_and_tolerance() -> None:
    assert values_match([1, [2, 3]], [1, [2, 3]], {})
    assert not values_match(True, 1, {})
    assert not values_match("1", 1, {})
    assert values_match(0.1 + 0.2, 0.3, {})
    assert not values_match(0.31, 0.3, {})
    assert not values_match({"a": 1}, {"a": 1, "b": 2}, {})


STDIO = [CodeTest("stdio", "3\n1 2 3\n", "6 expected\n")]


@pytest.mark.parametrize(
    ("code", "signal"),
    [
        ("class A:\n    def __eq__(self, o):\n        return True\n", "eq_override"),
        ("import sys\nf = sys._getframe(1)\n", "frame_inspection"),
        ("import inspect\nx = inspect.stack()\n", "frame_inspection"),
        ("from gc import get_objects\n", "frame_inspection"),
        ("def f(frame):\n    return frame.f_back.f_locals\n", "frame_inspection"),
        ("import os\nprint(1)\nos._exit(0)\n", "early_exit"),
        ("print('6 expected')\n", "hardcoded_outputs"),
        ("s = input()\nif s == '3\\n1 2 3':\n    print(6)\n", "hardcoded_outputs"),
    ],
)
def test_static_hack_signals(code: str, signal: str) -> None:
    assert signal in static_signals(code, STDIO)


def test_honest_code_has_no_signals() -> None:
    code = "n = int(input())\nprint(sum(map(int, input().split())), 'expected')\n"
    assert static_signals(code, STDIO) == []
    assert static_signals("def broken(:\n", STDIO) == []


def test_a_constant_word_output_is_not_a_hardcoded_hack() -> None:
    tests = [CodeTest("stdio", "5\n", "IMPOSSIBLE\n")]
    assert static_signals("if int(input()) > 3:\n    print('IMPOSSIBLE')\n", tests) == []
