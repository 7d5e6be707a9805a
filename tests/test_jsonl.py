"""distill.jsonl: the one JSONL reader and writer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distill.errors import InputError, RecordError
from distill.jsonl import (
    MALFORMED,
    NOT_AN_OBJECT,
    NOT_UTF8,
    BadLine,
    JsonlAppender,
    dumps_line,
    dumps_line_fast,
    iter_jsonl,
    iter_lines,
    parse_line,
    write_jsonl_atomic,
)


def leftovers(directory: Path, keep: str) -> list[str]:
    """Every file in directory except keep (a temp file left behind shows up here)."""
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


# --- reading ------------------------------------------------------------------------------


def test_iter_jsonl_yields_line_numbers_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"b": "two"}\n\t\n{"c": [3]}\n', encoding="utf-8")
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, {"b": "two"}), (6, {"c": [3]})]


def test_iter_jsonl_reads_last_line_without_newline_and_unicode(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": "é"}\n{"b": "日本"}', encoding="utf-8")
    assert list(iter_jsonl(str(path))) == [(1, {"a": "é"}), (2, {"b": "日本"})]


def test_malformed_json_names_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"b": 2,}\n{"c": 3}\n', encoding="utf-8")
    rows = iter_jsonl(path)
    assert next(rows) == (1, {"a": 1})
    with pytest.raises(RecordError) as info:
        next(rows)
    assert str(info.value).startswith(f"{path}:3: malformed JSON")
    assert info.value.line == 3
    assert info.value.path == str(path)
    assert isinstance(info.value, InputError)


@pytest.mark.parametrize(
    ("line", "typename"),
    [("[1, 2]", "list"), ('"text"', "str"), ("42", "int"), ("null", "NoneType")],
)
def test_non_object_line_is_a_record_error(tmp_path: Path, line: str, typename: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"ok": true}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(RecordError) as info:
        list(iter_jsonl(path))
    assert str(info.value) == f"{path}:2: expected a JSON object, got {typename}"


def test_invalid_utf8_is_a_record_error(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": "\xff\xfe"}\n')
    with pytest.raises(RecordError) as info:
        list(iter_jsonl(path))
    assert str(info.value) == f"{path}:1: not valid UTF-8"


def test_invalid_utf8_names_the_right_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": "\xff"}\n')
    with pytest.raises(RecordError) as info:
        list(iter_jsonl(path))
    assert info.value.line == 3


def test_missing_file_is_an_input_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "missing.jsonl"
    with pytest.raises(InputError) as info:
        list(iter_jsonl(path))
    assert not isinstance(info.value, RecordError)
    assert str(path) in str(info.value)
    assert "no such file" in str(info.value)


def test_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        list(iter_jsonl(tmp_path))
    assert str(tmp_path) in str(info.value)


def test_the_reader_is_exact_for_values_orjson_cannot_hold(tmp_path: Path) -> None:
    # orjson turns ints past 64 bits into floats and refuses NaN; tasks and samples keep both.
    path = tmp_path / "rows.jsonl"
    path.write_text('{"big": 123456789012345678901234567890}\n{"x": NaN}\n', encoding="utf-8")
    rows = [obj for _, obj in iter_jsonl(path)]
    assert rows[0] == {"big": 123456789012345678901234567890}
    assert rows[1]["x"] != rows[1]["x"]  # NaN


def test_the_fast_parser_matches_the_standard_one_on_ordinary_rows() -> None:
    raw = '{"a": 1, "b": "é \\u2028 \\ud83d\\ude00", "c": [1.5e-05, null, true], "d": {}}'
    assert parse_line(raw, "x", 1, fast=True) == parse_line(raw, "x", 1) == json.loads(raw)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"x": NaN}', "malformed JSON (NaN, Infinity or an unpaired surrogate, which export "
                        "refuses)"),
        (b'{"a": 1,}', "malformed JSON (Expecting property name enclosed in double quotes at "
                       "column 9)"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
    ],
)  # fmt: skip
def test_the_fast_parser_names_what_it_refuses(raw: bytes, problem: str) -> None:
    with pytest.raises(BadLine) as info:
        parse_line(raw, "graded.jsonl", 3, fast=True)
    assert str(info.value) == f"graded.jsonl:3: {problem}"


@pytest.mark.parametrize(
    ("raw", "reason", "problem"),
    [
        (b'{"a": 1,}', MALFORMED, "malformed JSON (Expecting property name enclosed in double "
                                  "quotes at column 9)"),
        (b"[1]", NOT_AN_OBJECT, "expected a JSON object, got list"),
        (b'{"a": "\xff"}', NOT_UTF8, "not valid UTF-8"),
        ('{"a": 1', MALFORMED, "malformed JSON (Expecting ',' delimiter at column 8)"),
    ],
)  # fmt: skip
def test_parse_line_names_the_reason_and_the_place(
    raw: bytes | str, reason: str, problem: str
) -> None:
    with pytest.raises(BadLine) as info:
        parse_line(raw, "data/x.jsonl", 7)
    assert isinstance(info.value, RecordError)
    assert (info.value.reason, info.value.problem) == (reason, problem)
    assert str(info.value) == f"data/x.jsonl:7: {problem}"


def test_parse_line_takes_text_and_bytes_alike() -> None:
    assert parse_line('{"a": "é"}\n', "x", 1) == parse_line('{"a": "é"}\n'.encode(), "x", 1)


def test_iter_lines_offsets_seek_back_to_each_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"b": "é"}\n{"c": 3}', encoding="utf-8")
    lines = list(iter_lines(path))
    assert [n for n, _, _ in lines] == [1, 3, 4]
    with path.open("rb") as handle:
        for _, offset, raw in lines:
            handle.seek(offset)
            assert handle.read(len(raw)) == raw


def test_iter_lines_adds_the_hint_to_an_open_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.jsonl"
    with pytest.raises(InputError) as info:
        list(iter_lines(path, hint="check export.inputs"))
    assert str(info.value) == f"{path}: no such file; check export.inputs"


def test_on_bad_skips_bad_lines_and_sees_each_one(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(b'{"a": 1}\n[2]\n{"b": 2}\n{"torn": \n')
    seen: list[tuple[int, str]] = []
    rows = list(iter_jsonl(path, on_bad=lambda bad: seen.append((bad.line, bad.reason))))
    assert rows == [(1, {"a": 1}), (3, {"b": 2})]
    assert seen == [(2, NOT_AN_OBJECT), (4, MALFORMED)]


# --- atomic writes ------------------------------------------------------------------------


def test_write_jsonl_atomic_writes_rows_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.jsonl"
    rows: list[dict[str, Any]] = [{"a": 1}, {"b": "é", "c": [1, 2]}]
    assert write_jsonl_atomic(path, iter(rows)) == 2
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert "é" in text  # UTF-8 kept as is, not \u-escaped
    assert [json.loads(line) for line in text.splitlines()] == rows
    assert [obj for _, obj in iter_jsonl(path)] == rows
    assert leftovers(path.parent, "out.jsonl") == []


def test_write_jsonl_atomic_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"old": 1}\n{"old": 2}\n{"old": 3}\n', encoding="utf-8")
    assert write_jsonl_atomic(path, [{"new": 1}]) == 1
    assert path.read_text(encoding="utf-8") == '{"new":1}\n'
    assert leftovers(tmp_path, "out.jsonl") == []


def test_write_jsonl_atomic_with_no_rows_writes_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"old": 1}\n', encoding="utf-8")
    assert write_jsonl_atomic(path, []) == 0
    assert path.read_bytes() == b""


def test_write_jsonl_atomic_failure_midway_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    old = '{"old": 1}\n{"old": 2}\n'
    path.write_text(old, encoding="utf-8")
    written: list[int] = []

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(5):
            if i == 3:
                raise RuntimeError("generator died")
            written.append(i)
            yield {"new": i}

    with pytest.raises(RuntimeError, match="generator died"):
        write_jsonl_atomic(path, rows())
    assert written == [0, 1, 2]  # it really did fail midway, not before starting
    assert path.read_text(encoding="utf-8") == old
    assert leftovers(tmp_path, "out.jsonl") == []


def test_write_jsonl_atomic_failure_on_a_new_path_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"

    def rows() -> Iterator[dict[str, Any]]:
        yield {"a": 1}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_jsonl_atomic(path, rows())
    assert list(tmp_path.iterdir()) == []


def test_write_jsonl_atomic_unserialisable_row_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"old": 1}\n', encoding="utf-8")
    with pytest.raises(TypeError):
        write_jsonl_atomic(path, [{"ok": 1}, {"bad": object()}])
    assert path.read_text(encoding="utf-8") == '{"old": 1}\n'
    assert leftovers(tmp_path, "out.jsonl") == []


ROWS: list[dict[str, Any]] = [
    {"a": 1, "b": "é 日本 \u2028", "c": [1, 2.5, None, True], "d": {"e": 'x\ny"z'}},
    {"big": 2**70, "neg": -3, "empty": {}, "s": "</think>"},
]


def test_the_fast_writer_writes_the_bytes_the_standard_one_does() -> None:
    for row in ROWS:
        assert dumps_line_fast(row) == dumps_line(row)
        assert json.loads(dumps_line_fast(row)) == row


def test_write_jsonl_atomic_fast_reads_back_the_same_rows(tmp_path: Path) -> None:
    fast, plain = tmp_path / "fast.jsonl", tmp_path / "plain.jsonl"
    assert write_jsonl_atomic(fast, ROWS, fast=True) == 2
    write_jsonl_atomic(plain, ROWS)
    assert fast.read_bytes() == plain.read_bytes()
    assert [obj for _, obj in iter_jsonl(fast)] == ROWS
    assert leftovers(tmp_path, "fast.jsonl") == ["plain.jsonl"]


# --- appending ----------------------------------------------------------------------------


def test_appender_appends_flushed_lines(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "samples.jsonl"
    with JsonlAppender(path) as out:
        out.append({"a": 1})
        # flushed: visible to a reader before close
        assert path.read_text(encoding="utf-8") == '{"a":1}\n'
        out.append({"b": 2})
    with JsonlAppender(path) as out:
        out.append({"c": 3})
    assert [obj for _, obj in iter_jsonl(path)] == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_appender_cuts_a_torn_last_line_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n{"c":3, "tor')
    with JsonlAppender(path) as out:
        out.append({"d": 4})
    assert path.read_text(encoding="utf-8") == '{"a":1}\n{"b":2}\n{"d":4}\n'
    assert [n for n, _ in iter_jsonl(path)] == [1, 2, 3]


def test_appender_cuts_a_file_that_is_only_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"half": ')
    with JsonlAppender(path) as out:
        out.append({"a": 1})
    assert path.read_text(encoding="utf-8") == '{"a":1}\n'


def test_appender_cuts_a_torn_line_longer_than_one_read_block(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    torn = b'{"long": "' + b"x" * 200_000
    path.write_bytes(b'{"a":1}\n' + torn)
    with JsonlAppender(path) as out:
        out.append({"b": 2})
    assert path.read_text(encoding="utf-8") == '{"a":1}\n{"b":2}\n'


def test_appender_keeps_a_complete_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n')
    JsonlAppender(path).close()
    assert path.read_bytes() == b'{"a":1}\n{"b":2}\n'
