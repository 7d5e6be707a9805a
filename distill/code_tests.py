"""Test suites for code tasks: parsed from every shape we meet into one canonical form, and the
public ones rendered for prompts.

Shapes: distill's own (`tests: {public, hidden, fn_name?, compare?}` with `{input, output}`
entries, `{args, output}` call entries, or `asserts`), APPS/TACO (`input_output`: a JSON string
or object with `inputs`, `outputs`, optional `fn_name`), and LiveCodeBench
(`public_test_cases` / `private_test_cases`: JSON lists of `{input, output, testtype}`; compressed
private tests must be decoded by the importer, with `--trust-pickle`: the grader never unpickles).

Prompts show only public tests, as `assert` statements or numbered examples; hidden tests stay
hidden so that hack detection keeps working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from distill.records import Task


class UngradeableReference(ValueError):
    """The reference cannot be turned into tests; the verdict is `ungradeable`, not `fail`."""


@dataclass(frozen=True)
class CodeTest:
    kind: str  # "stdio" | "call" | "assert"
    input: Any = ""  # stdin text, the call's argument list, or the assert statement
    output: Any = None  # expected stdout text or return value; None for asserts


@dataclass(frozen=True)
class CodeTests:
    public: tuple[CodeTest, ...]
    hidden: tuple[CodeTest, ...] = ()
    fn_name: str | None = None
    compare: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.public) + len(self.hidden)


def parse_tests(reference: dict[str, Any]) -> CodeTests:
    if "tests" in reference:
        return _distill(reference["tests"])
    if "input_output" in reference:
        return _apps(reference["input_output"], reference.get("fn_name"))
    if "public_test_cases" in reference or "private_test_cases" in reference:
        return _livecodebench(reference)
    raise UngradeableReference(
        "no tests in the reference (expected tests, input_output or *_test_cases)"
    )


def _loads(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise UngradeableReference(f"{what} is not valid JSON") from None
    return value


def _case(entry: Any, fn_name: str | None) -> CodeTest:
    if isinstance(entry, str):
        return CodeTest("assert", entry)
    if not isinstance(entry, dict):
        raise UngradeableReference(f"a test must be an object, got {type(entry).__name__}")
    if "assert" in entry:
        return CodeTest("assert", str(entry["assert"]))
    if "args" in entry or (fn_name and "input" in entry and not isinstance(entry["input"], str)):
        args = entry.get("args", entry.get("input"))
        if not isinstance(args, list):
            raise UngradeableReference("call-based test arguments must be a list")
        return CodeTest("call", args, entry.get("output"))
    if "input" in entry and "output" in entry:
        if not isinstance(entry["input"], str) or not isinstance(entry["output"], str):
            raise UngradeableReference("stdin/stdout tests need string input and output")
        return CodeTest("stdio", entry["input"], entry["output"])
    raise UngradeableReference(f"unrecognised test entry with keys {sorted(entry)}")


def _distill(tests: Any) -> CodeTests:
    tests = _loads(tests, "tests")
    if isinstance(tests, list):
        tests = {"public": tests}
    if not isinstance(tests, dict):
        raise UngradeableReference("tests must be an object or a list")
    fn_name = tests.get("fn_name")
    public = [_case(e, fn_name) for e in tests.get("public", [])]
    public += [CodeTest("assert", str(a)) for a in tests.get("asserts", [])]
    hidden = [_case(e, fn_name) for e in tests.get("hidden", [])]
    compare = tests.get("compare") or {}
    if isinstance(compare, str):
        compare = {"mode": compare}
    return _checked(CodeTests(tuple(public), tuple(hidden), fn_name, compare))


def _apps(raw: Any, fn_name: Any) -> CodeTests:
    data = _loads(raw, "input_output")
    if not isinstance(data, dict):
        raise UngradeableReference("input_output must be an object")
    inputs, outputs = data.get("inputs", []), data.get("outputs", [])
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise UngradeableReference("input_output needs inputs and outputs lists of equal length")
    name = data.get("fn_name") or fn_name
    cases = []
    for given, expected in zip(inputs, outputs, strict=True):
        if name:
            args = given if isinstance(given, list) else [given]
            # APPS wraps a call's single return value in a list.
            value = expected[0] if isinstance(expected, list) and len(expected) == 1 else expected
            cases.append(CodeTest("call", args, value))
        else:
            text_in = "\n".join(given) if isinstance(given, list) else str(given)
            text_out = "\n".join(expected) if isinstance(expected, list) else str(expected)
            cases.append(CodeTest("stdio", text_in, text_out))
    # APPS has no public/hidden split: the first test stands in for the problem's example.
    return _checked(CodeTests(tuple(cases[:1]), tuple(cases[1:]), name, {}))


def _livecodebench(reference: dict[str, Any]) -> CodeTests:
    meta = _loads(reference.get("metadata") or {}, "metadata")
    fn_name = meta.get("func_name") if isinstance(meta, dict) else None

    def cases(key: str) -> tuple[CodeTest, ...]:
        raw = reference.get(key) or []
        if isinstance(raw, str) and raw and not raw.lstrip().startswith("["):
            raise UngradeableReference(
                f"{key} is compressed; import the task with --trust-pickle to decode it"
            )
        entries = _loads(raw, key)
        out = []
        for entry in entries:
            if entry.get("testtype") == "functional":
                args = [json.loads(line) for line in str(entry["input"]).splitlines() if line]
                out.append(CodeTest("call", args, json.loads(entry["output"])))
            else:
                out.append(CodeTest("stdio", str(entry["input"]), str(entry["output"])))
        return tuple(out)

    return _checked(CodeTests(cases("public_test_cases"), cases("private_test_cases"), fn_name, {}))


def _checked(suite: CodeTests) -> CodeTests:
    if suite.total == 0:
        raise UngradeableReference("the reference has zero tests")
    if any(case.kind == "call" for case in suite.public + suite.hidden) and not suite.fn_name:
        raise UngradeableReference("call-based tests need fn_name")
    return suite


# --- rendering public tests for prompts ---------------------------------------------------

FORMATS = ("assert", "numbered")


def render_tests(task: Task, style: str, header: str = "{tests}") -> str:
    """The task's public tests in `style`, wrapped in `header` (a `{tests}` template)."""
    if style not in FORMATS:
        raise ValueError(f"unknown test format {style!r}; known: {', '.join(FORMATS)}")
    try:
        suite = parse_tests(task.reference)
    except UngradeableReference:
        return ""
    if not suite.public:
        return ""
    render = _as_assert if style == "assert" else _numbered
    body = "\n".join(render(i, case, suite.fn_name) for i, case in enumerate(suite.public, 1))
    return header.replace("{tests}", body.rstrip("\n"))


def _as_assert(index: int, case: CodeTest, fn_name: str | None) -> str:
    if case.kind == "assert":
        return str(case.input)
    if case.kind == "call":
        args = ", ".join(_literal(a) for a in case.input)
        return f"assert {fn_name or 'solution'}({args}) == {_literal(case.output)}"
    return f"assert run(stdin={str(case.input)!r}) == {str(case.output)!r}"


def _numbered(index: int, case: CodeTest, fn_name: str | None) -> str:
    if case.kind == "assert":
        return f"Test {index}: {case.input}\n"
    if case.kind == "call":
        args = ", ".join(_literal(a) for a in case.input)
        call = f"{fn_name or 'solution'}({args})"
        return f"Test {index}:\nCall: {call}\nReturns: {_literal(case.output)}\n"
    return f"Test {index}:\nInput:\n{_block(case.input)}Expected output:\n{_block(case.output)}"


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


def _block(value: Any) -> str:
    text = str(value)
    return text if text.endswith("\n") else text + "\n"
