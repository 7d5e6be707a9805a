"""Bad input gets one clear line on stderr and a non-zero exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

from conftest import EXAMPLES, run_cli, write_config


def _one_line_error(result: object, code: int, *needles: str) -> str:
    import subprocess

    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("distill: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_malformed_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    good = EXAMPLES["math"].read_text().splitlines()[0]
    tasks.write_text(good + '\n{"id": "x", "kind": "math",\n')
    config = write_config(tmp_path, "http://127.0.0.1:9/v1", tasks=[tasks])
    result = run_cli("harvest", "-c", str(config))
    _one_line_error(result, 2, f"{tasks}:2:", "malformed JSON")


def test_unknown_config_key_names_key_file_and_nearest(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/v1", extra="[grade]\nregrad = true\n")
    result = run_cli("grade", "-c", str(config))
    _one_line_error(result, 2, str(config), "'grade.regrad'", "did you mean 'grade.regrade'")


def test_unknown_override_key_says_it_came_from_the_command_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    result = run_cli("export", "-c", str(config), "--set", "export.val_fracton=0.5")
    _one_line_error(result, 2, "export.val_fracton", "did you mean", "--set")


def test_missing_api_key_variable_is_named_before_anything_is_sent(tmp_path: Path) -> None:
    teacher = """
[teachers.r1]
provider = "openai_compat"
model = "deepseek-reasoner"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "DISTILL_TEST_MISSING_KEY"
"""
    config = write_config(tmp_path, "", teacher=teacher)
    result = run_cli("harvest", "-c", str(config))
    _one_line_error(result, 2, "DISTILL_TEST_MISSING_KEY is not set", "teachers.r1.api_key_env")
    assert not (tmp_path / "out" / "samples.jsonl").exists()


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_cli("run", "-c", str(tmp_path / "nope.toml"))
    _one_line_error(result, 2, "nope.toml", "not found")


def test_grade_before_harvest_says_what_to_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    result = run_cli("grade", "-c", str(config))
    _one_line_error(result, 2, "samples.jsonl", "distill harvest")


def test_unknown_prompt_id_lists_the_known_ones(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/v1", extra='[prompts]\nmath = "nope"\n')
    result = run_cli("harvest", "-c", str(config))
    _one_line_error(result, 2, "'nope'", "math_boxed")


def test_teacher_sim_help_says_it_is_a_simulator() -> None:
    result = run_cli("teacher-sim", "--help")
    assert result.returncode == 0
    assert "SIMULATOR" in result.stdout
