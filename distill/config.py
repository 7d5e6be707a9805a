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


EXPORT_FORMATS = ("messages", "prompt-completion", "alpaca", "sharegpt", "text", "dpo", "kto")
REASONING_PLACEMENTS = ("think-tags", "field", "answer-tags", "sky-t1", "drop")


@dataclass(frozen=True)
class ExportConfig:
    """What `distill export` writes; every key is also a flag (see `distill export --help`)."""

    inputs: tuple[str, ...] = ()  # graded files or ready-made datasets; default: graded.jsonl
    tasks: tuple[str, ...] = ()  # task files for kind/source/test filters (default: config tasks)
    output_dir: str = ""  # standalone export configs only; a pipeline config uses its own
    correct_only: bool = True
    statuses: tuple[str, ...] = ()  # verdict statuses to keep; empty = by correct_only
    kinds: tuple[str, ...] = ()
    teachers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    finish_reasons: tuple[str, ...] = ()
    min_test_cases: int = 0
    max_tokens: int = 0  # 0 = no length filter; needs `tokenizer`
    tokenizer: str = ""  # a tokenizer.json or a model directory holding one
    format: Literal["messages", "prompt-completion", "alpaca", "sharegpt", "text", "dpo", "kto"] = (
        "messages"
    )
    file_format: Literal["jsonl", "parquet", "csv"] = "jsonl"
    template: Literal["chatml", "instruct", "chat"] = "chatml"  # for format = "text"
    dpo_style: Literal["trl", "openai"] = "trl"
    reasoning: Literal["think-tags", "field", "answer-tags", "sky-t1", "drop"] = "think-tags"
    missing_reasoning: Literal["drop", "keep", "basic"] = "drop"
    include_system: bool = True
    turn_weights: bool = False  # OpenAI per-assistant-turn weight: 1 on the answer, 0 before
    dataset_type: Literal["auto", "code", "cai", "multiturn"] = "auto"
    system_prompt_ids: tuple[str, ...] = ()  # re-render code tasks from prompt ids (variants)
    problem_prompt_ids: tuple[str, ...] = ()
    test_format_ids: tuple[str, ...] = ()
    include_flag_prompt: bool = False
    fractions: tuple[float, ...] = ()  # one per input, summing to 1
    weights: tuple[float, ...] = ()  # one per input, relative
    num_samples: int = 0  # 0 = as many rows as there are
    shuffle: bool = True
    deduplicate: bool = False
    near_duplicate_threshold: float = 0.85  # MinHash Jaccard at or above which prompts match
    val_fraction: float = 0.1
    seed: int = 0
    out_file_stem: str = ""


@dataclass(frozen=True)
class StudentEvalConfig:
    """`distill eval`: the student answers the held-out tasks and the same graders grade it."""

    model: str = ""  # a merged model or adapter directory; "" = the one `distill train` wrote
    base_url: str = ""  # an OpenAI-compatible server serving the student, instead of a local model
    server_model: str = ""  # the student's model name on that server
    api_key_env: str = ""  # env var holding that server's key; "" = none needed
    split: str = ""  # held-out rows; default: val.jsonl in output_dir
    max_new_tokens: int = 1024
    temperature: float = 0.0  # 0 = greedy
    samples_per_task: int = 1
    batch_size: int = 8  # local generation batch
    max_tasks: int = 0  # 0 = every held-out task
    output_dir: str = ""  # default: MODEL/eval, or output_dir/eval/SERVER_MODEL for a server
    max_in_flight: int = 8  # server requests at once
    timeout_s: float = 600.0


