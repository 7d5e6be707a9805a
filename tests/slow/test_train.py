"""The LoRA trainer and the student eval end to end, on the CPU, offline.

The demo export comes from the real pipeline against the teacher simulator; the student is a
tiny randomly initialised Llama with a BPE tokenizer trained here on that export (no download).
It trains 30 LoRA steps, resumes, merges, reloads, generates, and is graded by the real graders,
locally and through the simulator acting as an OpenAI-compatible student server.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from factories import ROOT, read_jsonl, run_cli  # noqa: E402

from distill.cli import main  # noqa: E402
from distill.config import Config, load_config  # noqa: E402
from distill.errors import ConfigError  # noqa: E402
from distill.grade.registry import GRADERS  # noqa: E402
from distill.sim import SimConfig, running_sim  # noqa: E402
from distill.train.evaluate import run_eval  # noqa: E402
from distill.train.runner import TrainResult, run_train  # noqa: E402
from distill.train.templates import CHATML  # noqa: E402
from distill.train.tiny import build_tiny_model, corpus_of  # noqa: E402
from distill.train.trainer import TrainSession, build_trainer  # noqa: E402

DEMO = ROOT / "configs" / "demo.toml"
# peft and trl call a deprecated transformers property on every model load; nothing to act on.
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
MAX_LENGTH = 1024


@dataclass
class Demo:
    out: Path
    cache: Path
    model: Path
    sim_url: str

    def overrides(self, **train: Any) -> list[str]:
        values = {
            "base_model": str(self.model),
            "chat_template": "chatml",
            "max_steps": 30,
            "save_steps": 15,
            "logging_steps": 5,
            "batch_size": 2,
            "grad_accumulation": 1,
            "learning_rate": 3e-3,
            "lora_rank": 8,
            "lora_alpha": 16,
            "threads": 1,
            "max_length": MAX_LENGTH,
        } | train
        return [
            f"output_dir={json.dumps(str(self.out))}",
            f"cache_dir={json.dumps(str(self.cache))}",
            f"teachers.sim.base_url={json.dumps(self.sim_url)}",
            *(f"train.{k}={json.dumps(v)}" for k, v in values.items()),
        ]

    def config(self, **train: Any) -> Config:
        return load_config(DEMO, self.overrides(**train))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """`distill run` on the demo config against the simulator, then a tiny model for its rows."""
    torch.set_num_threads(1)  # 2 shared cores on CI: one thread is faster and steadier
    base = tmp_path_factory.mktemp("demo")
    with running_sim(SimConfig(seed=7, p_correct=0.7)) as url:
        result = run_cli(
            "run", "-c", str(DEMO), "--quiet", "--output-dir", str(base / "out"),
            "--set", f"cache_dir={json.dumps(str(base / 'cache'))}",
            "--set", f"teachers.sim.base_url={json.dumps(url)}",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(base / "out" / "train.jsonl") + read_jsonl(base / "out" / "val.jsonl")
    model = build_tiny_model(base / "tiny", corpus_of(rows))
    return Demo(base / "out", base / "cache", model, url)


@pytest.fixture(scope="module")
def trained(demo: Demo) -> tuple[Config, TrainSession, TrainResult]:
    config = demo.config(merge_adapters=True, do_gen_test=True, gen_max_new_tokens=12)
    session = build_trainer(config)
    return config, session, run_train(config, session)


def _expected_turns(demo: Demo) -> dict[str, set[str]]:
    """User prompt → the assistant texts exported for it (think-tags inline)."""
    turns: dict[str, set[str]] = {}
    for row in read_jsonl(demo.out / "train.jsonl"):
        user = [m["content"] for m in row["messages"] if m["role"] == "user"][-1]
        turns.setdefault(user, set()).add(row["messages"][-1]["content"])
    return turns


def test_only_assistant_tokens_carry_loss(
    demo: Demo, trained: tuple[Config, TrainSession, TrainResult]
) -> None:
    _, session, result = trained
    tokenizer = session.tokenizer
    expected = _expected_turns(demo)
    dataset = session.trainer.train_dataset
    assert len(dataset) == result.train_rows > 0
    for example in dataset:
        ids, labels = example["input_ids"], example["labels"]
        trained_ids = [t for t, label in zip(ids, labels, strict=True) if label != -100]
        context = tokenizer.decode([t for t, lab in zip(ids, labels, strict=True) if lab == -100])
        text = tokenizer.decode(trained_ids)
        # The loss covers the whole assistant turn, reasoning first, and its end-of-turn token;
        # the system prompt, the user turn and the assistant header carry none.
        assert text.endswith("<|im_end|>") and text.startswith("<think>\n")
        user = context.split("<|im_start|>user\n", 1)[1].split("<|im_end|>", 1)[0]
        assert text.removesuffix("<|im_end|>") in expected[user]
        assert context.endswith("<|im_start|>assistant\n\n")  # header before, newline after
        assert "<think>" not in context
    # Rows longer than max_length were dropped and counted, never truncated.
    lengths = [
        len(
            tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=True)[
                "input_ids"
            ]
        )
        for row in read_jsonl(demo.out / "train.jsonl")
    ]
    assert result.dropped.get("overlong", 0) == sum(n > MAX_LENGTH for n in lengths)
    assert result.train_rows == sum(n <= MAX_LENGTH for n in lengths)


def test_thirty_steps_checkpoints_and_manifest(
    trained: tuple[Config, TrainSession, TrainResult],
) -> None:
    _, session, result = trained
    assert result.global_step == 30
    for step in (15, 30):
        checkpoint = session.out / "checkpoints" / f"checkpoint-{step}"
        for name in ("adapter_model.safetensors", "optimizer.pt", "trainer_state.json"):
            assert (checkpoint / name).exists(), checkpoint / name
    manifest = json.loads(result.manifest_path.read_text())
    losses = [entry["loss"] for entry in manifest["log_history"] if "loss" in entry]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert result.eval_loss is not None and manifest["result"]["eval_loss"] == result.eval_loss
    assert manifest["chat_template"] == "chatml" and manifest["eot_token"] == "<|im_end|>"
    assert manifest["reasoning"] == "field"  # chatml renders reasoning_content itself
    assert manifest["data"]["train_rows"] == result.train_rows
    assert 0 < manifest["data"]["trained_tokens"] < manifest["data"]["total_tokens"]
    assert manifest["versions"]["torch"].startswith("2.")
    assert result.tokens > 0 and result.tokens_per_s > 0


def test_merged_model_matches_adapter_and_generates(
    trained: tuple[Config, TrainSession, TrainResult],
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distill.train.generate import generate, load_student

    _, session, result = trained
    assert result.merged_dir is not None
    merged = AutoModelForCausalLM.from_pretrained(str(result.merged_dir)).eval()
    base = AutoModelForCausalLM.from_pretrained(session.base_model).eval()
    adapter = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(session.base_model), str(result.adapter_dir)
    ).eval()
    ids = torch.tensor([session.trainer.train_dataset[0]["input_ids"][:64]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, adapter(ids).logits, atol=1e-4)
        # LoRA changed the model: the merged weights are not the base's.
        assert not torch.allclose(merged(ids).logits, base(ids).logits, atol=1e-4)
    tokenizer = AutoTokenizer.from_pretrained(str(result.merged_dir))
    assert tokenizer.chat_template == CHATML
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in merged.generation_config.eos_token_id

    assert len(result.gen_test) == 3
    for record in result.gen_test:
        assert record["finish_reason"] in ("stop", "length")
        assert 0 < record["completion_tokens"] <= 12 or record["finish_reason"] == "stop"
    # Reloaded from disk, the merged student answers exactly as the in-memory one did.
    model, tok, eot_ids = load_student(result.merged_dir, "", "cpu")
    again = generate(model, tok, [r["prompt"] for r in result.gen_test], eot_ids=eot_ids,
                     max_new_tokens=12)  # fmt: skip
    assert [g.text for g in again] == [r["output"] for r in result.gen_test]
    assert eot_ids[0] == im_end


def test_local_student_graded_by_the_real_graders(
    demo: Demo, trained: tuple[Config, TrainSession, TrainResult]
) -> None:
    config, _, result = trained
    config = demo.config(**{"eval.max_new_tokens": 8, "eval.batch_size": 4})
    evaluation = run_eval(config)
    assert evaluation.table_path == result.merged_dir / "eval" / "eval.json"  # beside the model
    table = json.loads(evaluation.table_path.read_text())
    graded = read_jsonl(evaluation.out / "graded.jsonl")
    tasks = {t["id"]: t for t in read_jsonl(evaluation.out / "tasks.jsonl")}
    # The held-out tasks are exactly the validation split's.
    val_prompts = {r["messages"][-2]["content"] for r in read_jsonl(demo.out / "val.jsonl")}
    assert {t["messages"][-1]["content"] for t in tasks.values()} == val_prompts
    assert len(graded) == len(tasks) and {g["task_id"] for g in graded} == set(tasks)
    for row in graded:
        name = config.grade.graders[tasks[row["task_id"]]["kind"]]
        assert row["verdict"]["grader"] == name
        assert row["verdict"]["grader_version"] == GRADERS[name].version
        assert row["teacher"] == "student" and row["model"] == str(result.merged_dir)
    # Teacher columns: the pipeline's own verdicts on the same held-out tasks.
    teacher = Counter(
        (tasks[s["task_id"]]["kind"], s["verdict"]["status"] == "pass")
        for s in read_jsonl(demo.out / "graded.jsonl")
        if s["task_id"] in tasks
    )
    for row in table["rows"][:-1]:
        assert row["teacher"]["pass"] == teacher[(row["kind"], True)]
        assert (
            row["teacher"]["total"] == teacher[(row["kind"], True)] + teacher[(row["kind"], False)]
        )
        assert row["student"]["total"] == row["tasks"]
    assert table["rows"][-1]["kind"] == "all"
    assert table["rows"][-1]["student"]["total"] == len(tasks)


def test_student_server_through_the_cli(demo: Demo) -> None:
    """The simulator stands in for a vLLM server serving the student: same graders, same table."""
    with running_sim(SimConfig(seed=11, p_correct=0.5)) as url:
        result = run_cli(
            "eval", "-c", str(DEMO), *_cli_sets(demo),
            "--base-url", url, "--server-model", "student-sim", "--samples-per-task", "3",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "student pass" in result.stdout and "teacher pass" in result.stdout
    out = demo.out / "eval" / "student-sim"
    table = json.loads((out / "eval.json").read_text())
    assert table["student"]["server"] == url
    graded = read_jsonl(out / "graded.jsonl")
    statuses = Counter(row["verdict"]["status"] for row in graded)
    assert statuses["pass"] and statuses["fail"]
    assert table["rows"][-1]["student"]["pass"] == statuses["pass"]
    assert {row["verdict"]["reason"] for row in graded} - {"truncated", "empty_answer"}


def test_resume_from_latest_checkpoint(
    demo: Demo, trained: tuple[Config, TrainSession, TrainResult]
) -> None:
    config = demo.config(max_steps=35, resume_from_checkpoint="latest")
    result = run_train(config)
    assert result.global_step == 35
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["resumed_from"].endswith("checkpoint-30")
    assert (result.out / "checkpoints" / "checkpoint-35" / "trainer_state.json").exists()


def test_train_verb(demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["train", "-c", str(DEMO), *_cli_sets(demo), "--base-model", str(demo.model),
         "--chat-template", "chatml", "--max-steps", "2", "--batch-size", "2",
         "--student-dir", str(tmp_path / "student"), "--set", "train.threads=1"]
    )  # fmt: skip
    assert code == 0
    shown = capsys.readouterr().out
    assert "steps" in shown and "validation loss" in shown
    assert (tmp_path / "student" / "adapter" / "adapter_model.safetensors").exists()


def test_templates_that_cannot_mask_stop_before_training(demo: Demo, tmp_path: Path) -> None:
    no_markers = tmp_path / "plain.jinja"
    no_markers.write_text(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    )
    with pytest.raises(ConfigError, match=r"no \{% generation %\} markers"):
        build_trainer(demo.config(chat_template=str(no_markers)))
    # Markers, but the end-of-turn token left outside: the model would never learn to stop.
    no_stop = tmp_path / "nostop.jinja"
    no_stop.write_text(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n"
        "{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}"
        "{% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
    )
    with pytest.raises(ConfigError, match="end-of-turn token is outside the mask"):
        build_trainer(demo.config(chat_template=str(no_stop)))
    with pytest.raises(ConfigError, match="has no chat template"):
        build_trainer(demo.config(chat_template="model"))
    with pytest.raises(ConfigError, match=r"all \d+ rows are longer than train.max_length = 16"):
        build_trainer(demo.config(max_length=16))


def _cli_sets(demo: Demo) -> list[str]:
    return [
        "--output-dir", str(demo.out),
        "--set", f"cache_dir={json.dumps(str(demo.cache))}",
        "--set", f"teachers.sim.base_url={json.dumps(demo.sim_url)}",
    ]  # fmt: skip


def test_nightly_run_trains_and_evaluates_the_student(demo: Demo, tmp_path: Path) -> None:
    """`[run] train/eval = true`: the run ends with the student trained and graded; the
    summary carries both stages. Same cache: the harvest costs nothing."""
    out = tmp_path / "night"
    sets = [s.replace(json.dumps(str(demo.out)), json.dumps(str(out)))
            for s in demo.overrides(max_steps=3, merge_adapters=True)]  # fmt: skip
    sets += ["run.train=true", "run.eval=true", "train.eval.max_new_tokens=4"]
    result = run_cli("run", "-c", str(DEMO), "--quiet", *(a for s in sets for a in ("--set", s)))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # --quiet: nothing on success
    (run_dir,) = (out / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["stages"]) == {"harvest", "grade", "export", "train", "eval"}
    assert summary["stages"]["harvest"]["sent"] == 0  # every answer from the cache
    train = summary["stages"]["train"]
    assert train["steps"] == 3 and train["model"] == str(out / "student" / "merged")
    rows = summary["stages"]["eval"]["rows"]
    assert rows[-1]["kind"] == "all"
    assert rows[-1]["student"]["total"] == len(read_jsonl(out / "student" / "merged" / "eval"
                                                         / "tasks.jsonl"))  # fmt: skip
    assert (
        json.loads((out / "student" / "merged" / "eval" / "eval.json").read_text())["rows"] == rows
    )
    assert train["unchanged"] is False

    # The next night, nothing new: the same splits and settings keep the student as it is.
    manifest = out / "student" / "train_manifest.json"
    trained_at = manifest.stat().st_mtime_ns
    again = run_cli("run", "-c", str(DEMO), "--quiet", *(a for s in sets for a in ("--set", s)))
    assert again.returncode == 0, again.stderr
    train_again = _last_summary(out)["stages"]["train"]
    assert train_again["unchanged"] is True and train_again["steps"] == 3
    assert manifest.stat().st_mtime_ns == trained_at
    # A changed setting trains again.
    more = [*sets, "train.max_steps=4"]
    third = run_cli("run", "-c", str(DEMO), "--quiet", *(a for s in more for a in ("--set", s)))
    assert third.returncode == 0, third.stderr
    train_third = _last_summary(out)["stages"]["train"]
    assert train_third["unchanged"] is False and train_third["steps"] == 4

    # Each night's held-out pass rates, teacher and student, go to the history and the report.
    held_out = _last_summary(out)["pass_rates"]["held_out"]
    every = _last_summary(out)["stages"]["eval"]["rows"][-1]
    assert held_out == {"teacher": every["teacher"]["rate"], "student": every["student"]["rate"]}
    shown = run_cli("report", "-c", str(DEMO), "--output-dir", str(out))
    assert shown.returncode == 0, shown.stderr
    page = (out / "report.html").read_text()
    figure = re.search(r'<figure id="plot-rate-held_out">(.*?)</figure>', page, re.S)
    assert figure and "data:image/png;base64," in figure.group(1)
    assert "Held-out tasks: teacher and student, by night" in figure.group(1)


def _last_summary(out: Path) -> dict[str, Any]:
    history = (out / "history.jsonl").read_text().splitlines()
    return dict(json.loads(history[-1]))


def test_nightly_train_without_a_base_model_fails_before_spending(
    demo: Demo, tmp_path: Path
) -> None:
    result = run_cli(
        "run", "-c", str(DEMO), "--output-dir", str(tmp_path / "x"), "--set", "run.train=true",
    )  # fmt: skip
    assert result.returncode == 2
    assert "run.train = true needs train.base_model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "samples.jsonl").exists()


def test_student_server_down_is_one_line_not_a_zero_pass_rate(demo: Demo) -> None:
    result = run_cli(
        "eval", "-c", str(DEMO), *_cli_sets(demo),
        "--base-url", "http://127.0.0.1:1/v1", "--server-model", "gone",
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert re.fullmatch(
        r"distill: error: train\.eval\.base_url: all (\d+) requests to the student server at "
        r"http://127\.0\.0\.1:1/v1 failed \(connection \1\); is the server up and serving "
        r"--server-model\?",
        line,
    ), line


def test_failed_student_requests_count_in_no_pass_rate(demo: Demo) -> None:
    """Half the requests fail for good: the table counts them apart and the exit code is 1."""
    with running_sim(SimConfig(seed=5, fault_5xx=0.5)) as url:
        result = run_cli(
            "eval", "-c", str(DEMO), *_cli_sets(demo), "--set", "harvest.max_attempts=1",
            "--base-url", url, "--server-model", "flaky-sim", "--samples-per-task", "3",
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "student not judged" in result.stdout
    table = json.loads((demo.out / "eval" / "flaky-sim" / "eval.json").read_text())
    graded = read_jsonl(demo.out / "eval" / "flaky-sim" / "graded.jsonl")
    failed = sum(row["status"] == "error" for row in graded)
    assert 0 < failed < len(graded) and table["request_errors"] == failed
    judged = [r for r in graded if r["verdict"]["status"] in ("pass", "fail", "suspect")]
    everything = table["rows"][-1]["student"]
    assert everything["total"] == len(judged)
    assert everything["not_judged"] == len(graded) - len(judged) >= failed
    assert everything["pass"] == sum(r["verdict"]["status"] == "pass" for r in judged)


def test_packing_keeps_every_assistant_token_and_only_those(demo: Demo, tmp_path: Path) -> None:
    """Packed rows (with activation checkpointing): fewer rows, the same trained tokens."""
    plain = build_trainer(demo.config(output_dir=str(tmp_path / "plain")))
    packed_config = demo.config(packing=True, gradient_checkpointing="on", max_steps=2,
                                output_dir=str(tmp_path / "packed"))  # fmt: skip
    packed = build_trainer(packed_config)

    def trained(dataset: Any) -> list[int]:
        return [t for ex in dataset for t, lab in zip(ex["input_ids"], ex["labels"], strict=True)
                if lab != -100]  # fmt: skip

    rows = packed.trainer.train_dataset
    assert len(rows) < len(plain.trainer.train_dataset)
    assert all(sum(ex["seq_lengths"]) == len(ex["input_ids"]) <= MAX_LENGTH for ex in rows)
    for ex in rows:
        assert all(lab in (-100, t) for t, lab in zip(ex["input_ids"], ex["labels"], strict=True))
    assert sorted(trained(rows)) == sorted(trained(plain.trainer.train_dataset))
    result = run_train(packed_config, packed)
    assert result.global_step == 2 and result.train_loss is not None
