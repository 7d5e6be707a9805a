"""Training rows without torch: reading splits, mixing by weight, reasoning placement, splitting
long conversations at turns, train.* validation, flags, and the one-line missing-extra error."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest
from factories import ROOT, run_cli, write_jsonl

from distill.config import load_config
from distill.errors import ConfigError, InputError, RecordError
from distill.reasoning import assistant_text
from distill.train.data import (
    FIELD,
    DataReport,
    mix,
    place_reasoning,
    read_split,
    split_at_turns,
    train_files,
)


def _config(tmp_path: Path, train: str = "") -> Path:
    path = tmp_path / "distill.toml"
    path.write_text(
        f"""
name = "t"
tasks = ["tasks.jsonl"]
output_dir = "out"
[teachers.sim]
provider = "openai_compat"
model = "m"
[train]
{train}
"""
    )
    return path


def _row(user: str, answer: str, reasoning: str = "", inline: bool = True) -> dict[str, object]:
    assistant: dict[str, str] = {"role": "assistant", "content": answer}
    if reasoning and inline:
        assistant["content"] = assistant_text(reasoning, answer, "think-tags")
    elif reasoning:
        assistant[FIELD] = reasoning
    return {"messages": [{"role": "user", "content": user}, assistant]}


def test_missing_and_malformed_splits_name_the_place_and_the_fix(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    with pytest.raises(
        InputError, match=r"out/train.jsonl: no such split file; run `distill export"
    ):
        read_split(train_files(config)[0], config)
    bad = write_jsonl(
        tmp_path / "out" / "train.jsonl", [_row("q", "a"), {"prompt": "q", "completion": "a"}]
    )
    with pytest.raises(
        RecordError, match=r"train.jsonl:2: train reads `messages` rows .*completion"
    ):
        read_split(bad, config)
    write_jsonl(bad, [{"messages": [{"role": "user", "content": "q"}]}])
    with pytest.raises(RecordError, match="must end with an assistant turn"):
        read_split(bad, config)
    with pytest.raises(ConfigError, match=r'export\.file_format = "jsonl"'):
        read_split(write_jsonl(tmp_path / "out" / "train.parquet", []), config)


def test_dataset_weights_up_and_down_sample_like_export(tmp_path: Path) -> None:
    plain = load_config(_config(tmp_path))
    a_rows = read_split(
        write_jsonl(tmp_path / "a.jsonl", [_row(f"a{i}", "x") for i in range(4)]), plain
    )
    b_rows = read_split(
        write_jsonl(tmp_path / "b.jsonl", [_row(f"b{i}", "y") for i in range(8)]), plain
    )
    small = [(Path("a"), a_rows)]
    config = load_config(
        _config(tmp_path, 'datasets = ["a.jsonl", "b.jsonl"]\ndataset_weights = [3, 1]')
    )
    report = DataReport()
    mixed = mix([*small, (Path("b"), b_rows)], config, report)
    # 12 rows in all, 3:1 → 9 from a (4 rows: two whole copies + 1) and 3 from b (a subset).
    users = [r.messages[0]["content"] for r in mixed]
    assert len(mixed) == 12 and report.picked == {"a": 9, "b": 3}
    assert sum(u.startswith("a") for u in users) == 9
    assert all(users.count(f"a{i}") >= 2 for i in range(4))
    assert len({u for u in users if u.startswith("b")}) == 3
    assert mix([*small, (Path("b"), b_rows)], config, DataReport()) == mixed  # same seed
    with pytest.raises(ConfigError, match="has 2 values for 1 datasets"):
        mix(small, config, DataReport())


def test_reasoning_placement_round_trips() -> None:
    inline = _row("q", "42", "think hard")["messages"]
    field = _row("q", "42", "think hard", inline=False)["messages"]
    assert isinstance(inline, list) and isinstance(field, list)
    assert place_reasoning(inline, "field")[-1] == {
        "role": "assistant",
        "content": "42",
        FIELD: "think hard",
    }
    assert place_reasoning(field, "think-tags") == inline  # export's own think-tags text
    assert place_reasoning(inline, "drop")[-1] == {"role": "assistant", "content": "42"}
    assert place_reasoning(field, "drop")[-1] == {"role": "assistant", "content": "42"}


def test_long_conversations_split_at_turns_never_mid_answer() -> None:
    def turn(role: str, words: int) -> dict[str, str]:
        return {"role": role, "content": " ".join([role] * words)}

    conversation = [turn("system", 2), turn("user", 3), turn("assistant", 3),
                    turn("user", 3), turn("assistant", 30), turn("user", 2), turn("assistant", 2),
                    turn("user", 1), turn("assistant", 1)]  # fmt: skip

    def fits(messages: list[dict[str, str]]) -> bool:
        return sum(len(m["content"].split()) for m in messages) <= 12

    pieces, dropped = split_at_turns(conversation, fits)
    assert dropped == 1  # the 30-word answer cannot fit alone: dropped, not cut
    assert [[len(m["content"].split()) for m in p] for p in pieces] == [
        [2, 3, 3],
        [2, 2, 2, 1, 1],
    ]
    assert all(p[0]["role"] == "system" and p[-1]["role"] == "assistant" for p in pieces)


def test_train_settings_are_validated_with_the_key(tmp_path: Path) -> None:
    cases = {
        'datasets = ["a", "b"]\ndataset_weights = [1.0]': "train.dataset_weights has 1 values for 2",
        'chat_template = "llama"': "train.chat_template = 'llama': use model, chatml",
        'overlong = "truncate"': "train.overlong must be one of drop, split",
        "lora_rank = 0": "train.lora_rank must be at least 1",
        'eval.base_url = "http://127.0.0.1:1/v1"': "train.eval.base_url needs train.eval.server_model",
        "epochs = 0": "train.epochs must be positive",
    }
    for body, message in cases.items():
        with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
            load_config(_config(tmp_path, body))


def test_flags_become_config_keys_with_paths_from_the_cwd(tmp_path: Path) -> None:
    from distill.cli.flags import TRAIN_FLAGS, flag_overrides

    args = argparse.Namespace(
        base_model="Qwen/Qwen2.5-0.5B-Instruct",  # a hub id stays as it is
        datasets=["a.jsonl", "b.jsonl"],
        dataset_weights=[0.3, 0.7],
        student_dir="run1",
        resume_from_checkpoint="latest",
        merge_adapters=True,
    )
    got = flag_overrides(args, TRAIN_FLAGS)
    cwd = Path.cwd()
    assert got == [
        'train.base_model="Qwen/Qwen2.5-0.5B-Instruct"',
        f"train.datasets={json.dumps([str(cwd / 'a.jsonl'), str(cwd / 'b.jsonl')])}",
        "train.dataset_weights=[0.3, 0.7]",
        f"train.output_dir={json.dumps(str(cwd / 'run1'))}",
        'train.resume_from_checkpoint="latest"',
        "train.merge_adapters=true",
    ]
    given = argparse.Namespace(resume_from_checkpoint="ck/checkpoint-5")
    assert flag_overrides(given, TRAIN_FLAGS) == [
        f"train.resume_from_checkpoint={json.dumps(str(cwd / 'ck' / 'checkpoint-5'))}"
    ]


def test_without_the_train_extra_one_line_says_what_to_install(tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "torch"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError(\"No module named 'torch'\")\n")
    (tmp_path / "tasks.jsonl").write_text("")
    write_jsonl(tmp_path / "out" / "train.jsonl", [_row("q", "a")])
    (tmp_path / "base").mkdir()
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "shim"), str(ROOT)])}
    config = _config(tmp_path)
    result = run_cli("train", "-c", str(config), "--base-model", str(tmp_path / "base"), env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("distill: error: `distill train` needs the train extra")
    assert lines[0].endswith("install it with: pip install -e '.[train]'")