@dataclass(frozen=True)
class TrainConfig:
    """`distill train`: LoRA SFT on the exported splits (TRL + PEFT, the `train` extra)."""

    base_model: str = ""  # a model directory, or a hub id (the only case that goes online)
    output_dir: str = ""  # default: output_dir/student
    datasets: tuple[str, ...] = ()  # training splits; default: train.jsonl in output_dir
    dataset_weights: tuple[float, ...] = ()  # one per dataset: up/down-sampling as in export
    num_samples: int = 0  # rows after mixing; 0 = as many as the datasets hold
    val_datasets: tuple[str, ...] = ()  # default: val.jsonl in output_dir, when it has rows
    chat_template: str = "model"  # model | chatml | instruct | chat | a .jinja file
    reasoning: Literal["auto", "think-tags", "field", "drop"] = "auto"
    max_length: int = 4096
    overlong: Literal["drop", "split"] = "drop"  # never truncate: drop, or split at turns
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] = ("all-linear",)
    epochs: float = 1.0
    max_steps: int = 0  # > 0 overrides epochs
    learning_rate: float = 2e-4
    lr_scheduler: Literal[
        "linear", "cosine", "cosine_with_min_lr", "constant", "constant_with_warmup"
    ] = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    batch_size: int = 4
    grad_accumulation: int = 4
    eval_batch_size: int = 0  # 0 = batch_size
    packing: bool = False
    group_by_length: bool = True  # batches of similar length: less padding, same data
    gradient_checkpointing: Literal["auto", "on", "off"] = "auto"  # auto: on for GPUs
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # auto: bf16 where supported
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    threads: int = 0  # torch CPU threads; 0 = torch's default
    logging_steps: int = 10
    eval_steps: int = 0  # validation loss every N steps; 0 = at the end only
    save_steps: int = 200
    save_total_limit: int = 2
    resume_from_checkpoint: str = ""  # "" | "latest" | a checkpoint directory
    merge_adapters: bool = False
    do_gen_test: bool = False
    gen_test_prompts: int = 3
    gen_max_new_tokens: int = 256
    mask_check_rows: int = 16  # rows whose loss mask is checked before training
    seed: int = 0
    eval: StudentEvalConfig = field(default_factory=StudentEvalConfig)


def validate_train(t: TrainConfig) -> list[str]:
    """Problems with a train section (and its eval table), each naming its key."""
    problems = []
    if t.dataset_weights and t.datasets and len(t.dataset_weights) != len(t.datasets):
        problems.append(
            f"train.dataset_weights has {len(t.dataset_weights)} values for "
            f"{len(t.datasets)} datasets: give one per dataset"
        )
    if any(w < 0 for w in t.dataset_weights) or (t.dataset_weights and not sum(t.dataset_weights)):
        problems.append("train.dataset_weights must be >= 0 and not all 0")
    at_least_one = ("max_length", "lora_rank", "lora_alpha", "batch_size", "grad_accumulation",
                    "mask_check_rows", "gen_test_prompts", "gen_max_new_tokens")  # fmt: skip
    for key in at_least_one:
        if getattr(t, key) < 1:
            problems.append(f"train.{key} must be at least 1")
    for key in ("num_samples", "max_steps", "eval_batch_size", "threads", "eval_steps"):
        if getattr(t, key) < 0:
            problems.append(f"train.{key} must be >= 0")
    if t.save_steps < 1 or t.logging_steps < 1 or t.save_total_limit < 1:
        problems.append("train.save_steps, logging_steps and save_total_limit must be at least 1")
    if t.max_steps == 0 and t.epochs <= 0:
        problems.append("train.epochs must be positive (or set train.max_steps)")
    if t.learning_rate <= 0:
        problems.append("train.learning_rate must be positive")
    if not 0.0 <= t.lora_dropout < 1.0 or not 0.0 <= t.warmup_ratio < 1.0:
        problems.append("train.lora_dropout and train.warmup_ratio must be in [0, 1)")
    if not t.lora_target_modules:
        problems.append('train.lora_target_modules is empty: use ["all-linear"] or module names')
    if t.chat_template not in ("model", "chatml", "instruct", "chat") and not (
        t.chat_template.endswith((".jinja", ".j2"))
    ):
        problems.append(
            f"train.chat_template = {t.chat_template!r}: use model, chatml, instruct, chat "
            "or the path of a .jinja file"
        )
    e = t.eval
    if e.max_new_tokens < 1 or e.samples_per_task < 1 or e.batch_size < 1 or e.max_in_flight < 1:
        problems.append(
            "train.eval.max_new_tokens, samples_per_task, batch_size and max_in_flight "
            "must be at least 1"
        )
    if e.temperature < 0 or e.max_tasks < 0 or e.timeout_s <= 0:
        problems.append("train.eval.temperature and max_tasks must be >= 0, timeout_s positive")
    if e.base_url and not e.server_model:
        problems.append("train.eval.base_url needs train.eval.server_model (the model name)")
    return problems


