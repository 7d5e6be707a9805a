"""Reading a config file: TOML or JSON, `--set` overrides, validation, paths made absolute.

Relative paths in the file are relative to the file's directory, so a cron job can run from
anywhere. `distill export` also reads standalone export configs; `load_export_settings` decides
which kind a file is.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distill.config.build import build
from distill.config.export import ExportConfig
from distill.config.schema import Config
from distill.config.validate import validate, validate_export
from distill.errors import ConfigError


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Load, apply `dotted.key=value` overrides, validate, and resolve paths."""
    path = Path(path)
    raw = _read_file(path)
    for item in overrides:
        _apply_override(raw, item)
    try:
        config = build(Config, raw, "", str(path))
        validate(config, str(path))
    except ConfigError as exc:
        keys = [item.partition("=")[0].strip() for item in overrides]
        if any(k and k in str(exc) for k in keys):
            raise ConfigError(f"{exc} (from --set on the command line)") from None
        raise
    base = path.resolve().parent
    name = config.name
    resolved: Config = dataclasses.replace(
        config,
        tasks=tuple(_resolve(base, p) for p in config.tasks),
        output_dir=_resolve(base, config.output_dir or f"outputs/{name}"),
        cache_dir=_resolve(base, config.cache_dir or f"cache/{name}"),
        export=_resolve_export_paths(base, config.export),
        sources=tuple(
            dataclasses.replace(
                s,
                output=_resolve(base, s.output),
                inputs=tuple(_resolve(base, p) for p in s.inputs),
                repo=_resolve(base, s.repo) if s.repo else "",
            )
            for s in config.sources
        ),
        source=str(path),
    )
    return resolved


def load_export_settings(
    path: str | Path, overrides: Sequence[str] = (), output_dir: str | None = None
) -> Config | ExportConfig:
    """What `distill export` reads: a pipeline Config, or a standalone ExportConfig.

    A file with no pipeline keys (export keys at the top level) is standalone, and so is no file
    at all when the overrides give `export.inputs` (flags alone describe the export). Otherwise
    the file is a pipeline config. `output_dir` (the --output-dir flag) is taken from the cwd
    for a standalone export, and like any override (relative to the file) for a pipeline config.
    """
    path = Path(path)
    given_inputs = any(o.partition("=")[0].strip() == "export.inputs" for o in overrides)
    if (path.exists() and not _is_export_only(path)) or (not path.exists() and not given_inputs):
        more = [f"output_dir={json.dumps(output_dir)}"] if output_dir is not None else []
        return load_config(path, [*overrides, *more])
    if output_dir is not None:
        overrides = [*overrides, f"output_dir={json.dumps(os.path.abspath(output_dir))}"]
    return load_export_config(path, overrides)


def load_export_config(path: str | Path, overrides: Sequence[str] = ()) -> ExportConfig:
    """A standalone export config: ExportConfig keys at the top level; `export.KEY=V` overrides."""
    path = Path(path)
    # No file: flags alone describe the export, and paths are relative to the working directory.
    raw = {"export": _read_file(path) if path.exists() else {}}
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key == "output_dir":
            item = "export." + item
        elif not key.startswith("export."):
            raise ConfigError(f"--set {item!r}: a standalone export config takes export.* keys")
        _apply_override(raw, item)
    settings: ExportConfig = build(ExportConfig, raw["export"], "", str(path))
    for message in validate_export(settings):
        raise ConfigError(f"{path}: {message.removeprefix('export.')}")
    base = path.resolve().parent if path.exists() else Path.cwd()
    settings = _resolve_export_paths(base, settings)
    out = _resolve(base, settings.output_dir or "outputs/export")
    return dataclasses.replace(settings, output_dir=out)


def _is_export_only(path: Path) -> bool:
    """A file with no pipeline keys is a standalone export config (export keys at top level)."""
    return not {"name", "teachers", "export"} & _read_file(path).keys()


def config_to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain data (it holds no secrets: keys are env-var names)."""
    return dataclasses.asdict(config)


def _resolve_export_paths(base: Path, e: ExportConfig) -> ExportConfig:
    tokenizer = _resolve(base, e.tokenizer) if e.tokenizer else ""
    return dataclasses.replace(
        e,
        inputs=tuple(_resolve(base, p) for p in e.inputs),
        tasks=tuple(_resolve(base, p) for p in e.tasks),
        tokenizer=tokenizer,
    )


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path}: invalid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a table/object at the top level")
    return data


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set export.seed=1")
    try:
        value: Any = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        try:  # JSON is accepted too: `--set 'sources=[{"format": "gsm8k", ...}]'`
            value = json.loads(text)
        except ValueError:
            value = text  # a bare word is a string
    if not isinstance(value, str | int | float | bool | list | dict):
        value = text  # a date-like model name such as 2024-08-06 stays a string
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {item!r}: {part!r} is not a table")
        node = child
    node[parts[-1]] = value


def _resolve(base: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())
