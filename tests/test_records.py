"""distill.records: Task and Sample parsing, strictness, round trips, the bundled examples."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from factories import write_jsonl

from distill.errors import RecordError
from distill.paths import example_task_files
from distill.records import (
    SCHEMA_VERSION,
    Sample,
    Task,
    Usage,
    Verdict,
    iter_samples,
    read_tasks,
    sample_from_dict,
    task_from_dict,
)

# --- tasks --------------------------------------------------------------------------------


def test_task_from_dict_full_record() -> None:
    row = {
        "schema_version": 1,
        "id": "code-7",
        "kind": "code",
        "messages": [{"role": "user", "content": "Write add(a, b)."}],
        "reference": {"tests": {"public": [{"input": "1 2", "output": "3"}], "fn_name": "add"}},
        "source": "unit",
        "meta": {"difficulty": "easy"},
    }
    task = task_from_dict(row)
    assert task == Task(
        id="code-7",
        kind="code",
        messages=[{"role": "user", "content": "Write add(a, b)."}],
        reference={"tests": {"public": [{"input": "1 2", "output": "3"}], "fn_name": "add"}},
        source="unit",
        meta={"difficulty": "easy"},
    )
    assert task.prompt is None
    # to_dict drops the absent prompt and keeps everything else
    assert task.to_dict() == row


def test_task_defaults() -> None:
    task = task_from_dict({"id": "m1", "kind": "math", "prompt": "1+1?"})
    assert task.reference == {}
    assert task.meta == {}
    assert task.source == ""
    assert task.messages is None
    assert task.schema_version == SCHEMA_VERSION


def test_read_tasks_happy_path_keeps_order_kinds_reference_and_meta(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"id": "m1", "kind": "math", "prompt": "2+2?", "reference": {"answer": "4"}},
        {
            "id": "g1",
            "kind": "merge",
            "prompt": "<<<<<<< ours\na\n=======\nb\n>>>>>>> theirs\n",
            "reference": {"resolution": "a\nb\n", "conflict": "..."},
        },
        {
            "id": "c1",
            "kind": "chat",
            "messages": [{"role": "user", "content": "hi"}],
            "meta": {"x": 1},
        },
    ]
    tasks = read_tasks([write_jsonl(tmp_path / "t.jsonl", rows)])
    assert [t.id for t in tasks] == ["m1", "g1", "c1"]
    assert [t.kind for t in tasks] == ["math", "merge", "chat"]
    assert tasks[0].reference == {"answer": "4"}
    assert tasks[1].reference["resolution"] == "a\nb\n"
    assert tasks[2].meta == {"x": 1}
    assert tasks[2].messages == [{"role": "user", "content": "hi"}]


def test_read_tasks_across_two_files(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": "a1", "kind": "chat", "prompt": "x"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "b1", "kind": "chat", "prompt": "y"}])
    assert [t.id for t in read_tasks([a, str(b)])] == ["a1", "b1"]


def test_unknown_field_suggests_the_near_one(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [
            {"id": "ok", "kind": "chat", "prompt": "x"},
            {"id": "m1", "kind": "math", "prompt": "2+2?", "refrence": {"answer": "4"}},
        ],
    )
    with pytest.raises(RecordError) as info:
        read_tasks([path])
    message = str(info.value)
    assert message.startswith(f"{path}:2: ")
    assert "'refrence'" in message
    assert "did you mean 'reference'" in message


def test_unknown_field_far_from_any_has_no_hint() -> None:
    with pytest.raises(RecordError) as info:
        task_from_dict({"id": "a", "kind": "chat", "prompt": "x", "zzzzzz": 1}, ("f.jsonl", 9))
    assert str(info.value).startswith("f.jsonl:9: unknown field 'zzzzzz'")
    assert "did you mean" not in str(info.value)


def test_missing_id(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"kind": "math", "prompt": "x"}])
    with pytest.raises(RecordError) as info:
        read_tasks([path])
    assert str(info.value) == f"{path}:1: task is missing 'id'"


def test_empty_id() -> None:
    with pytest.raises(RecordError, match="'id' is empty"):
        task_from_dict({"id": "", "kind": "math", "prompt": "x"})


def test_missing_kind() -> None:
    with pytest.raises(RecordError, match="missing 'kind'"):
        task_from_dict({"id": "a", "prompt": "x"})


@pytest.mark.parametrize(
    "extra", [{}, {"prompt": ""}, {"messages": []}, {"prompt": "", "messages": []}]
)
def test_neither_prompt_nor_messages(extra: dict[str, Any]) -> None:
    with pytest.raises(RecordError) as info:
        task_from_dict({"id": "t9", "kind": "chat", **extra}, ("f.jsonl", 4))
    assert str(info.value) == "f.jsonl:4: task 't9' has neither 'prompt' nor 'messages'"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("id", 5, "'id' must be str, got int"),
        ("kind", ["math"], "'kind' must be str, got list"),
        ("prompt", 3.5, "'prompt' must be str, got float"),
        ("source", {}, "'source' must be str, got dict"),
        ("messages", "hi", "'messages' must be list, got str"),
        ("reference", "4", "'reference' must be dict, got str"),
        ("meta", [1], "'meta' must be dict, got list"),
    ],
)
def test_wrong_types(key: str, value: Any, expected: str) -> None:
    row: dict[str, Any] = {"id": "a", "kind": "math", "prompt": "x", key: value}
    with pytest.raises(RecordError) as info:
        task_from_dict(row, ("f.jsonl", 2))
    assert str(info.value) == f"f.jsonl:2: {expected}"


@pytest.mark.parametrize("key", ["kind", "reference", "meta"])
def test_null_for_a_non_optional_field_is_rejected(key: str) -> None:
    with pytest.raises(RecordError):
        task_from_dict({"id": "a", "kind": "math", "prompt": "x", key: None})


def test_duplicate_ids_across_two_files_name_both_places(tmp_path: Path) -> None:
    first = write_jsonl(
        tmp_path / "first.jsonl",
        [{"id": "a", "kind": "chat", "prompt": "x"}, {"id": "dup", "kind": "chat", "prompt": "y"}],
    )
    second = write_jsonl(
        tmp_path / "second.jsonl",
        [
            {"id": "b", "kind": "chat", "prompt": "x"},
            {"id": "c", "kind": "chat", "prompt": "x"},
            {"id": "dup", "kind": "math", "prompt": "z"},
        ],
    )
    with pytest.raises(RecordError) as info:
        read_tasks([first, second])
    message = str(info.value)
    assert message.startswith(f"{second}:3: duplicate task id 'dup'")
    assert f"{first}:2" in message


def test_duplicate_id_within_one_file(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [{"id": "x", "kind": "chat", "prompt": "a"}, {"id": "x", "kind": "chat", "prompt": "b"}],
    )
    with pytest.raises(RecordError, match=r":2: duplicate task id 'x' \(first at .*:1\)"):
        read_tasks([path])


def test_newer_schema_version_is_rejected(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [{"schema_version": SCHEMA_VERSION + 1, "id": "a", "kind": "chat", "prompt": "x"}],
    )
    with pytest.raises(RecordError) as info:
        read_tasks([path])
    assert str(info.value).startswith(f"{path}:1: schema_version {SCHEMA_VERSION + 1}")
    assert "upgrade distill" in str(info.value)


def test_current_schema_version_is_accepted() -> None:
    task = task_from_dict(
        {"schema_version": SCHEMA_VERSION, "id": "a", "kind": "chat", "prompt": "x"}
    )
    assert task.schema_version == SCHEMA_VERSION


def test_task_is_frozen() -> None:
    task = task_from_dict({"id": "a", "kind": "chat", "prompt": "x"})
    with pytest.raises(AttributeError):
        task.id = "b"  # type: ignore[misc]


# --- samples ------------------------------------------------------------------------------


def make_sample(verdict: Verdict | None = None) -> Sample:
    return Sample(
        task_id="math-001",
        sample_index=2,
        teacher="r1",
        request_key="0123abcd",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}],
        status="ok",
        model="deepseek-reasoner",
        reasoning="two and two is four",
        reasoning_kind="raw",
        content="\\boxed{4}",
        finish_reason="stop",
        usage=Usage(prompt_tokens=10, completion_tokens=20, reasoning_tokens=15, cached_tokens=4),
        cost_usd=0.0012,
        latency_s=1.5,
        created_at="2025-01-01T00:00:00Z",
        verdict=verdict,
    )


def test_sample_round_trip_without_verdict() -> None:
    sample = make_sample()
    row = sample.to_dict()
    assert "verdict" not in row
    assert row["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "reasoning_tokens": 15,
        "cached_tokens": 4,
        "cache_write_tokens": 0,
    }
    back = sample_from_dict(json.loads(json.dumps(row)))
    assert back == sample
    assert isinstance(back.usage, Usage)
    assert back.verdict is None


def test_sample_round_trip_with_verdict() -> None:
    verdict = Verdict("answer", "1", "pass", score=1.0, reason="exact", details={"extracted": "4"})
    sample = make_sample(verdict)
    row = sample.to_dict()
    assert row["verdict"]["status"] == "pass"
    back = sample_from_dict(json.loads(json.dumps(row)))
    assert back == sample
    assert isinstance(back.verdict, Verdict)
    assert back.verdict.details == {"extracted": "4"}


def test_error_sample_round_trip() -> None:
    sample = Sample(
        task_id="t",
        sample_index=0,
        teacher="x",
        request_key="k",
        messages=[],
        status="error",
        error={"class": "RequestRejectedError", "message": "400 bad request"},
    )
    assert sample_from_dict(sample.to_dict()) == sample


def test_iter_samples_reads_a_written_file(tmp_path: Path) -> None:
    samples = [make_sample(), make_sample(Verdict("answer", "1", "fail", reason="wrong_answer"))]
    path = write_jsonl(tmp_path / "s.jsonl", [s.to_dict() for s in samples])
    assert list(iter_samples(path)) == samples


def test_sample_minimal_gets_defaults() -> None:
    sample = sample_from_dict(
        {
            "task_id": "t",
            "sample_index": 0,
            "teacher": "x",
            "request_key": "k",
            "messages": [],
            "status": "ok",
        }
    )
    assert sample.usage == Usage()
    assert sample.reasoning_kind == "none"
    assert sample.verdict is None


def test_sample_bad_status(tmp_path: Path) -> None:
    row = make_sample().to_dict() | {"status": "done"}
    path = write_jsonl(tmp_path / "s.jsonl", [row])
    with pytest.raises(RecordError) as info:
        list(iter_samples(path))
    assert str(info.value).startswith(f"{path}:1: sample status must be one of")


def test_sample_unknown_usage_field() -> None:
    row = make_sample().to_dict()
    row["usage"]["prompt_tokenz"] = 3
    with pytest.raises(RecordError, match="bad usage or verdict"):
        sample_from_dict(row, ("s.jsonl", 7))


def test_sample_missing_field_and_typo() -> None:
    row = make_sample().to_dict()
    del row["request_key"]
    with pytest.raises(RecordError, match="sample is missing 'request_key'"):
        sample_from_dict(row)
    row = make_sample().to_dict()
    row["teachr"] = row.pop("teacher")
    with pytest.raises(RecordError, match="did you mean 'teacher'"):
        sample_from_dict(row)


def test_sample_index_must_be_int() -> None:
    row = make_sample().to_dict() | {"sample_index": "2"}
    with pytest.raises(RecordError, match="'sample_index' must be int, got str"):
        sample_from_dict(row)


# --- the bundled examples -----------------------------------------------------------------


def test_bundled_example_tasks_parse() -> None:
    files = example_task_files()
    assert files, "no bundled example task files found"
    tasks = read_tasks(files)
    assert len(tasks) >= 38
    kinds = Counter(t.kind for t in tasks)
    assert kinds["math"] >= 10
    assert kinds["code"] >= 10
    assert kinds["merge"] >= 5
    assert kinds["chat"] >= 10
    for task in tasks:
        if task.kind == "math":
            assert str(task.reference.get("answer", "")).strip(), task.id
        if task.kind == "merge":
            assert str(task.reference.get("resolution", "")).strip(), task.id