@dataclass(frozen=True)
class SourceConfig:
    """A task source `distill run` imports before harvesting, as `distill import` would."""

    format: str  # an importer name (see `distill import --help`) or "merges"
    output: str  # the task file new tasks are added to; list it in `tasks` too
    inputs: tuple[str, ...] = ()  # dataset files or folders (importers)
    repo: str = ""  # a git repository (merges)
    name: str = ""  # the tasks' `source`; default the format, or git-<repo name>
    since: str = ""  # merges: only merge commits after this date
    max_commits: int = 1000  # merges: newest first; 0 = all
    include: tuple[str, ...] = ()  # merges: path globs
    exclude: tuple[str, ...] = ()
    max_samples: int = 0  # 0 = every row
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)  # importer flags, e.g. prompt_column


@dataclass(frozen=True)
class RunConfig:
    """What `distill run` does beyond import, harvest, grade and export."""

    train: bool = False  # then `distill train` on the new splits
    eval: bool = False  # then `distill eval` of the student


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
    sources: tuple[SourceConfig, ...] = ()
    run: RunConfig = field(default_factory=RunConfig)
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


def is_export_only(path: str | Path) -> bool:
    """A file with no pipeline keys is a standalone export config (export keys at top level)."""
    raw = _read_file(Path(path))
    return not {"name", "teachers", "export"} & raw.keys()


def load_export_config(
    path: str | Path, overrides: list[str] | tuple[str, ...] = ()
) -> ExportConfig:
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
    settings: ExportConfig = _build(ExportConfig, raw["export"], "", str(path))
    for message in validate_export(settings):
        raise ConfigError(f"{path}: {message.removeprefix('export.')}")
    base = path.resolve().parent if path.exists() else Path.cwd()
    settings = _resolve_export_paths(base, settings)
    out = _resolve(base, settings.output_dir or "outputs/export")
    return dataclasses.replace(settings, output_dir=out)


def _resolve_export_paths(base: Path, e: ExportConfig) -> ExportConfig:
    tokenizer = _resolve(base, e.tokenizer) if e.tokenizer else ""
    return dataclasses.replace(
        e,
        inputs=tuple(_resolve(base, p) for p in e.inputs),
        tasks=tuple(_resolve(base, p) for p in e.tasks),
        tokenizer=tokenizer,
    )


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
    for message in validate_export(config.export):
        fail(message)
    if config.harvest.max_attempts < 1:
        fail("harvest.max_attempts must be at least 1")
    for message in validate_train(config.train):
        fail(message)
    if config.run.train and not config.train.base_model.strip():
        fail("run.train = true needs train.base_model: a model directory (or a hub id)")


def validate_export(e: ExportConfig) -> list[str]:
    """Problems with an export section, each naming its key; empty when it is usable."""
    problems = []
    if not 0.0 <= e.val_fraction < 1.0:
        problems.append("export.val_fraction must be in [0, 1)")
    if e.fractions and e.weights:
        problems.append("export.fractions and export.weights exclude each other: give one")
    if e.fractions and abs(sum(e.fractions) - 1.0) > 1e-6:
        total = " + ".join(f"{f:g}" for f in e.fractions)
        problems.append(f"export.fractions must sum to 1 ({total} = {sum(e.fractions):g})")
    if any(x < 0 for x in (*e.fractions, *e.weights)):
        problems.append("export.fractions and export.weights must not be negative")
    if e.weights and sum(e.weights) <= 0:
        problems.append("export.weights must not all be 0")
    if e.max_tokens and not e.tokenizer:
        problems.append("export.max_tokens needs export.tokenizer (a tokenizer.json or model dir)")
    if min(e.num_samples, e.max_tokens, e.min_test_cases) < 0:
        problems.append("export.num_samples, max_tokens and min_test_cases must be >= 0")
    if not 0.0 < e.near_duplicate_threshold <= 1.0:
        problems.append("export.near_duplicate_threshold must be in (0, 1]")
    if e.reasoning == "field" and e.format not in ("messages", "dpo", "kto"):
        problems.append(
            f"export.reasoning = 'field' needs a conversational format (messages, dpo, kto), "
            f"not {e.format!r}: use think-tags"
        )
    bad = set(e.statuses) - {"pass", "fail", "error", "ungradeable", "suspect", "external"}
    if bad:
        problems.append(f"export.statuses: unknown status {sorted(bad)[0]!r}")
    return problems


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
