"""Code datasets → code tasks with tests in distill's own shape, public and hidden kept apart.

Every suite goes through the code grader's own parser (`parse_tests`) and is written back as
`{"tests": {"public": [...], "hidden": [...], "fn_name"?}}`, so what we import is exactly what
the grader will run, and only the public tests are ever shown in a prompt.

- APPS / TACO: `input_output` (JSON: inputs, outputs, fn_name?), `solutions`, `starter_code`.
  They have no public/hidden split: the first `--public-tests` tests (default 1) are public.
- LiveCodeBench: `public_test_cases`, `private_test_cases`, `metadata` (func_name). Private tests
  shipped compressed (base64 of zlib of a pickle) are decoded only with `--trust-pickle`, and even
  then by an unpickler that refuses every class, so the payload can hold nothing but data.
- code: distill's own rows (`prompt` + `tests` or a whole task record).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import re
import zlib
from typing import Any

from distill.code_tests import CodeTest, parse_tests
from distill.records import Task
from distill.sources.common import BadRow, ImportContext, Row, join_nonempty, per_row, text_field


def canonical_tests(reference: dict[str, Any], public: int | None = None) -> dict[str, Any]:
    """The grader's reading of any test shape, in distill's shape; `public` re-splits it."""
    try:
        suite = parse_tests(reference)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # UngradeableReference is a ValueError; the others come from malformed LCB entries.
        raise BadRow("no usable tests", f"no usable tests: {exc}") from None
    cases = list(suite.public + suite.hidden)
    split = len(suite.public) if public is None else public
    tests: dict[str, Any] = {
        "public": [_case(c) for c in cases[:split]],
        "hidden": [_case(c) for c in cases[split:]],
    }
    if suite.fn_name:
        tests["fn_name"] = suite.fn_name
    if suite.compare:
        tests["compare"] = suite.compare
    parse_tests({"tests": tests})  # the shape we write must read back
    return tests


def _case(case: CodeTest) -> dict[str, Any] | str:
    if case.kind == "call":
        return {"args": list(case.input), "output": case.output}
    if case.kind == "assert":
        return str(case.input)
    return {"input": case.input, "output": case.output}


def _with_starter(problem: str, starter: str) -> str:
    if not starter.strip():
        return problem
    return join_nonempty(problem, f"Start from this code:\n```python\n{starter.rstrip()}\n```")


def _json_field(d: dict[str, Any], name: str) -> Any:
    value = d.get(name)
    if isinstance(value, str) and value.strip():
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise BadRow(f"bad {name!r}", f"{name!r} is not valid JSON ({exc.msg})") from None
    return value


def _seconds(value: Any) -> float | None:
    """TACO's time limits read "1 second", "2.5 seconds" or a bare number."""
    match = re.match(r"\s*(\d+(?:\.\d+)?)", str(value)) if value is not None else None
    return float(match.group(1)) if match else None


@per_row
def apps(row: Row, ctx: ImportContext) -> Task:
    """APPS and TACO rows."""
    d = row.data
    io_data = _json_field(d, "input_output")
    if not io_data:
        raise BadRow("no usable tests", "no usable tests: 'input_output' is empty")
    fn_name = io_data.get("fn_name") if isinstance(io_data, dict) else None
    tests = canonical_tests(
        {"input_output": io_data, "fn_name": fn_name}, int(ctx.option("public_tests", 1))
    )
    solutions = _json_field(d, "solutions")
    reference: dict[str, Any] = {"tests": tests}
    if isinstance(solutions, list) and solutions and isinstance(solutions[0], str):
        reference["solution"] = solutions[0]
    starter = text_field(d, "starter_code", required=False)
    meta = {
        "language": "python",
        "difficulty": d.get("difficulty"),
        "problem_id": d.get("problem_id", d.get("id")),
        "name": d.get("name"),
        "url": d.get("url"),
        "time_limit_s": _seconds(d.get("time_limit")),
        "starter_code": starter or None,
    }
    problem = _with_starter(text_field(d, "question", "problem", "prompt"), starter)
    return ctx.task("code", prompt=problem, reference=reference, meta=meta)


class _DataOnly(pickle.Unpickler):
    """Refuses every global: a payload that names any class or function fails to load."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def decode_lcb_tests(value: Any, trust_pickle: bool) -> Any:
    """LiveCodeBench test lists: JSON text, or base64(zlib(pickle(JSON text)))."""
    if not isinstance(value, str) or not value.strip() or value.lstrip().startswith("["):
        return value
    if not trust_pickle:
        raise BadRow(
            "compressed tests need --trust-pickle",
            "private_test_cases are compressed with pickle; re-run with --trust-pickle to decode "
            "them (only for files from a source you trust)",
        )
    try:
        raw = zlib.decompress(base64.b64decode(value.encode("ascii"), validate=False))
        text = _DataOnly(io.BytesIO(raw)).load()
    except (binascii.Error, zlib.error, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise BadRow("undecodable tests", f"cannot decode private_test_cases ({exc})") from None
    return text if isinstance(text, list) else _json_field({"t": text}, "t")


@per_row
def livecodebench(row: Row, ctx: ImportContext) -> Task:
    """LiveCodeBench code-generation rows."""
    d = row.data
    trust = bool(ctx.option("trust_pickle", False))
    reference = {
        "public_test_cases": _json_field(d, "public_test_cases") or [],
        "private_test_cases": decode_lcb_tests(d.get("private_test_cases"), trust),
        "metadata": _json_field(d, "metadata") or {},
    }
    if isinstance(reference["private_test_cases"], str):
        reference["private_test_cases"] = _json_field(reference, "private_test_cases") or []
    starter = text_field(d, "starter_code", required=False)
    meta = {
        "language": "python",
        "title": d.get("question_title"),
        "platform": d.get("platform"),
        "question_id": d.get("question_id"),
        "contest_date": str(d["contest_date"]) if d.get("contest_date") else None,
        "difficulty": d.get("difficulty"),
        "starter_code": starter or None,
    }
    problem = _with_starter(text_field(d, "question_content", "question", "prompt"), starter)
    return ctx.task(
        "code", prompt=problem, reference={"tests": canonical_tests(reference)}, meta=meta
    )


@per_row
def plain(row: Row, ctx: ImportContext) -> Task:
    """distill code tasks: `prompt` with `tests` (or `input_output`, or LCB lists) and optional
    `solution`, `fn_name`, `meta`; or whole task records with a `reference`."""
    d = row.data
    source: dict[str, Any] = d["reference"] if isinstance(d.get("reference"), dict) else d
    reference = {"solution": source["solution"]} if "solution" in source else {}
    keys = ("tests", "input_output", "fn_name", "public_test_cases", "private_test_cases",
            "metadata")  # fmt: skip
    shape = {k: source[k] for k in keys if k in source}
    tests, fn_name = shape.get("tests"), source.get("fn_name")
    if fn_name and isinstance(tests, list):
        shape["tests"] = {"public": tests, "fn_name": fn_name}
    elif fn_name and isinstance(tests, dict):
        shape["tests"] = {"fn_name": fn_name, **tests}
    reference["tests"] = canonical_tests(shape)
    meta = dict(d["meta"]) if isinstance(d.get("meta"), dict) else {}
    meta.setdefault("language", "python")
    if d.get("id") is not None:
        meta.setdefault("original_id", d["id"])
    problem = text_field(d, "prompt", "question", "problem")
    return ctx.task("code", prompt=problem, reference=reference, meta=meta)
