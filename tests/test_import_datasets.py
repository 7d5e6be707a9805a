"""Instruction-dataset importers, the shared machinery (ids, dedup, sampling, bad rows), the
file readers and the `distill import` command."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from factories import write_jsonl

from distill.cli import main
from distill.errors import InputError
from distill.records import Task, read_tasks
from distill.sources import FORMATS, ImportContext, import_files


def run(
    fmt: str, *paths: Path, skip_bad: bool = False, **options: Any
) -> tuple[list[Task], ImportContext]:
    ctx = ImportContext(options.pop("source", fmt), skip_bad, options)
    max_samples, seed = options.pop("max_samples", None), options.pop("seed", 0)
    return import_files(fmt, paths, ctx, max_samples, seed), ctx


ALPACA = [
    {"instruction": "Name a colour.", "input": "", "output": "Blue."},
    {"instruction": "Translate to French.", "input": "cat", "output": "chat"},
    {"instruction": "Say hi.", "input": "", "output": ""},
]


def test_alpaca_keeps_the_reference_output_and_appends_the_input(tmp_path: Path) -> None:
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(ALPACA, indent=2))
    tasks, ctx = run("alpaca", path)
    assert [t.prompt for t in tasks] == ["Name a colour.", "Translate to French.\n\ncat", "Say hi."]
    assert [t.reference for t in tasks] == [{"output": "Blue."}, {"output": "chat"}, {}]
    assert {t.kind for t in tasks} == {"chat"} and {t.source for t in tasks} == {"alpaca"}
    assert all(t.messages is None for t in tasks)
    assert ctx.stats.rows == 3 and ctx.stats.imported == 3


def test_ids_are_stable_and_depend_on_source_and_content(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", ALPACA)
    first, _ = run("alpaca", path)
    again, _ = run("alpaca", path)
    assert [t.id for t in first] == [t.id for t in again]
    assert len({t.id for t in first}) == 3 and all(t.id.startswith("alpaca-") for t in first)
    renamed, _ = run("alpaca", path, source="Team Set")
    assert renamed[0].id.startswith("team-set-") and renamed[0].id != first[0].id
    # the same prompt from another format is the same content under another source
    assert run("sft", path)[0][0].id != first[0].id


def test_exact_duplicates_are_dropped_and_counted(tmp_path: Path) -> None:
    rows = [*ALPACA, ALPACA[0], {**ALPACA[1], "output": "un chat"}]
    tasks, ctx = run("alpaca", write_jsonl(tmp_path / "a.jsonl", rows))
    assert len(tasks) == 3 and ctx.stats.duplicates == 2
    assert tasks[1].reference == {"output": "chat"}  # the first one is kept


def test_max_samples_is_a_seeded_ordered_sample(tmp_path: Path) -> None:
    rows = [{"instruction": f"Question {i}?", "output": str(i)} for i in range(50)]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    a, ctx = run("alpaca", path, max_samples=10, seed=1)
    b, _ = run("alpaca", path, max_samples=10, seed=1)
    c, _ = run("alpaca", path, max_samples=10, seed=2)
    assert [t.id for t in a] == [t.id for t in b] != [t.id for t in c]
    numbers = [int(t.reference["output"]) for t in a]
    assert numbers == sorted(numbers) and len(set(numbers)) == 10
    assert ctx.stats.sampled_out == 40 and ctx.stats.imported == 10


def test_bad_rows_name_file_and_line_or_are_counted_with_skip_bad(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        json.dumps(ALPACA[0]) + "\n\n"
        + '{"instruction": "broken",\n'
        + json.dumps({"input": "no instruction"}) + "\n"
        + "[1, 2]\n"
        + json.dumps({"instruction": ["not", "text"]}) + "\n"
        + json.dumps(ALPACA[1]) + "\n"
    )  # fmt: skip
    with pytest.raises(InputError) as error:
        run("alpaca", path)
    assert str(error.value).startswith(f"{path}:3: malformed JSON")
    assert "--skip-bad" in str(error.value)
    tasks, ctx = run("alpaca", path, skip_bad=True)
    assert len(tasks) == 2
    assert dict(ctx.stats.bad) == {
        "malformed JSON": 1,
        "missing 'instruction'": 1,
        "not an object": 1,
        "bad field 'instruction'": 1,
    }
    with pytest.raises(
        InputError, match=rf"^{path}:2: missing field 'instruction' \(row has no fields\)"
    ):
        run("alpaca", write_jsonl(path, [ALPACA[0], {}, {"input": "x"}]))


def test_json_array_rows_are_named_by_the_line_they_start_on(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([ALPACA[0], {"output": "no instruction"}], indent=2))
    with pytest.raises(InputError, match=rf"^{path}:7: missing field 'instruction'"):
        run("alpaca", path)
    path.write_text('[\n  {"instruction": "x"},\n  {"instruction": \n]')
    with pytest.raises(InputError, match=rf"^{path}:4: malformed JSON"):
        run("alpaca", path)


def test_dolly_appends_context_and_keeps_category(tmp_path: Path) -> None:
    row = {
        "instruction": "Summarise.",
        "context": "Long text.",
        "response": "Short.",
        "category": "summarization",
    }
    [task], _ = run("dolly", write_jsonl(tmp_path / "d.jsonl", [row]))
    assert task.prompt == "Summarise.\n\nLong text."
    assert task.reference == {"output": "Short."} and task.meta == {"category": "summarization"}


def msg(
    mid: str,
    parent: str | None,
    role: str,
    text: str,
    rank: int | None = None,
    lang: str = "en",
    **kw: Any,
) -> dict[str, Any]:
    return {"message_id": mid, "parent_id": parent, "role": role, "text": text, "rank": rank,
            "lang": lang, "message_tree_id": "t-" + (parent or mid)[:1], **kw}  # fmt: skip


OASST = [
    msg("a", None, "prompter", "What is 2+2?"),
    msg("a1", "a", "assistant", "Five.", rank=1),
    msg("a2", "a", "assistant", "Four.", rank=0),
    msg("a3", "a", "assistant", "Deleted.", rank=None, deleted=True),
    msg("a21", "a2", "prompter", "And 3+3?"),
    msg("a211", "a21", "assistant", "Six, unranked."),
    msg("a22", "a2", "prompter", "Thanks! Unanswered."),
    msg("b", None, "prompter", "Wie spät ist es?", lang="de"),
    msg("b1", "b", "assistant", "Keine Ahnung.", rank=0, lang="de"),
    msg("c", None, "prompter", "Lonely prompt."),
]


def test_oasst1_follows_the_best_ranked_reply_at_every_turn(tmp_path: Path) -> None:
    tasks, ctx = run("oasst1", write_jsonl(tmp_path / "o.jsonl", OASST), lang="en")
    first, lonely = tasks
    assert first.messages == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "Four."},
        {"role": "user", "content": "And 3+3?"},
    ]
    assert first.reference == {"output": "Six, unranked."}
    assert first.meta == {"message_tree_id": "t-a", "lang": "en", "turns": 4}
    assert lonely.prompt == "Lonely prompt." and lonely.reference == {}
    assert ctx.stats.skipped == {"other language": 1, "deleted message": 1}
    everything, _ = run("oasst1", tmp_path / "o.jsonl")
    assert len(everything) == 3


def test_oasst1_nested_trees_export_gives_the_same_conversation(tmp_path: Path) -> None:
    def nest(mid: str) -> dict[str, Any]:
        node = dict(next(m for m in OASST if m["message_id"] == mid))
        node["replies"] = [nest(m["message_id"]) for m in OASST if m["parent_id"] == mid]
        return node

    tree = {"message_tree_id": "t-a", "tree_state": "ready_for_export", "prompt": nest("a")}
    flat, _ = run("oasst1", write_jsonl(tmp_path / "o.jsonl", OASST[:7]))
    nested, ctx = run("oasst1", write_jsonl(tmp_path / "trees.jsonl", [tree]))
    assert [t.messages for t in nested] == [t.messages for t in flat]
    assert [t.reference for t in nested] == [t.reference for t in flat]
    assert ctx.stats.skipped == {"deleted message": 1}


def test_sharegpt_multi_turn_ends_on_the_user_with_the_last_reply_as_reference(
    tmp_path: Path,
) -> None:
    rows = [
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"},
                           {"from": "human", "value": "Tell a joke"}, {"from": "gpt", "value": "No."}],
         "system": "Be brief."},
        {"messages": [{"role": "user", "content": "One turn"}, {"role": "assistant", "content": "Yes"}]},
        {"conversations": [{"from": "robot", "value": "?"}]},
    ]  # fmt: skip
    tasks, ctx = run("sharegpt", write_jsonl(tmp_path / "s.jsonl", rows), skip_bad=True)
    multi, single = tasks
    assert multi.messages is not None and [m["role"] for m in multi.messages] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    assert multi.reference == {"output": "No."}
    assert single.prompt == "One turn" and single.reference == {"output": "Yes"}
    assert dict(ctx.stats.bad) == {"unknown speaker": 1}


def test_csv_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "q,ctx,a,sys,topic\n"
        '"What is, in words, 1+1?",extra,two,Be exact.,arith\n'
        '"Multi\nline",,three,,misc\n'
    )
    tasks, _ = run("csv", path, prompt_column="q", input_column=["ctx"], output_column="a",
                   system_column="sys", meta_column=["topic"])  # fmt: skip
    first, second = tasks
    assert first.messages == [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "What is, in words, 1+1?\n\nextra"},
    ]
    assert first.reference == {"output": "two"} and first.meta == {"topic": "arith"}
    assert second.prompt == "Multi\nline" and second.reference == {"output": "three"}
    maths, _ = run("csv", path, prompt_column="q", answer_column="a", answer_type="short")
    assert [t.kind for t in maths] == ["math", "math"]
    assert maths[0].reference == {"answer": "two"} and maths[0].meta == {"answer_type": "short"}
    with pytest.raises(InputError, match=rf"^{path}:2: missing field 'question'"):
        run("csv", path, prompt_column="question")
    tsv = tmp_path / "t.tsv"
    tsv.write_text("prompt\tresponse\nhello\tworld\nonly one column\n")
    tasks, ctx = run("csv", tsv, output_column="response", skip_bad=True)
    assert tasks[0].reference == {"output": "world"}
    assert dict(ctx.stats.bad) == {"wrong column count": 1}


def test_seed_style_dpo_and_kto(tmp_path: Path) -> None:
    dpo_rows = [
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."},
        {"prompt": [{"role": "user", "content": "2+2?"}],
         "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]},
    ]  # fmt: skip
    dpo, _ = run("dpo", write_jsonl(tmp_path / "dpo.jsonl", dpo_rows))
    assert [t.reference for t in dpo] == [
        {"output": "Paris.", "rejected": "Lyon."},
        {"output": "4", "rejected": "5"},
    ]
    assert dpo[1].prompt == "2+2?"
    kto_rows = [
        {"prompt": "Capital of Spain?", "completion": "Barcelona.", "label": False},
        {"prompt": "Capital of Spain?", "completion": "Madrid.", "label": True},
        {"prompt": "Capital of Spain?", "completion": "Madrid!", "label": "true"},
        {"prompt": "Colour of the sky?", "completion": "Blue.", "label": "maybe"},
    ]
    kto, ctx = run("kto", write_jsonl(tmp_path / "kto.jsonl", kto_rows), skip_bad=True)
    assert len(kto) == 1 and kto[0].reference == {"output": "Madrid.", "rejected": "Barcelona."}
    assert dict(ctx.stats.bad) == {"bad 'label'": 1}
    sft, _ = run(
        "sft",
        write_jsonl(tmp_path / "sft.jsonl", [{"instruction": "I", "input": "N", "output": "O"}]),
    )
    assert (sft[0].prompt, sft[0].reference) == ("I\n\nN", {"output": "O"})


def test_gzip_parquet_and_folders(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in ALPACA)
    gz, _ = run("alpaca", tmp_path / "a.jsonl.gz")
    import pandas as pd  # type: ignore[import-untyped]

    pd.DataFrame(ALPACA).to_parquet(tmp_path / "a.parquet")
    parquet, _ = run("alpaca", tmp_path / "a.parquet")
    assert [t.id for t in gz] == [t.id for t in parquet] and len(gz) == 3
    folder = tmp_path / "many"
    (folder / "sub").mkdir(parents=True)
    for i, row in enumerate(ALPACA):
        (folder / "sub" / f"{i}.json").write_text(json.dumps(row))
    (folder / "notes.txt").write_text("ignored")
    assert {t.id for t in run("alpaca", folder)[0]} == {t.id for t in gz}
    with pytest.raises(InputError, match=r"unknown file type '\.txt'"):
        run("alpaca", folder / "notes.txt")
    with pytest.raises(InputError, match="no such file"):
        run("alpaca", tmp_path / "missing.jsonl")


def test_every_format_is_registered() -> None:
    assert set(FORMATS) == {"alpaca", "dolly", "oasst1", "sharegpt", "csv", "sft", "dpo", "kto",
                            "apps", "taco", "livecodebench", "code", "gsm8k", "math", "qa"}  # fmt: skip


def test_cli_import_summary_append_and_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(tmp_path / "a.jsonl", [*ALPACA, ALPACA[0], {"input": "bad"}])
    out = tmp_path / "tasks.jsonl"
    assert main(["import", "alpaca", str(data), "-o", str(out)]) == 2
    assert f"{data}:5: missing field 'instruction'" in capsys.readouterr().err
    assert not out.exists()
    assert (
        main(["import", "alpaca", str(data), "-o", str(out), "--skip-bad", "--max-samples", "2"])
        == 0
    )
    table = capsys.readouterr().out
    for label in (
        "rows read",
        "bad row: missing 'instruction'",
        "duplicates dropped",
        "left out by --max-samples",
        "imported",
    ):
        assert label in table, table
    assert len(read_tasks([out])) == 2
    assert (
        main(["import", "alpaca", str(data), "-o", str(out), "--skip-bad", "--append", "--quiet"])
        == 0
    )
    assert capsys.readouterr().out == ""
    tasks = read_tasks([out])  # read_tasks refuses duplicate ids: re-import added only new ones
    assert len(tasks) == 3
