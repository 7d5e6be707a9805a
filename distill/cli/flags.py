"""Command-line flags: the options every verb shares, and the flags made from config fields.

A config field made with `distill.config.fields.flag(...)` is a flag of each verb that reads
its table (VERB_TABLES); its name, help, metavar and choices come from the field, and a flag
given becomes a `KEY=VALUE` override like `--set`. A path in the config file is relative to that
file; a path typed as a flag is relative to where the user typed it, so path flags become
absolute before they reach the config.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from distill.config import ExportConfig, GradeConfig, HarvestConfig, StudentEvalConfig, TrainConfig
from distill.config.fields import Flag, flag_of

# verb → the tables whose flagged fields are its flags: (key prefix, table, only these fields)
_Table = tuple[str, type[Any], tuple[str, ...]]
_HARVEST: _Table = ("harvest", HarvestConfig, ())
_GRADE: _Table = ("grade", GradeConfig, ())
_EXPORT: _Table = ("export", ExportConfig, ())
VERB_TABLES: dict[str, tuple[_Table, ...]] = {
    "harvest": (_HARVEST,),
    "grade": (_GRADE,),
    "export": (_EXPORT,),
    "run": (_HARVEST, _GRADE, _EXPORT),
    "train": (("train", TrainConfig, ()),),
    "eval": (("train.eval", StudentEvalConfig, ()),
             ("train", TrainConfig, ("output_dir", "device"))),
}  # fmt: skip
_GROUP_TITLES = {"export": "export (each flag sets export.KEY; lists are comma-separated)"}


@dataclass(frozen=True)
class ConfigFlag:
    key: str  # the config key it sets, e.g. train.output_dir
    option: str  # as typed, e.g. --student-dir
    dest: str  # the argparse attribute
    type: Any  # the field's type
    spec: Flag


def config_flags(verb: str) -> tuple[ConfigFlag, ...]:
    """The flags `verb` takes that stand for config keys, in the order of the fields."""
    flags = []
    for prefix, table, only in VERB_TABLES.get(verb, ()):
        hints = typing.get_type_hints(table)
        for f in dataclasses.fields(table):
            spec = flag_of(f)
            if spec is None or (only and f.name not in only):
                continue
            option = spec.name or "--" + f.name.replace("_", "-")
            dest = f.name if spec.many == "repeat" else option[2:].replace("-", "_")
            flags.append(ConfigFlag(f"{prefix}.{f.name}", option, dest, hints[f.name], spec))
    return tuple(flags)


TRAIN_FLAGS = config_flags("train")
EVAL_FLAGS = config_flags("eval")


def add_config_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    groups: dict[str, Any] = {}
    for f in config_flags(verb):
        table = f.key.rpartition(".")[0]
        if table not in groups:
            title = _GROUP_TITLES.get(table)
            groups[table] = parser.add_argument_group(title) if title else parser
        groups[table].add_argument(f.option, **_argparse_options(f))


def _argparse_options(f: ConfigFlag) -> dict[str, Any]:
    spec, tp = f.spec, f.type
    options: dict[str, Any] = {"dest": f.dest, "help": spec.help or None}
    if spec.metavar:
        options["metavar"] = spec.metavar
    if tp is bool and spec.only_true:
        return options | {"action": "store_true"}
    if tp is bool:  # default None: a flag not given leaves the config's value
        return options | {"action": argparse.BooleanOptionalAction, "default": None}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        options["choices"] = args
    elif origin is tuple and spec.many == "repeat":
        options["action"] = "append"
    elif origin is tuple and spec.many == "spaced":
        options |= {"type": args[0], "nargs": "+"}
    elif origin is tuple:
        options.setdefault("metavar", "A,B")
        options["type"] = _floats if args[0] is float else _words
    elif tp in (int, float):
        options["type"] = tp
    if spec.const is not None:
        options |= {"nargs": "?", "const": spec.const}
    return options


def flag_overrides(args: argparse.Namespace, flags: Iterable[ConfigFlag]) -> list[str]:
    """`KEY=JSON` overrides for the flags given, paths taken from the cwd."""
    out = []
    for f in flags:
        value: Any = getattr(args, f.dest, None)
        if value is None or (f.spec.only_true and not value):
            continue
        if f.spec.path:
            value = [_from_cwd(v, f.spec) for v in value] if isinstance(value, list) else (
                _from_cwd(value, f.spec))  # fmt: skip
        out.append(f"{f.key}={json.dumps(value)}")
    return out


def overrides(args: argparse.Namespace) -> list[str]:
    """`--set` and the verb's config flags, as overrides (flags after `--set`: they win)."""
    return [*args.overrides, *flag_overrides(args, config_flags(args.verb))]


def common_options() -> argparse.ArgumentParser:
    """The options every pipeline verb takes (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", default="distill.toml", help="config file (TOML or JSON)")
    common.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config value, e.g. --set teachers.r1.samples_per_task=4 (repeatable)",
    )
    common.add_argument("--output-dir", help="override output_dir")
    common.add_argument("--quiet", action="store_true", help="no progress or tables (for cron)")
    common.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    return common


def _from_cwd(value: str, spec: Flag) -> str:
    if value == spec.const:  # a keyword such as "latest", not a path
        return value
    path = os.path.abspath(os.path.expanduser(value))
    # A hub id (org/name) that is not a local folder stays as it is.
    hub_id = spec.hub_id and not os.path.exists(path) and value.count("/") == 1
    return value if hub_id and not value.startswith((".", "/", "~")) else path


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _floats(text: str) -> list[float]:
    try:
        return [float(w) for w in _words(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas: {text!r}"
        ) from None
