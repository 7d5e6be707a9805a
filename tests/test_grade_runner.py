"""run_grade's promises: a verdict is cached under (the answer, the task reference, the grader's
name and version, its options), so unchanged inputs are a pure cache read and any change to one of
those is graded again; an `error` verdict (the grader or its sandbox failed) is never cached, so
the next run grades it again; verdicts that need no grader are given without one.

A cache read is told from a grade by marking every cached verdict on disk: a verdict that comes
back marked came from the cache, one that does not was graded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import diskcache
import pytest
from factories import cache_entries, make_sample, make_task, read_jsonl, write_config, write_jsonl

from distill.config import load_config
from distill.errors import ConfigError, InputError
from distill.grade import math_equiv
from distill.grade.registry import GRADERS
from distill.grade.runner import GradeResult, run_grade
from distill.records import Sample, Task

MARK = "read-from-the-cache"
CONFLICT = "<<<<<<< ours\nx = 1\n=======\nx = 2\n>>>>>>> theirs\n"
TASKS = [
    make_task("math", {"answer": "12"}),
    make_task("merge", {"resolution": "x = 2\n", "conflict": CONFLICT}, prompt=CONFLICT),
    make_task("chat", prompt="Name the capital of France."),
]
SAMPLES = [
    make_sample(r"So the total is \boxed{12}.", task_id="math-1", reasoning="7 + 5 = 12"),
    make_sample(r"So the total is \boxed{13}.", task_id="math-1", index=1),
    make_sample("Resolved:\n\n```python\nx = 2\n```\n", task_id="merge-1"),
    make_sample("Paris is the capital of France.", task_id="chat-1"),
]
GRADERS_BY_SAMPLE = ["answer", "answer", "merge", "well_formed"]


@pytest.fixture(autouse=True)
def _no_math_worker_left() -> Iterator[None]:
    yield
    math_equiv.shutdown()  # the math-verify worker this process started, if any


def _setup(directory: Path, tasks: list[Task], samples: list[Sample], grade: str = "") -> Path:
    """A config over `tasks` with `samples` already harvested; `grade` goes in its [grade]."""
    tasks_file = write_jsonl(directory / "tasks.jsonl", tasks)
    write_jsonl(directory / "out" / "samples.jsonl", samples)
    extra = f"[grade]\n{grade}" if grade else ""
    return write_config(directory, "http://127.0.0.1:9/v1", tasks=[tasks_file], extra=extra)


def _grade(config: Path, *overrides: str) -> tuple[GradeResult, list[dict[str, Any]]]:
    result = run_grade(load_config(config, overrides))
    return result, [row["verdict"] for row in read_jsonl(result.graded_path)]


def _mark_cached_verdicts(cache: Path) -> int:
    with diskcache.Cache(str(cache)) as verdicts:
        keys = list(verdicts.iterkeys())
        for key in keys:
            verdicts[key] = verdicts[key] | {"reason": MARK}
    return len(keys)


def _graded_and_marked(directory: Path) -> Path:
    """TASKS and SAMPLES graded once, every cached verdict marked; the config."""
    config = _setup(directory, TASKS, SAMPLES)
    _grade(config)
    assert _mark_cached_verdicts(directory / "cache" / "grade") == len(SAMPLES)
    return config


def _from_cache(verdicts: list[dict[str, Any]]) -> list[bool]:
    return [v["reason"] == MARK for v in verdicts]


def test_unchanged_inputs_are_a_pure_cache_read(tmp_path: Path) -> None:
    config = _setup(tmp_path, TASKS, SAMPLES)
    first, verdicts = _grade(config)
    assert (first.total, first.cached) == (4, 0)
    assert [v["grader"] for v in verdicts] == GRADERS_BY_SAMPLE
    assert [v["status"] for v in verdicts] == ["pass", "fail", "pass", "pass"]
    graded = first.graded_path.read_bytes()
    assert cache_entries(tmp_path / "cache" / "grade") == 4

    second, _ = _grade(config)
    assert (second.total, second.cached) == (4, 4)
    assert second.graded_path.read_bytes() == graded  # the same verdicts, byte for byte

    assert _mark_cached_verdicts(tmp_path / "cache" / "grade") == 4
    third, verdicts = _grade(config)
    assert third.cached == 4 and _from_cache(verdicts) == [True] * 4  # no grader ran


def test_a_changed_answer_or_reference_is_graded_again_the_reasoning_is_not(
    tmp_path: Path,
) -> None:
    _graded_and_marked(tmp_path)

    samples = list(SAMPLES)
    samples[0] = replace(samples[0], reasoning="5 + 7 is 12, said differently")  # not graded
    samples[1] = replace(samples[1], content=r"Oh, it is \boxed{12}.")  # a new answer
    tasks = list(TASKS)
    tasks[1] = replace(tasks[1], reference={"resolution": "x = 1\n", "conflict": CONFLICT})
    config = _setup(tmp_path, tasks, samples)
    result, verdicts = _grade(config)
    assert _from_cache(verdicts) == [True, False, False, True]
    assert result.cached == 2
    assert [v["status"] for v in verdicts[1:3]] == ["pass", "fail"]  # graded against the new


def test_task_fields_a_grader_reads_are_in_its_key_and_others_are_not(tmp_path: Path) -> None:
    _graded_and_marked(tmp_path)

    tasks = list(TASKS)
    # answer_type is read by the answer grader: graded again (as a choice, both now fail)
    tasks[0] = replace(tasks[0], meta={"answer_type": "choice"})
    tasks[2] = replace(tasks[2], meta={"note": "read by no grader"})  # still a cache read
    result, verdicts = _grade(_setup(tmp_path, tasks, SAMPLES))
    assert _from_cache(verdicts) == [False, False, True, True]
    assert result.cached == 2


def test_new_options_for_a_grader_regrade_its_samples_only(tmp_path: Path) -> None:
    _graded_and_marked(tmp_path)

    config = _setup(tmp_path, TASKS, SAMPLES, "[grade.options.answer]\nabs_tol = 1\n")
    result, verdicts = _grade(config)
    assert _from_cache(verdicts) == [False, False, True, True]  # answer graded, others read
    assert result.cached == 2
    # 13 is within 1 of 12: the new option decided this verdict, so the grader really ran.
    assert [v["status"] for v in verdicts[:2]] == ["pass", "pass"]

    again, verdicts = _grade(config)  # and the new verdicts are cached under the new options
    assert again.cached == 4 and _from_cache(verdicts) == [False, False, True, True]


def test_a_new_grader_version_regrades_its_samples_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _graded_and_marked(tmp_path)

    bumped = GRADERS["merge"].version + "-next"
    monkeypatch.setitem(GRADERS, "merge", replace(GRADERS["merge"], version=bumped))
    result, verdicts = _grade(config)
    assert _from_cache(verdicts) == [True, True, False, True]
    assert result.cached == 3
    assert verdicts[2]["status"] == "pass"  # graded again: the new verdict, not the mark
    assert cache_entries(tmp_path / "cache" / "grade") == 5  # the old version's entry stays


def test_regrade_ignores_the_cache_and_refreshes_it(tmp_path: Path) -> None:
    config = _graded_and_marked(tmp_path)

    result, verdicts = _grade(config, "grade.regrade=true")
    assert result.cached == 0 and _from_cache(verdicts) == [False] * 4
    after, verdicts = _grade(config)
    assert after.cached == 4 and _from_cache(verdicts) == [False] * 4  # the fresh ones


def test_a_math_verify_timeout_is_an_error_never_cached_and_graded_again(
    tmp_path: Path,
) -> None:
    heavy = r"\prod_{n=1}^{10^{6}} (1+\frac{1}{n^2})"  # sympy spends minutes on this
    tasks = [
        make_task("math", {"answer": r"\frac{1}{2}"}),
        make_task("math", {"answer": "4"}, id="math-2"),
    ]
    samples = [
        make_sample(rf"It is \boxed{{{heavy}}}.", task_id="math-1"),
        make_sample(r"\boxed{4}", task_id="math-2"),
    ]
    config = _setup(tmp_path, tasks, samples, "[grade.options.answer]\ntimeout_s = 0.5\n")
    for cached in (0, 1):  # each run grades the timed-out answer again
        result, verdicts = _grade(config)
        assert result.cached == cached
        assert [(v["status"], v["reason"]) for v in verdicts] == [
            ("error", "math_verify_timeout"),
            ("pass", "exact"),
        ]
        assert cache_entries(tmp_path / "cache" / "grade") == 1  # the pass alone
        assert result.by_status() == {"error": 1, "pass": 1}  # an error is not a fail


def test_a_grader_that_cannot_start_is_an_error_and_the_next_run_grades_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    math = make_task("math", {"answer": "x^2+2x+1"})
    samples = [make_sample(r"\boxed{(x+1)^2}", task_id="math-1")]  # only math-verify decides this
    config = _setup(tmp_path, [math], samples, "workers = 1\n")  # graded in this process
    math_equiv.shutdown()
    with monkeypatch.context() as broken:
        broken.setattr(sys, "executable", sys.executable + "-missing")  # no worker can start
        result, verdicts = _grade(config)
    assert [(v["status"], v["reason"]) for v in verdicts] == [("error", "math_verify_crashed")]
    assert "worker" in verdicts[0]["details"]["error"]
    assert cache_entries(tmp_path / "cache" / "grade") == 0

    result, verdicts = _grade(config)  # the same inputs, a working grader
    assert result.cached == 0
    assert [v["status"] for v in verdicts] == ["pass"]
    assert _grade(config)[0].cached == 1


def test_a_grader_that_raises_is_an_error_never_a_fail_and_never_cached(tmp_path: Path) -> None:
    code = make_task("code", {"tests": {"public": [{"input": "1\n", "output": "2\n"}]}})
    samples = [make_sample("```python\nprint(int(input()) + 1)\n```\n", task_id="code-1")]
    config = _setup(tmp_path, [code], samples, '[grade.options.code]\nwall_s = "soon"\n')
    _, verdicts = _grade(config)
    assert [(v["status"], v["reason"]) for v in verdicts] == [("error", "grader_crashed")]
    assert "ValueError" in verdicts[0]["details"]["error"]
    assert cache_entries(tmp_path / "cache" / "grade") == 0
    assert _grade(config)[0].cached == 0


def test_the_same_answer_to_the_same_task_is_graded_once(tmp_path: Path) -> None:
    twice = [make_sample(r"\boxed{12}", task_id="math-1", index=i) for i in range(3)]
    config = _setup(tmp_path, TASKS[:1], twice)
    result, verdicts = _grade(config)
    assert result.cached == 0 and len(verdicts) == 3
    assert verdicts[0] == verdicts[1] == verdicts[2]
    assert cache_entries(tmp_path / "cache" / "grade") == 1


def test_verdicts_that_need_no_grader_are_given_without_one_and_not_cached(
    tmp_path: Path,
) -> None:
    tasks = [*TASKS, make_task("poem", prompt="Write a haiku.")]
    samples = [
        make_sample("", task_id="math-1", status="error", error={"class": "X", "message": "boom"}),
        make_sample("unknown", task_id="no-such-task"),
        make_sample("An old silent pond", task_id="poem-1"),
        make_sample(r"\boxed{12", task_id="math-1", finish_reason="length"),
        make_sample("  \n", task_id="chat-1"),
    ]
    config = _setup(tmp_path, tasks, samples)
    result, verdicts = _grade(config)
    assert [(v["status"], v["reason"]) for v in verdicts] == [
        ("ungradeable", "harvest_error"),
        ("ungradeable", "unknown_task"),
        ("ungradeable", "no_grader_for_poem"),
        ("fail", "truncated"),
        ("fail", "empty_answer"),
    ]
    assert [v["grader"] for v in verdicts] == ["answer", "none", "none", "answer", "well_formed"]
    assert result.cached == 0 and cache_entries(tmp_path / "cache" / "grade") == 0


def test_no_samples_and_an_unknown_grader_are_one_line_errors_naming_the_fix(
    tmp_path: Path,
) -> None:
    config = _setup(tmp_path, TASKS, SAMPLES)
    (tmp_path / "out" / "samples.jsonl").unlink()
    with pytest.raises(InputError, match=r"no samples yet; run `distill harvest -c .*` first"):
        _grade(config)

    config = _setup(tmp_path, TASKS, SAMPLES, '[grade.graders]\nmath = "answr"\n')
    with pytest.raises(ConfigError, match=r"grade.graders.math = 'answr' is not a grader; known"):
        _grade(config)
