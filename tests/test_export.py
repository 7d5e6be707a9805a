"""Export end to end on synthetic graded files: formats loaded back, selection, mixing, splits."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from factories import graded_row, read_jsonl, run_cli, write_jsonl

KINDS = ("math", "code", "chat")


def task_row(i: int, kind: str, prompt: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"answer": str(i)}
    if kind == "code":
        ref = {
            "tests": {
                "public": [{"input": f"{i}\n", "output": f"{i + 1}\n"}],
                "hidden": [{"input": "1\n", "output": "2\n"}] * (i // 3 % 3),
            }
        }
    return {
        "id": f"t{i}",
        "kind": kind,
        "prompt": prompt or f"Problem number {i}: add one to {i} and explain the {kind} answer.",
        "reference": ref,
        "source": "src-a" if i % 2 else "src-b",
        "meta": {},
    }


@pytest.fixture
def graded(tmp_path: Path) -> tuple[Path, Path]:
    """24 tasks × 3 samples (pass, fail, pass) plus rows every export must drop."""
    tasks = [task_row(i, KINDS[i % 3]) for i in range(24)]
    samples = []
    for t in tasks:
        samples += [graded_row(t, 0, "pass"), graded_row(t, 1, "fail"), graded_row(t, 2, "pass")]
    t0 = tasks[0]
    samples += [
        graded_row(t0, 3, "pass", finish_reason="length"),
        graded_row(t0, 4, "pass", status="error", content=""),
        graded_row(t0, 5, "suspect"),
        graded_row(t0, 6, "pass", reasoning=""),
        graded_row(t0, 7, "pass", content="<think>leaked</think> 3"),
    ]
    return (
        write_jsonl(tmp_path / "tasks.jsonl", tasks),
        write_jsonl(tmp_path / "graded.jsonl", samples),
    )


def export(
    tmp_path: Path, graded: tuple[Path, Path], *flags: str
) -> tuple[list[Any], list[Any], dict[str, Any]]:
    tasks, samples = graded
    out = tmp_path / "out"
    result = run_cli(
        "export", "-c", str(tmp_path / "none.toml"), "--input", str(samples),
        "--tasks-file", str(tasks), "--output-dir", str(out), "--quiet", *flags,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    suffix = ".jsonl"
    train = read_jsonl(out / f"train{suffix}") if (out / f"train{suffix}").exists() else []
    val = read_jsonl(out / f"val{suffix}") if (out / f"val{suffix}").exists() else []
    return train, val, manifest


def test_correct_only_keeps_passing_complete_rows_and_counts_every_drop(
    tmp_path: Path, graded: tuple[Path, Path]
) -> None:
    train, val, manifest = export(tmp_path, graded)
    assert len(train) + len(val) == 48  # two passing samples of each of 24 tasks
    assert manifest["dropped"] == {
        "verdict_fail": 24,
        "truncated": 1,
        "harvest_error": 1,
        "verdict_suspect": 1,
        "missing_reasoning": 1,
        "malformed_reasoning": 1,
    }
    row = train[0]["messages"]
    assert [m["role"] for m in row] == ["system", "user", "assistant"]
    assert row[2]["content"].startswith("<think>\nReasoning for ")
    assert "\n</think>\n\nThe answer is " in row[2]["content"]

    # The split is by task: no task on both sides.
    def tasks_of(rows: list[Any]) -> set[str]:
        return {r["messages"][1]["content"] for r in rows}

    assert tasks_of(train).isdisjoint(tasks_of(val)) and val
    assert manifest["outputs"]["val.jsonl"]["tasks"] == round(0.1 * 24)


def test_same_inputs_and_seed_give_the_same_bytes(
    tmp_path: Path, graded: tuple[Path, Path]
) -> None:
    export(tmp_path / "a", graded, "--seed", "3", "--deduplicate")
    export(tmp_path / "b", graded, "--seed", "3", "--deduplicate")
    for name in ("train.jsonl", "val.jsonl"):
        assert (tmp_path / "a/out" / name).read_bytes() == (tmp_path / "b/out" / name).read_bytes()
    export(tmp_path / "c", graded, "--seed", "4")
    assert (tmp_path / "a/out/train.jsonl").read_bytes() != (
        tmp_path / "c/out/train.jsonl"
    ).read_bytes()


@pytest.mark.parametrize(
    ("placement", "check"),
    [
        (
            "field",
            lambda m: (
                m["reasoning_content"].startswith("Reasoning")
                and m["content"].startswith("The answer")
            ),
        ),
        (
            "answer-tags",
            lambda m: m["content"].startswith("<think>\n") and m["content"].endswith("</answer>"),
        ),
        (
            "sky-t1",
            lambda m: (
                m["content"].startswith("<|begin_of_thought|>")
                and m["content"].endswith("<|end_of_solution|>")
            ),
        ),
        ("drop", lambda m: m["content"].startswith("The answer") and "reasoning_content" not in m),
    ],
)
def test_reasoning_placements(
    tmp_path: Path, graded: tuple[Path, Path], placement: str, check: Any
) -> None:
    train, _, _ = export(tmp_path, graded, "--reasoning", placement)
    assert all(check(r["messages"][-1]) for r in train)


def test_missing_reasoning_policies(tmp_path: Path, graded: tuple[Path, Path]) -> None:
    _, _, dropped = export(tmp_path / "d", graded, "--val-fraction", "0")
    assert dropped["dropped"]["missing_reasoning"] == 1
    train, _, kept = export(
        tmp_path / "k", graded, "--missing-reasoning", "keep", "--val-fraction", "0"
    )
    assert kept["counts"]["reasoning"] == {"missing_keep": 1}
    assert sum(not r["messages"][-1]["content"].startswith("<think>") for r in train) == 1
    train, _, basic = export(
        tmp_path / "b", graded, "--missing-reasoning", "basic", "--val-fraction", "0"
    )
    assert basic["counts"]["reasoning"] == {"missing_basic": 1}
    assert all(r["messages"][-1]["content"].startswith("<think>\n") for r in train)


def test_filters_by_kind_teacher_source_and_tests(
    tmp_path: Path, graded: tuple[Path, Path]
) -> None:
    train, _val, m = export(tmp_path / "k", graded, "--kinds", "code", "--val-fraction", "0")
    assert len(train) == 16 and m["counts"]["kind"] == {"code": 16}
    train, _, m = export(tmp_path / "t", graded, "--min-test-cases", "2", "--val-fraction", "0")
    assert m["counts"]["kind"] == {"code": 10}  # code tasks with 1 or 2 hidden tests
    train, _, m = export(tmp_path / "s", graded, "--sources", "src-a", "--val-fraction", "0")
    assert m["counts"]["source"] == {"src-a": 24}
    train, _, m = export(tmp_path / "r", graded, "--teachers", "other", "--val-fraction", "0")
    assert train == [] and m["dropped"]["teacher_filtered"] == 49


def messages_rule_problems(row: dict[str, Any]) -> list[str]:
    """OpenAI chat fine-tuning rules for one line (developers.openai.com fine-tuning guide)."""
    problems = []
    if set(row) - {"messages", "tools", "parallel_tool_calls"}:
        problems.append(f"unknown keys {set(row) - {'messages'}}")
    for m in row.get("messages", []):
        if m.get("role") not in {"system", "developer", "user", "assistant", "tool"}:
            problems.append(f"role {m.get('role')!r}")
        if not isinstance(m.get("content"), str):
            problems.append("content must be a string")
        if set(m) - {"role", "content", "weight", "name", "tool_calls"}:
            problems.append(f"message keys {set(m)}")
        if "weight" in m and (m["role"] != "assistant" or m["weight"] not in (0, 1)):
            problems.append("weight must be 0 or 1 on assistant messages")
    if not any(m.get("role") == "assistant" for m in row.get("messages", [])):
        problems.append("no assistant message")
    return problems


def test_messages_follow_openai_chat_rules_and_load_in_datasets(
    tmp_path: Path, graded: tuple[Path, Path]
) -> None:
    datasets = pytest.importorskip("datasets")
    train, _, _ = export(tmp_path, graded, "--turn-weights")
    assert all(not messages_rule_problems(r) for r in train)
    assert all(r["messages"][-1]["weight"] == 1 for r in train)
    loaded = datasets.load_dataset(
        "json", data_files=str(tmp_path / "out/train.jsonl"), split="train"
    )
    assert loaded.num_rows == len(train) and "messages" in loaded.column_names


def test_field_placement_is_not_an_openai_key(tmp_path: Path, graded: tuple[Path, Path]) -> None:
    train, _, _ = export(tmp_path, graded, "--reasoning", "field")
    assert messages_rule_problems(train[0]) == [
        "message keys {'role', 'content', 'reasoning_content'}"
    ] or any("message keys" in p for p in messages_rule_problems(train[0]))


@pytest.mark.parametrize(
    ("fmt", "keys"),
    [
        ("prompt-completion", {"prompt", "completion", "metadata"}),
        ("alpaca", {"instruction", "input", "output", "system"}),
        ("sharegpt", {"conversations", "system"}),
        ("text", {"text"}),
        ("kto", {"prompt", "completion", "label"}),
    ],
)
def test_each_format_has_its_fields_and_loads_back(
    tmp_path: Path, graded: tuple[Path, Path], fmt: str, keys: set[str]
) -> None:
    datasets = pytest.importorskip("datasets")
    train, _, _ = export(tmp_path, graded, "--format", fmt, "--val-fraction", "0")
    assert train and all(set(r) == keys for r in train)
    loaded = datasets.load_dataset(
        "json", data_files=str(tmp_path / "out/train.jsonl"), split="train"
    )
    assert loaded.num_rows == len(train)
    first = train[0]
    if fmt == "prompt-completion":
        assert first["metadata"]["teacher"] == "r1" and "sample_index" in first["metadata"]
        assert first["completion"].startswith("<think>")
    if fmt == "sharegpt":
        assert [t["from"] for t in first["conversations"]] == ["human", "gpt"]
    if fmt == "text":
        assert first["text"].startswith(
            "<|im_start|>system\nBe careful.<|im_end|>\n<|im_start|>user\n"
        )
        assert first["text"].endswith("<|im_end|>\n")
    if fmt == "kto":
        labels = Counter(r["label"] for r in train)
        assert labels == {True: 48, False: 25}  # fails and the suspect sample are negatives


def test_text_templates(tmp_path: Path, graded: tuple[Path, Path]) -> None:
    train, _, _ = export(tmp_path / "i", graded, "--format", "text", "--template", "instruct")
    assert (
        "### Instruction:\n" in train[0]["text"]
        and "\n\n### Response:\n<think>" in train[0]["text"]
    )
    train, _, _ = export(tmp_path / "c", graded, "--format", "text", "--template", "chat")
    assert "Human: " in train[0]["text"] and "\n\nAssistant: <think>" in train[0]["text"]


def test_dpo_pairs_pass_with_fail_of_the_same_task(
    tmp_path: Path, graded: tuple[Path, Path]
) -> None:
    train, val, _m = export(tmp_path / "t", graded, "--format", "dpo")
    rows = train + val
    assert len(rows) == 25  # one fail per task, plus the suspect sample of t0 paired with a pass
    for r in rows:
        assert set(r) == {"prompt", "chosen", "rejected"}
        assert r["chosen"][0]["role"] == r["rejected"][0]["role"] == "assistant"
        assert r["chosen"][0]["content"] != r["rejected"][0]["content"]
    train, val, _ = export(tmp_path / "o", graded, "--format", "dpo", "--dpo-style", "openai")
    first = (train + val)[0]
    assert set(first) == {"input", "preferred_output", "non_preferred_output"}
    assert first["input"]["messages"][-1]["role"] == "user"


def test_trl_recognises_the_formats(tmp_path: Path, graded: tuple[Path, Path]) -> None:
    data_utils = pytest.importorskip("trl.data_utils")
    train, _, _ = export(tmp_path / "m", graded)
    assert data_utils.is_conversational(train[0])
    train, _, _ = export(tmp_path / "p", graded, "--format", "prompt-completion")
    assert not data_utils.is_conversational(train[0]) and {"prompt", "completion"} <= set(train[0])
    train, _, _ = export(tmp_path / "d", graded, "--format", "dpo")
    assert data_utils.is_conversational(train[0])


def test_weights_up_and_down_sample(tmp_path: Path) -> None:
    inputs = []
    for name, n in (("a", 15), ("b", 35), ("c", 52)):
        tasks = [task_row(i, "math", f"{name} question {i} with words") for i in range(n)]
        for t in tasks:
            t["id"] = f"{name}{t['id']}"
        inputs.append(
            write_jsonl(tmp_path / f"{name}.jsonl", [graded_row(t, 0, "pass") for t in tasks])
        )
    flags = [x for p in inputs for x in ("--input", str(p))]
    out = tmp_path / "out"
    result = run_cli("export", "-c", str(tmp_path / "none.toml"), *flags, "--output-dir", str(out),
                     "--weights", "0.4,0.4,0.2", "--val-fraction", "0", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["target"] for i in manifest["inputs"]] == [41, 41, 20]  # 0.4/0.4/0.2 of 102 rows
    rows = read_jsonl(out / "train.jsonl")
    by_input = Counter(r["messages"][1]["content"].split()[0] for r in rows)
    assert by_input == {"a": 41, "b": 41, "c": 20}
    a_prompts = Counter(
        r["messages"][1]["content"] for r in rows if r["messages"][1]["content"].startswith("a ")
    )
    assert sorted(set(a_prompts.values())) == [
        2,
        3,
    ]  # 15 rows repeated to 41: each twice, 11 thrice
    bad = run_cli("export", "-c", str(tmp_path / "none.toml"), *flags, "--output-dir", str(out),
                  "--fractions", "0.5,0.4,0.2")  # fmt: skip
    assert bad.returncode == 2 and "fractions must sum to 1" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    wrong = run_cli("export", "-c", str(tmp_path / "none.toml"), *flags, "--output-dir", str(out),
                    "--weights", "1,1")  # fmt: skip
    assert wrong.returncode == 2 and "2 values for 3 inputs" in wrong.stderr


def test_deduplicate_exact_and_near(tmp_path: Path) -> None:
    base = (
        "Compute the number of ways to tile a two by ten board with dominoes and explain every step"
    )
    tasks = [
        task_row(0, "math", base),
        task_row(1, "math", "  " + base.upper() + " "),  # exact after normalising
        task_row(2, "math", base + " carefully"),  # near duplicate
        task_row(3, "math", "An entirely different question about prime numbers below one hundred"),
    ]
    samples = [graded_row(t, 0, "pass") for t in tasks] + [graded_row(tasks[3], 0, "pass")]
    graded = (write_jsonl(tmp_path / "t.jsonl", tasks), write_jsonl(tmp_path / "g.jsonl", samples))
    train, _, m = export(tmp_path, graded, "--deduplicate", "--val-fraction", "0")
    assert len(train) == 2
    assert m["dropped"] == {"duplicate_prompt": 1, "near_duplicate": 1, "duplicate_row": 1}


def test_ready_made_datasets_are_inputs_too(tmp_path: Path) -> None:
    alpaca = write_jsonl(tmp_path / "alpaca.jsonl", [
        {"instruction": "Say hi", "input": "", "output": "<think>\nGreeting.\n</think>\n\nHi"},
        {"instruction": "Add", "input": "1 2", "output": "3"},
    ])  # fmt: skip
    sharegpt = write_jsonl(tmp_path / "sg.jsonl", [
        {"conversations": [{"from": "human", "value": "Name a colour"}, {"from": "gpt", "value": "Red"}]},
    ])  # fmt: skip
    out = tmp_path / "out"
    result = run_cli("export", "--input", str(alpaca), "--input", str(sharegpt), "--output-dir",
                     str(out), "--missing-reasoning", "keep", "--val-fraction", "0", "--no-shuffle",
                     "--quiet", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(out / "train.jsonl")
    assert rows[0]["messages"] == [
        {"role": "user", "content": "Say hi"},
        {"role": "assistant", "content": "<think>\nGreeting.\n</think>\n\nHi"},
    ]
    assert rows[1]["messages"][0]["content"] == "Add\n\n1 2"
    assert rows[2]["messages"][-1] == {"role": "assistant", "content": "Red"}


def test_bad_input_is_one_line_naming_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{"oops": 1\n')
    result = run_cli(
        "export", "--input", str(bad), "--output-dir", str(tmp_path / "o"), cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"distill: error: {bad}:2: malformed JSON (")
    assert len(result.stderr.strip().splitlines()) == 1
    unknown = write_jsonl(tmp_path / "u.jsonl", [{"question": "q"}])
    result = run_cli(
        "export", "--input", str(unknown), "--output-dir", str(tmp_path / "o"), cwd=tmp_path
    )
    assert result.returncode == 2 and f"{unknown}:1: not a graded sample" in result.stderr


def test_standalone_json_config_and_flags_override_it(
    tmp_path: Path, graded: tuple[Path, Path]
) -> None:
    tasks, samples = graded
    config = tmp_path / "base.json"
    config.write_text(json.dumps({
        "inputs": [str(samples)], "tasks": [str(tasks)], "format": "alpaca", "num_samples": 30,
        "val_fraction": 0.0, "output_dir": "exported",
    }))  # fmt: skip
    result = run_cli("export", "--config", str(config), "--num-samples", "20", "--quiet")
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(tmp_path / "exported/train.jsonl")
    assert len(rows) == 20 and set(rows[0]) >= {"instruction", "output"}
    config.write_text(json.dumps({"inputs": [str(samples)], "formatt": "alpaca"}))
    result = run_cli("export", "--config", str(config))
    assert (
        result.returncode == 2 and "unknown key 'formatt'; did you mean 'format'" in result.stderr
    )


def test_parquet_and_csv_files(tmp_path: Path, graded: tuple[Path, Path]) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    _tasks, samples = graded
    for file_format in ("parquet", "csv"):
        out = tmp_path / file_format
        result = run_cli("export", "--input", str(samples), "--output-dir", str(out), "--file-format",
                         file_format, "--val-fraction", "0", "--quiet", cwd=tmp_path)  # fmt: skip
        assert result.returncode == 0, result.stderr
    table = pq.read_table(tmp_path / "parquet/train.parquet")
    assert table.num_rows == 48 and table.column_names == ["messages"]
    import csv

    with (tmp_path / "csv/train.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 48 and json.loads(rows[0]["messages"])[-1]["role"] == "assistant"


def test_code_tasks_rendered_from_prompt_ids(tmp_path: Path, graded: tuple[Path, Path]) -> None:
    train, _, m = export(
        tmp_path, graded, "--type", "code", "--problem-prompt-ids", "neutral,pro_hacking",
        "--test-format-ids", "assert", "--system-prompt-ids", "helpful_coder",
        "--include-flag-prompt", "--val-fraction", "0",
    )  # fmt: skip
    assert len(train) == 16 and m["dropped"]["not_code"] == 33
    user = train[0]["messages"][1]["content"]
    assert "Your code must pass these tests:\n\nassert run(stdin=" in user
    assert "<flag>" in user
    assert train[0]["messages"][0]["content"].startswith("You are an expert software engineer")
    assert set(m["prompt_variants"]) == {
        "helpful_coder/neutral/assert",
        "helpful_coder/pro_hacking/assert",
    }
    bad = run_cli(
        "export", "--input", str(graded[1]), "--problem-prompt-ids", "sneaky", cwd=tmp_path
    )
    assert bad.returncode == 2 and "unknown problem prompt id 'sneaky'; known ids:" in bad.stderr


def test_max_tokens_drops_and_counts_long_rows(tmp_path: Path, graded: tuple[Path, Path]) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    vocab = {"[UNK]": 0, "word": 1}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    long_task = task_row(99, "math")
    samples = [graded_row(long_task, 0, "pass", reasoning="word " * 500)]
    samples += [graded_row(task_row(i, "math"), 0, "pass") for i in range(5)]
    graded = (graded[0], write_jsonl(tmp_path / "g.jsonl", samples))
    train, _, m = export(
        tmp_path, graded, "--max-tokens", "200", "--tokenizer", str(tmp_path), "--val-fraction", "0"
    )
    assert len(train) == 5 and m["dropped"] == {"too_long": 1}
    assert m["lengths"]["tokens"]["max"] > 500
    result = run_cli("export", "--input", str(graded[1]), "--max-tokens", "10", cwd=tmp_path)
    assert result.returncode == 2 and "max_tokens needs export.tokenizer" in result.stderr


def test_minhash_flags_near_copies_and_not_unrelated_prompts() -> None:
    from distill.export.dedup import NearDuplicates

    words = ["value", "prime", "sum", "graph", "edge", "count", "tree", "root", "digit", "loop"]
    near = NearDuplicates(0.85)
    prompts = [" ".join(random.Random(i).choices(words, k=40)) for i in range(500)]
    assert sum(near.seen(p) for p in prompts) == 0  # small vocabulary, yet no false match
    assert near.seen(prompts[7] + " please")
    assert not near.seen(" ".join(prompts[7].split()[:20]))  # half of it is not a near copy
