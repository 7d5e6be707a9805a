"""distill.config: TOML/JSON → frozen, validated objects; unknown keys are errors; --set."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from distill.config import (
    Config,
    ExportConfig,
    HarvestConfig,
    Limits,
    Price,
    PromptsConfig,
    config_to_dict,
    load_config,
)
from distill.errors import ConfigError

MINIMAL_TOML = """
name = "demo"
tasks = ["tasks/math.jsonl", "tasks/*.jsonl"]

[teachers.t]
provider = "openai_compat"
model = "deepseek-reasoner"
base_url = "https://api.deepseek.com"
api_key_env = "DEEPSEEK_API_KEY"
samples_per_task = 2

[teachers.t.limits]
rpm = 60

[export]
val_fraction = 0.2
"""

MINIMAL_DICT: dict[str, Any] = {
    "name": "demo",
    "tasks": ["tasks/math.jsonl", "tasks/*.jsonl"],
    "teachers": {
        "t": {
            "provider": "openai_compat",
            "model": "deepseek-reasoner",
            "base_url": "https://api.deepseek.com",
            "api_key_env": "DEEPSEEK_API_KEY",
            "samples_per_task": 2,
            "limits": {"rpm": 60},
        }
    },
    "export": {"val_fraction": 0.2},
}

TEACHER = """
[teachers.t]
provider = "openai_compat"
model = "m"
"""


def write(directory: Path, text: str, name: str = "distill.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value)


# --- loading ------------------------------------------------------------------------------


def test_toml_and_json_load_equal(tmp_path: Path) -> None:
    toml_cfg = load_config(write(tmp_path, MINIMAL_TOML, "c.toml"))
    json_cfg = load_config(write(tmp_path, json.dumps(MINIMAL_DICT), "c.json"))
    assert toml_cfg.source.endswith("c.toml")
    assert json_cfg.source.endswith("c.json")
    assert dataclasses.replace(toml_cfg, source="") == dataclasses.replace(json_cfg, source="")


def test_values_are_read(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL_TOML))
    assert isinstance(cfg, Config)
    assert cfg.name == "demo"
    teacher = cfg.teachers["t"]
    assert teacher.provider == "openai_compat"
    assert teacher.model == "deepseek-reasoner"
    assert teacher.samples_per_task == 2
    assert teacher.limits == Limits(rpm=60)
    assert cfg.export.val_fraction == 0.2


def test_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, 'name = "n"\ntasks = ["t.jsonl"]\n' + TEACHER))
    teacher = cfg.teachers["t"]
    assert teacher.base_url == ""
    assert teacher.api_key_env == ""
    assert teacher.samples_per_task == 1
    assert teacher.max_tokens == 4096
    assert teacher.temperature is None
    assert teacher.thinking_display == "summarized"
    assert teacher.kinds == ()
    assert teacher.limits == Limits(rpm=0, tpm=0, max_in_flight=64)
    assert teacher.price == Price()
    assert cfg.seed == 0
    assert cfg.prompts == PromptsConfig()
    assert cfg.harvest == HarvestConfig()
    assert cfg.export == ExportConfig()
    assert cfg.export.val_fraction == 0.1
    assert cfg.grade.graders == {
        "math": "answer",
        "code": "code",
        "merge": "merge",
        "chat": "well_formed",
    }


def test_int_is_accepted_for_a_float(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, 'name = "n"\ntasks = ["t.jsonl"]\n' + TEACHER + "timeout_s = 30\n")
    )
    assert cfg.teachers["t"].timeout_s == 30.0
    assert isinstance(cfg.teachers["t"].timeout_s, float)


def test_a_single_string_for_a_list_becomes_a_tuple(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, 'name = "n"\ntasks = "one.jsonl"\n' + TEACHER))
    assert cfg.tasks == (str((tmp_path / "one.jsonl").resolve()),)


def test_relative_paths_resolve_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    absolute = tmp_path / "abs" / "x.jsonl"
    path = write(conf_dir, f'name = "night"\ntasks = ["tasks/a.jsonl", "{absolute}"]\n' + TEACHER)
    cfg = load_config(path)
    base = conf_dir.resolve()
    assert cfg.tasks == (str(base / "tasks" / "a.jsonl"), str(absolute))
    assert cfg.output_dir == str(base / "outputs" / "night")
    assert cfg.cache_dir == str(base / "cache" / "night")
    assert cfg.out == base / "outputs" / "night"
    assert cfg.cache == base / "cache" / "night"


def test_relative_path_from_a_relative_config_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    write(
        tmp_path / "conf",
        'name = "n"\ntasks = ["t.jsonl"]\noutput_dir = "../out"\ncache_dir = "c"\n' + TEACHER,
    )
    monkeypatch.chdir(tmp_path)
    cfg = load_config("conf/distill.toml")
    base = (tmp_path / "conf").resolve()
    assert cfg.tasks == (str(base / "t.jsonl"),)
    assert cfg.output_dir == str(tmp_path.resolve() / "out")
    assert cfg.cache_dir == str(base / "c")


# --- unknown keys, types, literals --------------------------------------------------------


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "n"\ntask = ["t.jsonl"]\ntasks = ["t.jsonl"]\n' + TEACHER)
    message = config_error(path)
    assert str(path) in message
    assert "unknown key 'task'" in message
    assert "did you mean 'tasks'" in message


def test_unknown_nested_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'name = "n"\ntasks = ["t.jsonl"]\n[teachers.x]\nprovider = "anthropic"\nmodell = "m"\n',
    )
    message = config_error(path)
    assert str(path) in message
    assert "'teachers.x.modell'" in message
    assert "did you mean 'teachers.x.model'" in message


def test_unknown_deeply_nested_key(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'name = "n"\ntasks = ["t.jsonl"]\n' + TEACHER + "[teachers.t.limits]\nrmp = 1\n"
    )
    message = config_error(path)
    assert "'teachers.t.limits.rmp'" in message
    assert "did you mean 'teachers.t.limits.rpm'" in message


def test_source_key_in_the_file_is_not_a_valid_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "n"\ntasks = ["t.jsonl"]\n' + TEACHER + "[export]\nsource = 1\n")
    assert "unknown key 'export.source'" in config_error(path)


def test_missing_required_key(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'name = "n"\ntasks = ["t.jsonl"]\n[teachers.t]\nprovider = "anthropic"\n'
    )
    message = config_error(path)
    assert str(path) in message
    assert "missing required key 'teachers.t.model'" in message


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('seed = "zero"\n', "seed must be int, got string 'zero'"),
        ("seed = true\n", "seed must be int, got bool"),
        ("seed = 1.5\n", "seed must be int, got float"),
        ("teachers = 3\n", "teachers must be a table, got int"),
    ],
)
def test_wrong_type(tmp_path: Path, snippet: str, expected: str) -> None:
    body = 'name = "n"\ntasks = ["t.jsonl"]\n' + snippet
    if not snippet.startswith("teachers"):
        body += TEACHER
    path = write(tmp_path, body)
    message = config_error(path)
    assert str(path) in message
    assert expected in message


def test_wrong_type_nested(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "n"\ntasks = ["t.jsonl"]\n' + TEACHER + 'max_tokens = "lots"\n')
    assert "teachers.t.max_tokens must be int" in config_error(path)


def test_tasks_must_be_a_list(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "n"\ntasks = 3\n' + TEACHER)
    assert "tasks must be a list, got int" in config_error(path)


def test_bad_literal_lists_choices(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'name = "n"\ntasks = ["t.jsonl"]\n[teachers.t]\nprovider = "opnai_compat"\nmodel = "m"\n',
    )
    message = config_error(path)
    assert str(path) in message
    assert "teachers.t.provider must be one of openai_compat, anthropic" in message
    assert "did you mean 'openai_compat'" in message


def test_bad_literal_in_export(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'name = "n"\ntasks = ["t.jsonl"]\n' + TEACHER + '[export]\nreasoning = "keep"\n'
    )
    message = config_error(path)
    assert "export.reasoning must be one of think-tags, field, answer-tags, sky-t1, drop" in message


# --- overrides ----------------------------------------------------------------------------


def test_set_overrides_are_typed(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML)
    cfg = load_config(
        path,
        [
            "export.val_fraction=0.3",
            "teachers.t.model=foo",
            "teachers.t.limits.rpm=10",
            "harvest.refresh=true",
            'teachers.t.kinds=["math", "code"]',
        ],
    )
    assert cfg.export.val_fraction == 0.3
    assert isinstance(cfg.export.val_fraction, float)
    assert cfg.teachers["t"].model == "foo"
    assert cfg.teachers["t"].limits.rpm == 10
    assert isinstance(cfg.teachers["t"].limits.rpm, int)
    assert cfg.harvest.refresh is True
    assert cfg.teachers["t"].kinds == ("math", "code")
    # untouched values stay
    assert cfg.teachers["t"].samples_per_task == 2


def test_set_can_create_a_new_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "n"\ntasks = ["t.jsonl"]\n' + TEACHER)
    cfg = load_config(
        path, ["train.lora_rank=8", "teachers.u.provider=anthropic", "teachers.u.model=c"]
    )
    assert cfg.train.lora_rank == 8
    assert cfg.teachers["u"].provider == "anthropic"


def test_unknown_override_key_mentions_set(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML)
    message = config_error(path, ("teachers.t.modell=foo",))
    assert "'teachers.t.modell'" in message
    assert "did you mean 'teachers.t.model'" in message
    assert "--set" in message


def test_override_failing_validation_mentions_set(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML)
    message = config_error(path, ("export.val_fraction=1.0",))
    assert "val_fraction" in message
    assert "--set" in message


def test_malformed_override(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML)
    assert "--set" in config_error(path, ("export.seed",))
    assert "--set" in config_error(path, ("=3",))


def test_override_through_a_non_table(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_TOML)
    message = config_error(path, ("name.x=1",))
    assert "--set" in message
    assert "'name' is not a table" in message


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (("export.val_fraction=1.0",), "export.val_fraction must be in [0, 1)"),
        (("export.val_fraction=-0.1",), "export.val_fraction must be in [0, 1)"),
        (("teachers.t.samples_per_task=0",), "teachers.t.samples_per_task must be at least 1"),
        (("teachers.t.max_tokens=0",), "teachers.t.max_tokens must be at least 1"),
        (("teachers.t.timeout_s=0",), "teachers.t.timeout_s must be positive"),
        (("teachers.t.limits.max_in_flight=0",), "teachers.t.limits"),
        (("teachers.t.limits.rpm=-1",), "teachers.t.limits"),
        (("harvest.max_attempts=0",), "harvest.max_attempts must be at least 1"),
        (("tasks=[]",), "tasks is empty"),
        (('name="a/b"',), "name must be a non-empty word"),
        (('name=" "',), "name must be a non-empty word"),
    ],
)
def test_validation_errors(tmp_path: Path, overrides: tuple[str, ...], expected: str) -> None:
    path = write(tmp_path, MINIMAL_TOML)
    message = config_error(path, overrides)
    assert str(path) in message
    assert expected in message


def test_no_teachers(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "n"\ntasks = ["t.jsonl"]\n[teachers]\n')
    message = config_error(path)
    assert str(path) in message
    assert "no teachers" in message


def test_anthropic_thinking_budget_below_max_tokens(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'name = "n"\ntasks = ["t.jsonl"]\n[teachers.c]\nprovider = "anthropic"\nmodel = "m"\n'
        "max_tokens = 1000\nthinking_budget = 1000\n",
    )
    assert "teachers.c.thinking_budget must be below max_tokens" in config_error(path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "n"\ntasks = [\n', "broken.toml")
    message = config_error(path)
    assert str(path) in message
    assert "invalid TOML" in message


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '{"name": "n",', "broken.json")
    message = config_error(path)
    assert str(path) in message
    assert "invalid JSON" in message


def test_json_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "[1, 2]", "list.json")
    assert "top level" in config_error(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    message = config_error(path)
    assert str(path) in message
    assert "not found" in message


# --- the objects --------------------------------------------------------------------------


def test_config_objects_are_frozen(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL_TOML))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.teachers["t"].model = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.teachers["t"].limits.rpm = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.export.val_fraction = 0.5  # type: ignore[misc]


def test_config_to_dict_is_json_serialisable(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL_TOML), ["teachers.t.extra_body={top_k = 5}"])
    data = config_to_dict(cfg)
    text = json.dumps(data)
    back = json.loads(text)
    assert back["name"] == "demo"
    assert back["teachers"]["t"]["limits"]["rpm"] == 60
    assert back["teachers"]["t"]["extra_body"] == {"top_k": 5}
    assert back["tasks"] == list(cfg.tasks)
    assert back["source"] == str(tmp_path / "distill.toml")
