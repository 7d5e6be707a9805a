"""Code and math importers: the tests and answers they write are what the graders read."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zlib
from pathlib import Path
from typing import Any

import pytest
from factories import make_sample, write_jsonl

from distill.code_tests import parse_tests
from distill.errors import InputError
from distill.grade import answer as answer_grader
from distill.grade import code as code_grader
from distill.paths import example_task_files
from distill.records import Sample, Task, read_tasks
from distill.sources import ImportContext, import_files


def run(
    fmt: str, path: Path, skip_bad: bool = False, **options: Any
) -> tuple[list[Task], ImportContext]:
    ctx = ImportContext(fmt, skip_bad, options)
    return import_files(fmt, [path], ctx), ctx


def python(program: str) -> Sample:
    return make_sample(f"```python\n{program}\n```\n")


SUM_SOLUTION = "a, b = map(int, input().split())\nprint(a + b)"
APPS_STDIN = {
    "problem_id": 7,
    "question": "Print the sum of two integers.",
    "solutions": json.dumps([SUM_SOLUTION]),
    "input_output": json.dumps(
        {"inputs": ["1 2\n", "5 5\n", "-4 4\n"], "outputs": ["3\n", "10\n", "0\n"]}
    ),
    "difficulty": "introductory",
    "url": "https://example.com/p/7",
    "starter_code": "",
}
APPS_CALL = {
    "problem_id": 8,
    "question": "Return the sum of a and b.",
    "solutions": json.dumps(["class Solution:\n    def add(self, a, b):\n        return a + b\n"]),
    "input_output": json.dumps(
        {"fn_name": "add", "inputs": [[1, 2], [3, 4], [10, -1]], "outputs": [[3], [7], [9]]}
    ),
    "difficulty": "interview",
    "starter_code": "class Solution:\n    def add(self, a: int, b: int) -> int:\n        ",
}


def test_apps_stdin_rows_split_public_and_hidden_and_the_grader_runs_them(tmp_path: Path) -> None:
    [task], _ = run("apps", write_jsonl(tmp_path / "apps.jsonl", [APPS_STDIN]))
    assert task.kind == "code" and task.prompt == "Print the sum of two integers."
    assert task.reference == {
        "tests": {
            "public": [{"input": "1 2\n", "output": "3\n"}],
            "hidden": [{"input": "5 5\n", "output": "10\n"}, {"input": "-4 4\n", "output": "0\n"}],
        },
        "solution": SUM_SOLUTION,
    }
    assert task.meta == {
        "language": "python",
        "difficulty": "introductory",
        "problem_id": 7,
        "url": "https://example.com/p/7",
    }
    assert len(parse_tests(task.reference).hidden) == 2
    verdict = code_grader.grade(task, python(SUM_SOLUTION), {})
    assert (verdict.status, verdict.reason) == ("pass", "all_tests_passed")
    hack = code_grader.grade(task, python("input()\nprint(3)"), {})
    assert hack.status == "suspect"  # the hidden tests were kept apart
    [two], _ = run("apps", tmp_path / "apps.jsonl", public_tests=2)
    assert len(two.reference["tests"]["public"]) == 2 and len(two.reference["tests"]["hidden"]) == 1


def test_apps_call_based_rows_keep_fn_name_and_show_the_starter_code(tmp_path: Path) -> None:
    [task], _ = run("apps", write_jsonl(tmp_path / "apps.jsonl", [APPS_CALL]))
    tests = task.reference["tests"]
    assert tests["fn_name"] == "add"
    assert tests["public"] == [{"args": [1, 2], "output": 3}]
    assert tests["hidden"] == [{"args": [3, 4], "output": 7}, {"args": [10, -1], "output": 9}]
    assert task.prompt is not None and task.prompt.endswith(
        "Start from this code:\n```python\nclass Solution:\n    def add(self, a: int, b: int) -> int:\n```"
    )
    assert task.meta["starter_code"] == APPS_CALL["starter_code"]
    verdict = code_grader.grade(task, python(task.reference["solution"]), {})
    assert (verdict.status, verdict.reason) == ("pass", "all_tests_passed")


def test_taco_rows_with_line_lists_and_time_limits(tmp_path: Path) -> None:
    row = {**APPS_STDIN, "input_output": json.dumps({"inputs": [["1 2"], ["2 2"]], "outputs": [["3"], ["4"]]}),
           "time_limit": "2.5 seconds", "name": "Sum", "source": "codeforces"}  # fmt: skip
    [task], _ = run("taco", write_jsonl(tmp_path / "taco.jsonl", [row]))
    assert task.reference["tests"]["public"] == [{"input": "1 2", "output": "3"}]
    assert task.meta["time_limit_s"] == 2.5 and task.meta["name"] == "Sum"
    assert task.source == "taco"


def test_apps_rows_without_usable_tests_are_bad_rows(tmp_path: Path) -> None:
    rows = [
        APPS_STDIN,
        {**APPS_STDIN, "input_output": ""},
        {**APPS_STDIN, "input_output": json.dumps({"inputs": ["1"], "outputs": []})},
        {**APPS_STDIN, "input_output": "{not json"},
    ]
    path = write_jsonl(tmp_path / "apps.jsonl", rows)
    with pytest.raises(InputError, match=rf"^{path}:2: no usable tests: 'input_output' is empty"):
        run("apps", path)
    tasks, ctx = run("apps", path, skip_bad=True)
    assert len(tasks) == 1
    assert dict(ctx.stats.bad) == {"no usable tests": 2, "bad 'input_output'": 1}


def lcb_compress(tests: list[dict[str, str]]) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


LCB_PUBLIC = [{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"}]
LCB_PRIVATE = [
    {"input": "1\n5\n", "output": "5\n", "testtype": "stdin"},
    {"input": "2\n1 1\n", "output": "2\n", "testtype": "stdin"},
]
LCB_ROW = {
    "question_title": "Sum of array",
    "question_content": "Read n and n integers; print their sum.",
    "platform": "atcoder",
    "question_id": "abc001_a",
    "contest_id": "abc001",
    "contest_date": "2024-01-01T00:00:00",
    "starter_code": "",
    "difficulty": "easy",
    "public_test_cases": json.dumps(LCB_PUBLIC),
    "private_test_cases": lcb_compress(LCB_PRIVATE),
    "metadata": "{}",
}


def test_livecodebench_compressed_private_tests_need_trust_pickle(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "lcb.jsonl", [LCB_ROW])
    with pytest.raises(
        InputError,
        match=rf"^{path}:1: private_test_cases are compressed with pickle; re-run with --trust-pickle",
    ):
        run("livecodebench", path)
    [task], _ = run("livecodebench", path, trust_pickle=True)
    assert task.reference["tests"] == {
        "public": [{"input": "3\n1 2 3\n", "output": "6\n"}],
        "hidden": [{"input": "1\n5\n", "output": "5\n"}, {"input": "2\n1 1\n", "output": "2\n"}],
    }
    assert task.meta["platform"] == "atcoder" and task.meta["title"] == "Sum of array"
    program = "input()\nprint(sum(map(int, input().split())))"
    assert code_grader.grade(task, python(program), {}).status == "pass"


def test_livecodebench_plain_json_and_functional_tests(tmp_path: Path) -> None:
    row = {**LCB_ROW, "private_test_cases": json.dumps([{"input": "[4, 5]\n2", "output": "11", "testtype": "functional"}]),
           "public_test_cases": json.dumps([{"input": "[1, 2]\n3", "output": "6", "testtype": "functional"}]),
           "metadata": json.dumps({"func_name": "total"}),
           "starter_code": "class Solution:\n    def total(self, nums: list[int], k: int) -> int:\n        "}  # fmt: skip
    [task], _ = run("livecodebench", write_jsonl(tmp_path / "lcb.jsonl", [row]))
    assert task.reference["tests"] == {
        "public": [{"args": [[1, 2], 3], "output": 6}],
        "hidden": [{"args": [[4, 5], 2], "output": 11}],
        "fn_name": "total",
    }
    program = "class Solution:\n    def total(self, nums, k):\n        return sum(nums) + k"
    assert code_grader.grade(task, python(program), {}).status == "pass"


class _Exploit:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {_Exploit.marker}",))

    marker = ""


def test_trusted_pickle_still_refuses_anything_but_data(tmp_path: Path) -> None:
    _Exploit.marker = str(tmp_path / "pwned")
    payload = base64.b64encode(zlib.compress(pickle.dumps(_Exploit()))).decode()
    path = write_jsonl(tmp_path / "lcb.jsonl", [{**LCB_ROW, "private_test_cases": payload}])
    with pytest.raises(InputError, match=r":1: cannot decode private_test_cases \(refused to load"):
        run("livecodebench", path, trust_pickle=True)
    assert not (tmp_path / "pwned").exists()


def test_plain_distill_code_tasks_round_trip(tmp_path: Path) -> None:
    [examples] = [p for p in example_task_files() if p.stem == "code"]
    originals = read_tasks([examples])
    imported, _ = run("code", examples)
    assert len(imported) == len(originals)
    for old, new in zip(originals, imported, strict=True):
        assert new.prompt == old.prompt and new.reference == old.reference
        assert new.meta == {**old.meta, "original_id": old.id}
    rows = [{"prompt": "Add.", "tests": [{"args": [1, 2], "output": 3}], "fn_name": "add"},
            {"prompt": "No tests."}]  # fmt: skip
    tasks, ctx = run("code", write_jsonl(tmp_path / "c.jsonl", rows), skip_bad=True)
    assert tasks[0].reference == {
        "tests": {"public": [{"args": [1, 2], "output": 3}], "hidden": [], "fn_name": "add"}
    }
    assert dict(ctx.stats.bad) == {"no usable tests": 1}


def test_gsm8k_answers_after_the_hashes(tmp_path: Path) -> None:
    rows = [
        {
            "question": "Tom has 3 apples and buys 1,997 more. How many?",
            "answer": "3 + 1997 = <<3+1997=2000>>2000\n#### 2,000",
        },
        {"question": "No final line?", "answer": "It is 4."},
    ]
    path = write_jsonl(tmp_path / "gsm8k.jsonl", rows)
    with pytest.raises(
        InputError, match=rf"^{path}:2: the answer has no '#### <final answer>' line"
    ):
        run("gsm8k", path)
    [task], ctx = run("gsm8k", path, skip_bad=True)
    assert task.kind == "math" and task.reference == {
        "answer": "2000",
        "solution": "3 + 1997 = <<3+1997=2000>>2000",
    }
    assert ctx.stats.bad == {"no '####' answer": 1}
    verdict = answer_grader.grade(task, make_sample("So he has \\boxed{2000} apples."), {})
    assert verdict.status == "pass"


def test_math_boxed_answers_and_explicit_answers(tmp_path: Path) -> None:
    rows = [
        {
            "problem": "Half of 1?",
            "solution": "It is $\\boxed{\\frac{1}{2}}$.",
            "level": "Level 1",
            "type": "Algebra",
        },
        {
            "problem": "MATH-500 style",
            "solution": "... \\boxed{3}",
            "answer": "3",
            "subject": "Counting",
            "level": 2,
            "unique_id": "test/x.json",
        },
        {"problem": "Unboxed", "solution": "The answer is 5."},
    ]
    tasks, ctx = run("math", write_jsonl(tmp_path / "math.jsonl", rows), skip_bad=True)
    first, second = tasks
    assert first.reference["answer"] == "\\frac{1}{2}"
    assert first.meta == {"level": "Level 1", "topic": "Algebra"}
    assert second.reference["answer"] == "3" and second.meta["topic"] == "Counting"
    assert ctx.stats.bad == {"no \\boxed{} answer": 1}
    assert answer_grader.grade(first, make_sample("\\boxed{0.5}"), {}).status == "pass"


def test_math_one_json_file_per_problem_folder(tmp_path: Path) -> None:
    folder = tmp_path / "MATH" / "train" / "algebra"
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"{i}.json").write_text(
            json.dumps(
                {
                    "problem": f"{i}+{i}?",
                    "solution": f"\\boxed{{{2 * i}}}",
                    "level": "Level 1",
                    "type": "Algebra",
                }
            )
        )
    tasks, _ = run("math", tmp_path / "MATH")
    assert [t.reference["answer"] for t in tasks] == ["0", "2", "4"]


def test_plain_question_answer_rows(tmp_path: Path) -> None:
    rows = [
        {"question": "Which is a prime?", "answer": "B", "choices": {"A": "4", "B": "5"}},
        {"problem": "Capital of Italy?", "answer": "Rome", "aliases": ["Roma"]},
        {"question": "Empty?", "answer": "  "},
    ]
    tasks, ctx = run(
        "qa", write_jsonl(tmp_path / "qa.jsonl", rows), skip_bad=True, answer_type="short"
    )
    assert tasks[0].reference == {"answer": "B", "choices": {"A": "4", "B": "5"}}
    assert tasks[1].reference == {"answer": "Rome", "aliases": ["Roma"]}
    assert tasks[1].meta == {"answer_type": "short"}
    assert ctx.stats.bad == {"empty answer": 1}
