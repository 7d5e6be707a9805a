"""distill.cli.flags: every flag made from a config field sets that field, and only that field."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any, Literal

import pytest

from distill.cli.flags import VERB_TABLES, ConfigFlag, config_flags, overrides
from distill.cli.main import _parser
from distill.config import Config, load_config

CONFIG = """
name = "n"
tasks = ["t.jsonl"]

[teachers.t]
provider = "openai_compat"
model = "m"
"""

# Values that pass validation on their own, where the first non-default one does not.
NEEDS = {
    "export.max_tokens": ["--tokenizer", "tok.json"],
    "train.eval.base_url": ["--server-model", "s"],
}


def _typed(f: ConfigFlag, default: Any) -> tuple[list[str], Any]:
    """Command-line words for `f` and the value they must give in the config."""
    tp, origin = f.type, typing.get_origin(f.type)
    if tp is bool:
        return [f.option if not default else "--no-" + f.option[2:]], not default
    if origin is Literal:
        choice = next(c for c in typing.get_args(tp) if c != default)
        return [f.option, choice], choice
    if f.spec.const is not None:
        return [f.option], f.spec.const
    if origin is tuple:
        words = ["pass", "fail"] if f.key == "export.statuses" else ["a", "b"]
        if typing.get_args(tp)[0] is float:
            words = ["0.25", "0.75"]
        value = tuple(os.path.abspath(w) if f.spec.path else typing.get_args(tp)[0](w)
                      for w in words)  # fmt: skip
        if f.spec.many == "repeat":
            return [w for word in words for w in (f.option, word)], value
        if f.spec.many == "spaced":
            return [f.option, *words], value
        return [f.option, ",".join(words)], value
    if tp in (int, float):
        return [f.option, "3" if tp is int else "0.25"], tp(3 if tp is int else 0.25)
    if f.key == "train.chat_template":
        return [f.option, "chatml"], "chatml"
    if f.key == "grade.ray_address":
        return [f.option, "head:6379"], "head:6379"
    if f.key == "harvest.shard":
        return [f.option, "1/3"], "1/3"
    return [f.option, "word"], os.path.abspath("word") if f.spec.path else "word"


def _field_default(config: Config, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


@pytest.mark.parametrize("verb", sorted(VERB_TABLES))
def test_each_flag_sets_its_key_and_nothing_else(
    verb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config elsewhere: a path flag is taken from the cwd
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "distill.toml"
    path.write_text(CONFIG)
    plain = load_config(path)
    flags = config_flags(verb)
    assert flags, verb
    for f in flags:
        words, expected = _typed(f, _field_default(plain, f.key))
        args = _parser().parse_args([verb, "-c", str(path), *words, *NEEDS.get(f.key, [])])
        given = overrides(args)
        assert f.key in [o.partition("=")[0] for o in given], (f.option, given)
        config = load_config(path, given)
        assert _field_default(config, f.key) == expected, f.option
        changed = {k for k in _flat(config) if _flat(config)[k] != _flat(plain)[k]}
        assert changed <= {f.key, *(_key_of(verb, w) for w in NEEDS.get(f.key, [])[:1])}, changed


def test_flags_not_given_leave_the_config_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "distill.toml"
    path.write_text(CONFIG)
    for verb in VERB_TABLES:
        assert overrides(_parser().parse_args([verb, "-c", str(path)])) == [], verb


def _key_of(verb: str, option: str) -> str:
    return next(f.key for f in config_flags(verb) if f.option == option)


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out |= _flat(value, key + ".")
        else:
            out[key] = value
    return out
