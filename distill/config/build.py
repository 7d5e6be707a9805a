"""Plain data (a parsed TOML/JSON table) → the frozen dataclasses, checked against their types.

An unknown key is an error naming the nearest valid key; a wrong type names the key, what it must
be and what it got. An int is taken for a float, a single string for a list.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal

from distill.errors import ConfigError


def build(cls: type[Any], data: Any, where: str, file: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: {where or 'config'} must be a table, got {_typename(data)}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known or key == "source":
            near = difflib.get_close_matches(key, [k for k in known if k != "source"], n=1)
            hint = f"; did you mean {_join(where, near[0])!r}?" if near else ""
            raise ConfigError(f"{file}: unknown key {_join(where, key)!r}{hint}")
    values = {}
    for name, f in known.items():
        if name in data:
            values[name] = _convert(hints[name], data[name], _join(where, name), file)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{file}: missing required key {_join(where, name)!r}")
    return cls(**values)


def _convert(tp: Any, value: Any, where: str, file: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where, file)
    if origin is Literal:
        if value not in args:
            near = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"{file}: {where} must be one of {', '.join(map(str, args))}{hint}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(typing.cast(type, tp), value, where, file)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: {where} must be a table, got {_typename(value)}")
        val_tp = args[1]
        return {str(k): _convert(val_tp, v, _join(where, str(k)), file) for k, v in value.items()}
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{file}: {where} must be a list, got {_typename(value)}")
        return tuple(_convert(args[0], v, f"{where}[{i}]", file) for i, v in enumerate(value))
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (
        not isinstance(value, tp) or (tp is int and isinstance(value, bool))
    ):
        raise ConfigError(
            f"{file}: {where} must be {tp.__name__}, got {_typename(value)} {value!r}"
        )
    return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _typename(value: Any) -> str:
    names: dict[type, str] = {dict: "table", list: "list", str: "string"}
    return names.get(type(value), type(value).__name__)
