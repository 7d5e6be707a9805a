"""End to end over real HTTP: the `distill` command against the teacher simulator on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from factories import read_jsonl, run_cli, sim_stats, write_config

from distill.reasoning import assistant_text


def _outputs(out: Path) -> dict[str, bytes]:
    names = ("samples.jsonl", "graded.jsonl", "train.jsonl", "val.jsonl", "manifest.json")
    return {name: (out / name).read_bytes() for name in names}


def test_run_end_to_end_writes_only_passing_samples(tmp_path: Path, sim: str) -> None:
    config = write_config(tmp_path, sim)
    result = run_cli("run", "-c", str(config))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"

    graded = read_jsonl(out / "graded.jsonl")
    statuses = {row["verdict"]["status"] for row in graded}
    assert "pass" in statuses and "fail" in statuses  # p_correct 0.7: both kinds occur
    passing = {
        assistant_text(row["reasoning"], row["content"], "think-tags")
        for row in graded
        if row["verdict"]["status"] == "pass"
    }
    train, val = read_jsonl(out / "train.jsonl"), read_jsonl(out / "val.jsonl")
    assert train and val
    for row in train + val:
        assistant = row["messages"][-1]
        assert assistant["role"] == "assistant"
        assert assistant["content"] in passing
        assert assistant["content"].startswith("<think>\n")
        assert assistant["content"].index("</think>") < len(assistant["content"]) - 1
    # Split by task: no prompt on both sides.
    prompts = lambda rows: {r["messages"][-2]["content"] for r in rows}  # noqa: E731
    assert not prompts(train) & prompts(val)

    frame = pd.read_json(out / "train.jsonl", lines=True)
    assert list(frame.columns) == ["messages"] and len(frame) == len(train)
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    assert loaded.num_rows == len(train)
    assert loaded[0]["messages"][-1]["role"] == "assistant"

    manifest = (out / "manifest.json").read_text()
    assert '"train.jsonl"' in manifest and '"verdict_fail"' in manifest
    assert (out / "config.resolved.json").exists()


def test_second_run_sends_nothing_and_writes_the_same_bytes(tmp_path: Path, sim: str) -> None:
    config = write_config(tmp_path, sim)
    assert run_cli("run", "-c", str(config)).returncode == 0
    first = _outputs(tmp_path / "out")
    sent = sim_stats(sim)["requests"]
    assert sent == 28 * 2  # 12 math + 6 merge + 10 chat tasks, 2 samples each

    again = run_cli("run", "-c", str(config))
    assert again.returncode == 0, again.stderr
    assert sim_stats(sim)["requests"] == sent
    assert _outputs(tmp_path / "out") == first


def test_adding_a_task_sends_only_its_requests(tmp_path: Path, sim: str) -> None:
    tasks = tmp_path / "tasks.jsonl"
    base = Path(__file__).parent.parent / "prompts" / "examples" / "math.jsonl"
    lines = base.read_text().splitlines()
    tasks.write_text("\n".join(lines[:5]) + "\n")
    config = write_config(tmp_path, sim, tasks=[tasks])
    assert run_cli("harvest", "-c", str(config)).returncode == 0
    assert sim_stats(sim)["requests"] == 10
    tasks.write_text("\n".join(lines[:6]) + "\n")
    assert run_cli("harvest", "-c", str(config)).returncode == 0
    assert sim_stats(sim)["requests"] == 12
    assert len(read_jsonl(tmp_path / "out" / "samples.jsonl")) == 12


def test_export_is_deterministic_and_flags_override_config(tmp_path: Path, sim: str) -> None:
    config = write_config(tmp_path, sim)
    assert run_cli("run", "-c", str(config)).returncode == 0
    out = tmp_path / "out"
    train = (out / "train.jsonl").read_bytes()
    assert run_cli("export", "-c", str(config)).returncode == 0
    assert (out / "train.jsonl").read_bytes() == train

    everything = run_cli(
        "export",
        "-c",
        str(config),
        "--no-correct-only",
        "--val-fraction",
        "0",
        "--out-file-stem",
        "all",
    )
    assert everything.returncode == 0, everything.stderr
    graded_ok = [r for r in read_jsonl(out / "graded.jsonl") if r["finish_reason"] == "stop"]
    assert len(read_jsonl(out / "all_train.jsonl")) == len(graded_ok)
    assert read_jsonl(out / "all_val.jsonl") == []
