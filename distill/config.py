"""Config: one TOML (or JSON) file → frozen, validated objects.

Unknown keys are errors that name the key, the file and the nearest valid key. Any value can be
overridden from the command line with `--set dotted.key=value` (the value is read as TOML, so
`--set export.val_fraction=0.2` is a float and `--set teachers.r1.model=deepseek-reasoner` a
string). Relative paths in the file are relative to the file's directory, so a cron job can run
from anywhere. Secrets never appear here: a teacher names the environment variable holding its key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from distill.errors import ConfigError

Provider = Literal["openai_compat", "anthropic"]
ThinkingDisplay = Literal["summarized", "omitted", "raw"]


@dataclass(frozen=True)
class Limits:
    """Client-side limits per teacher; 0 means no limit (RPM/TPM) or the default cap."""

    rpm: int = 0
    tpm: int = 0
    max_in_flight: int = 64


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cached_input: float = 0.0


@dataclass(frozen=True)
class TeacherConfig:
    provider: Provider
    model: str
    base_url: str = ""
    api_key_env: str = ""  # name of the environment variable holding the key; "" = no key needed
    samples_per_task: int = 1
    max_tokens: int = 4096
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    thinking_budget: int = 0  # anthropic: extended thinking budget in tokens; 0 = off
    thinking_display: ThinkingDisplay = "summarized"
    timeout_s: float = 600.0  # overall deadline per request; keep-alive bytes do not reset it
    kinds: tuple[str, ...] = ()  # task kinds this teacher answers; empty = all
    extra_body: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    price: Price = field(default_factory=Price)


@dataclass(frozen=True)
class PromptsConfig:
    """Prompt ids from the library (prompts/library.toml) for each task kind."""

    system: str = "none"
    math: str = "math_boxed"
    code: str = "code_stdio"
    merge: str = "merge_resolve"
    chat: str = "chat_plain"
    library: str = ""  # an extra library file whose ids add to (or replace) the bundled ones


@dataclass(frozen=True)
class HarvestConfig:
    max_attempts: int = 6
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    refresh: bool = False
    max_cost_usd: float = 0.0  # 0 = no cap


@dataclass(frozen=True)
class GradeConfig:
    graders: dict[str, str] = field(
        default_factory=lambda: {
            "math": "answer",
            "code": "code",
            "merge": "merge",
            "chat": "well_formed",
        }
    )
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # grader name → options
    regrade: bool = False
    workers: int = 0  # grading processes; 0 = one per CPU


@dataclass(frozen=True)
class ExportConfig:
    correct_only: bool = True
    format: Literal["messages"] = "messages"
    reasoning: Literal["think-tags", "drop"] = "think-tags"
    include_system: bool = True
    val_fraction: float = 0.1
    seed: int = 0
    out_file_stem: str = ""


@dataclass(frozen=True)
class TrainConfig:
    base_model: str = ""
    output_dir: str = ""
    epochs: float = 1.0
    learning_rate: float = 2e-4
    lora_rank: int = 16
    lora_alpha: int = 32
    max_length: int = 4096


@dataclass(frozen=True)
class Config:
    name: str
    tasks: tuple[str, ...]
    teachers: dict[str, TeacherConfig]
    output_dir: str = ""
    cache_dir: str = ""
    seed: int = 0
    prompts: PromptsConfig = field(default_factory=PromptsConfig)
    harvest: HarvestConfig = field(default_factory=HarvestConfig)
    grade: GradeConfig = field(default_factory=GradeConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    source: str = ""  # the file this was loaded from; set by load_config, not by the file

    @property
    def out(self) -> Path:
        return Path(self.output_dir)

    @property
    def cache(self) -> Path:
        return Path(self.cache_dir)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load, apply `dotted.key=value` overrides, validate, and resolve paths."""
    path = Path(path)
    raw = _read_file(path)
    for item in overrides:
        _apply_override(raw, item)
    try:
        config = _build(Config, raw, "", str(path))
        _validate(config, str(path))
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
        source=str(path),
    )
    return resolved


def _validate(config: Config, file: str) -> None:
    def fail(message: str) -> None:
        raise ConfigError(f"{file}: {message}")

    if not config.name.strip() or "/" in config.name:
        fail("name must be a non-empty word without '/' (it names the output and cache folders)")
    if not config.tasks:
        fail('tasks is empty: list task files or globs, e.g. tasks = ["tasks/*.jsonl"]')
    if not config.teachers:
        fail("no teachers: add a [teachers.NAME] table with provider and model")
    for name, t in config.teachers.items():
        at = f"teachers.{name}"
        if t.samples_per_task < 1:
            fail(f"{at}.samples_per_task must be at least 1")
        if t.max_tokens < 1:
            fail(f"{at}.max_tokens must be at least 1")
        if t.timeout_s <= 0:
            fail(f"{at}.timeout_s must be positive")
        if min(t.limits.rpm, t.limits.tpm) < 0 or t.limits.max_in_flight < 1:
            fail(f"{at}.limits: rpm and tpm must be >= 0 and max_in_flight >= 1")
        if t.provider == "anthropic" and t.thinking_budget and t.thinking_budget >= t.max_tokens:
            fail(f"{at}.thinking_budget must be below max_tokens (Anthropic requires it)")
    if not 0.0 <= config.export.val_fraction < 1.0:
        fail("export.val_fraction must be in [0, 1)")
    if config.harvest.max_attempts < 1:
        fail("harvest.max_attempts must be at least 1")


def config_to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain data (it holds no secrets: keys are env-var names)."""
    return dataclasses.asdict(config)


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


def _build(cls: type[Any], data: Any, where: str, file: str) -> Any:
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
        return _build(typing.cast(type, tp), value, where, file)
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
