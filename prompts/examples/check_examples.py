#!/usr/bin/env python3
"""Validate the example task files and the prompt template library.

Standalone (standard library only, no distill imports). Run from anywhere:

    python prompts/examples/check_examples.py

Checks prompts/examples/{math,code,merge,chat}.jsonl and prompts/library.toml.
Prints ``file:line: problem`` for every failure and exits 1, or prints a
one-line OK summary and exits 0.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIBRARY = HERE.parent / "library.toml"
KINDS = ("math", "code", "merge", "chat")
KEYS = ["schema_version", "id", "kind", "prompt", "reference", "source", "meta"]
ID_RE = {kind: re.compile(rf"^{kind}-\d{{3}}$") for kind in KINDS}
META_KEYS = {
    "math": {"topic", "difficulty"},
    "code": {"language", "difficulty", "time_limit_s"},
    "merge": {"language", "resolution_side"},
    "chat": {"category"},
}
DIFFICULTIES = {"easy", "medium", "hard"}
SIDES = {"combined", "ours", "theirs"}
MARKERS = ("<<<<<<<", "|||||||", "=======", ">>>>>>>")
MIN_PUBLIC, MIN_HIDDEN = 2, 3
RUN_TIMEOUT_S = 5
TEMPLATE_KINDS = set(KINDS)

errors: list[str] = []


def display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # different drive on Windows
        return str(path)


def fail(path: Path, line: int, problem: str) -> None:
    errors.append(f"{display(path)}:{line}: {problem}")


def is_marker(line: str) -> str | None:
    """Return the marker a line starts with, if any."""
    for marker in MARKERS:
        if line.startswith(marker) and (len(line) == 7 or line[7] in " \t"):
            return marker
    return None


def split_conflict(text: str):
    """Split a single diff3 conflict into (above, ours, base, theirs, below) line lists."""
    lines = text.splitlines(keepends=True)
    found = [(i, is_marker(line.rstrip("\r\n"))) for i, line in enumerate(lines)]
    found = [(i, m) for i, m in found if m]
    if [m for _, m in found] != list(MARKERS):
        return None
    (a, _), (b, _), (c, _), (d, _) = found
    return lines[:a], lines[a + 1 : b], lines[b + 1 : c], lines[c + 1 : d], lines[d + 1 :]


def run_solution(python: str, solution: str, stdin: str) -> tuple[str | None, str]:
    with tempfile.TemporaryDirectory(prefix="distill-check-") as tmp:
        script = Path(tmp) / "solution.py"
        script.write_text(solution, encoding="utf-8")
        try:
            proc = subprocess.run(
                [python, str(script)],
                input=stdin,
                capture_output=True,
                text=True,
                cwd=tmp,
                timeout=RUN_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return None, f"timed out after {RUN_TIMEOUT_S} s"
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [""]
        return None, f"exit status {proc.returncode}: {tail[0]}"
    return proc.stdout, ""


def check_math(path: Path, n: int, rec: dict) -> None:
    ref = rec["reference"]
    if set(ref) != {"answer"}:
        fail(path, n, f"math reference keys must be ['answer'], got {sorted(ref)}")
    answer = ref.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        fail(path, n, "reference.answer must be a non-empty string")


def check_code(path: Path, n: int, rec: dict, python: str) -> None:
    ref = rec["reference"]
    if set(ref) != {"tests", "solution"}:
        fail(path, n, f"code reference keys must be ['solution', 'tests'], got {sorted(ref)}")
        return
    solution = ref["solution"]
    tests = ref["tests"]
    if not isinstance(solution, str) or not solution.strip():
        fail(path, n, "reference.solution must be a non-empty string")
        return
    if not isinstance(tests, dict) or set(tests) != {"public", "hidden"}:
        fail(path, n, "reference.tests must be an object with 'public' and 'hidden'")
        return
    for group, minimum in (("public", MIN_PUBLIC), ("hidden", MIN_HIDDEN)):
        cases = tests[group]
        if not isinstance(cases, list) or len(cases) < minimum:
            fail(path, n, f"need at least {minimum} {group} tests")
            continue
        for j, case in enumerate(cases):
            where = f"{group} test {j}"
            if not isinstance(case, dict) or set(case) != {"input", "output"}:
                fail(path, n, f"{where}: must have exactly 'input' and 'output'")
                continue
            if not all(isinstance(case[k], str) for k in ("input", "output")):
                fail(path, n, f"{where}: input and output must be strings")
                continue
            if not case["output"].endswith("\n"):
                fail(path, n, f"{where}: expected output must end with a newline")
            got, why = run_solution(python, solution, case["input"])
            if got is None:
                fail(path, n, f"{where}: solution failed ({why})")
            elif got != case["output"]:
                fail(path, n, f"{where}: expected {case['output']!r}, solution printed {got!r}")


def check_merge(path: Path, n: int, rec: dict) -> None:
    ref = rec["reference"]
    if set(ref) != {"conflict", "resolution", "language"}:
        fail(path, n, f"merge reference keys must be ['conflict', 'language', 'resolution'], got {sorted(ref)}")
        return
    if rec["prompt"] != ref["conflict"]:
        fail(path, n, "prompt must equal reference.conflict")
    if ref["language"] != rec["meta"].get("language"):
        fail(path, n, "reference.language must equal meta.language")
    conflict, resolution = ref["conflict"], ref["resolution"]
    if not isinstance(conflict, str) or not isinstance(resolution, str) or not resolution.strip():
        fail(path, n, "conflict and resolution must be non-empty strings")
        return
    parts = split_conflict(conflict)
    if parts is None:
        fail(path, n, "conflict must contain exactly one each of the marker lines "
                      "<<<<<<<, |||||||, =======, >>>>>>> in that order")
        return
    above, ours, _base, theirs, below = parts
    for label, ctx in (("above", above), ("below", below)):
        if not 2 <= len(ctx) <= 5:
            fail(path, n, f"expected 2-5 context lines {label} the conflict, got {len(ctx)}")
    bad = [line for line in resolution.splitlines() if is_marker(line)]
    if bad:
        fail(path, n, f"resolution contains conflict marker line {bad[0]!r}")
    ours_applied = "".join(above + ours + below)
    theirs_applied = "".join(above + theirs + below)
    side = rec["meta"].get("resolution_side")
    if side not in SIDES:
        fail(path, n, f"meta.resolution_side must be one of {sorted(SIDES)}")
    elif side == "combined":
        if resolution == ours_applied:
            fail(path, n, "resolution_side is 'combined' but resolution equals the ours side")
        if resolution == theirs_applied:
            fail(path, n, "resolution_side is 'combined' but resolution equals the theirs side")
    else:
        expected = ours_applied if side == "ours" else theirs_applied
        if resolution != expected:
            fail(path, n, f"resolution_side is {side!r} but resolution differs from the {side} side")


def check_chat(path: Path, n: int, rec: dict) -> None:
    ref = rec["reference"]
    if set(ref) != {"output"}:
        fail(path, n, f"chat reference keys must be ['output'], got {sorted(ref)}")
    output = ref.get("output")
    if not isinstance(output, str) or not output.strip():
        fail(path, n, "reference.output must be a non-empty string")


def check_meta(path: Path, n: int, kind: str, meta: dict) -> None:
    missing = META_KEYS[kind] - set(meta)
    if missing:
        fail(path, n, f"meta is missing {sorted(missing)}")
    if "difficulty" in META_KEYS[kind] and meta.get("difficulty") not in DIFFICULTIES:
        fail(path, n, f"meta.difficulty must be one of {sorted(DIFFICULTIES)}")
    if kind == "code":
        if meta.get("language") != "python":
            fail(path, n, "meta.language must be 'python'")
        limit = meta.get("time_limit_s")
        if not isinstance(limit, (int, float)) or isinstance(limit, bool) or limit <= 0:
            fail(path, n, "meta.time_limit_s must be a positive number")


def check_file(kind: str, seen_ids: dict, python: str) -> int:
    path = HERE / f"{kind}.jsonl"
    if not path.is_file():
        fail(path, 0, "file not found")
        return 0
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(path, 0, f"not valid UTF-8: {exc}")
        return 0
    if not text.endswith("\n"):
        fail(path, text.count("\n") + 1, "file must end with a newline")
    count = 0
    for n, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        if not line.strip():
            fail(path, n, "blank line")
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(path, n, f"invalid JSON: {exc}")
            continue
        if not isinstance(rec, dict):
            fail(path, n, "line is not a JSON object")
            continue
        if list(rec) != KEYS:
            fail(path, n, f"keys must be exactly {KEYS} in that order, got {list(rec)}")
            continue
        count += 1
        if rec["schema_version"] != 1 or isinstance(rec["schema_version"], bool):
            fail(path, n, f"schema_version must be 1, got {rec['schema_version']!r}")
        rid = rec["id"]
        if not isinstance(rid, str) or not ID_RE[kind].match(rid):
            fail(path, n, f"id {rid!r} does not match {ID_RE[kind].pattern}")
        elif rid in seen_ids:
            fail(path, n, f"duplicate id {rid!r} (first seen at {seen_ids[rid]})")
        else:
            seen_ids[rid] = f"{display(path)}:{n}"
        if rec["kind"] != kind:
            fail(path, n, f"kind {rec['kind']!r} does not match file kind {kind!r}")
            continue
        if not isinstance(rec["prompt"], str) or not rec["prompt"].strip():
            fail(path, n, "prompt must be a non-empty string")
        if not isinstance(rec["source"], str) or not rec["source"].strip():
            fail(path, n, "source must be a non-empty string")
        if not isinstance(rec["reference"], dict) or not isinstance(rec["meta"], dict):
            fail(path, n, "reference and meta must be objects")
            continue
        check_meta(path, n, kind, rec["meta"])
        if kind == "math":
            check_math(path, n, rec)
        elif kind == "code":
            check_code(path, n, rec, python)
        elif kind == "merge":
            check_merge(path, n, rec)
        else:
            check_chat(path, n, rec)
    return count


def header_line(text: str, header: str) -> int:
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip() == f"[{header}]":
            return n
    return 1


def check_library() -> int:
    path = LIBRARY
    if not path.is_file():
        fail(path, 0, "file not found")
        return 0
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        fail(path, int(match.group(1)) if match else 1, f"invalid TOML: {exc}")
        return 0
    count = 0
    for role in ("system", "problem"):
        table = data.get(role)
        if not isinstance(table, dict) or not table:
            fail(path, 1, f"missing [{role}.*] templates")
            continue
        for name, entry in table.items():
            line = header_line(text, f"{role}.{name}")
            count += 1
            if not isinstance(entry, dict):
                fail(path, line, f"{role}.{name} must be a table")
                continue
            for key in ("description", "text"):
                if not isinstance(entry.get(key), str):
                    fail(path, line, f"{role}.{name}.{key} must be a string")
            if not isinstance(entry.get("text"), str):
                continue
            try:
                rendered = entry["text"].format(problem="x", language="python")
            except (KeyError, IndexError, ValueError) as exc:
                fail(path, line, f"{role}.{name}.text does not format: {exc!r}")
                continue
            if role == "problem":
                if entry.get("kind") not in TEMPLATE_KINDS:
                    fail(path, line, f"problem.{name}.kind must be one of {sorted(TEMPLATE_KINDS)}")
                if "x" not in rendered:
                    fail(path, line, f"problem.{name}.text does not use {{problem}}")
    for required in ("system.none", "system.reasoning_default", "system.helpful_coder",
                     "problem.math_boxed", "problem.code_stdio", "problem.merge_resolve",
                     "problem.chat_plain"):
        role, name = required.split(".")
        if name not in data.get(role, {}):
            fail(path, 1, f"missing template [{required}]")
    math = data.get("problem", {}).get("math_boxed", {})
    if isinstance(math.get("text"), str):
        try:
            if "\\boxed{}" not in math["text"].format(problem="x", language="python"):
                fail(path, header_line(text, "problem.math_boxed"),
                     "problem.math_boxed must render to text containing \\boxed{}")
        except (KeyError, IndexError, ValueError):
            pass  # already reported above
    return count


def main() -> int:
    python = shutil.which("python3") or sys.executable
    seen_ids: dict[str, str] = {}
    counts = {kind: check_file(kind, seen_ids, python) for kind in KINDS}
    n_templates = check_library()
    if errors:
        for err in errors:
            print(err)
        print(f"FAILED: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    total = sum(counts.values())
    per_kind = ", ".join(f"{kind}={counts[kind]}" for kind in KINDS)
    print(f"OK: {total} tasks ({per_kind}); library.toml: {n_templates} templates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
