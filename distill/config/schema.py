"""The config's shape: frozen dataclasses, one per table, with their defaults.

A field made with `flag(...)` is also a command-line flag of the verbs that read its table; its
help text is the flag's help. The export and train tables have modules of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from distill.config.export import ExportConfig
from distill.config.fields import flag
from distill.config.train import TrainConfig

Provider = Literal["openai_compat", "anthropic"]
ThinkingDisplay = Literal["summarized", "omitted", "raw"]
# The SDKs' HTTP stack: their aiohttp transport (faster: bench/harvest.py) or httpx2 (theirs).
Transport = Literal["aiohttp", "httpx"]
# How a teacher is asked: one request at a time, or the provider's half-price Batch API.
Mode = Literal["sync", "batch"]


@dataclass(frozen=True)
class Limits:
    """Client-side limits per teacher; 0 means no limit (RPM/TPM) or the default cap."""

    rpm: int = 0
    tpm: int = 0
    max_in_flight: int = 64


@dataclass(frozen=True)
class Price:
    """USD per million tokens. A price left out (None) is derived: the batch prices are half the
    synchronous ones (OpenAI's and Anthropic's discount), a cache write costs `input`."""

    input: float = 0.0
    output: float = 0.0
    cached_input: float = 0.0  # a prompt-cache hit
    cache_write: float | None = None  # Anthropic bills writing the cache at 1.25x input
    batch_input: float | None = None
    batch_output: float | None = None
    batch_cached_input: float | None = None


@dataclass(frozen=True)
class TeacherConfig:
    provider: Provider
    model: str
    base_url: str = ""
    api_key_env: str = ""  # name of the environment variable holding the key; "" = no key needed
    samples_per_task: int = 1
    # Adaptive sampling (0 = off: every task gets samples_per_task answers). Answers are sent in
    # waves and graded as they arrive; a task stops at accept_per_task passes, after
    # max_samples_per_task answers, or after max_consecutive_fails failures in a row.
    accept_per_task: int = 0
    max_samples_per_task: int = 0
    max_consecutive_fails: int = 0  # 0 = never give up early
    mode: Mode = "sync"
    # anthropic: cache_control on the prompt; api.openai.com: a prompt_cache_key
    prompt_cache: bool = True
    max_tokens: int = 4096
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    thinking_budget: int = 0  # anthropic: extended thinking budget in tokens; 0 = off
    thinking_display: ThinkingDisplay = "summarized"
    timeout_s: float = 600.0  # overall deadline per request; keep-alive bytes do not reset it
    transport: Transport = "aiohttp"
    kinds: tuple[str, ...] = ()  # task kinds this teacher answers; empty = all
    extra_body: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    price: Price = field(default_factory=Price)

    @property
    def adaptive(self) -> bool:
        return self.accept_per_task > 0

    @property
    def most_samples(self) -> int:
        """The most answers one task can get from this teacher."""
        return self.max_samples_per_task if self.adaptive else self.samples_per_task


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
    refresh: bool = flag(False, "ignore the cache and ask again (pays again)", only_true=True)
    max_cost_usd: float = flag(  # 0 = no cap
        0.0, "stop sending new requests at this spend", name="--max-cost", metavar="USD"
    )
    wait: bool = flag(
        False, "batch teachers: wait for the batches to end and collect them", only_true=True
    )
    batch_poll_s: float = 30.0  # how often a waiting harvest asks a batch for its status
    shard: str = flag(  # "" = every task; see distill.harvest.shards
        "",
        "harvest only shard I of N of the tasks (by task-id hash), into its own cache and "
        "samples file; `distill merge-shards` joins them (harvest only)",
        metavar="I/N",
    )

    @property
    def sharding(self) -> Shard | None:
        """`shard` parsed (validated when the config was loaded); None when unsharded."""
        return parse_shard(self.shard) if self.shard else None


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: the tasks whose id hashes to `index` modulo `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def label(self) -> str:
        """Its folder name, e.g. 1-of-3."""
        return f"{self.index}-of-{self.count}"


def parse_shard(text: str) -> Shard:
    """'I/N' → Shard; a ValueError saying what is wrong otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text, re.ASCII)
    if match is None:
        raise ValueError("expected I/N, two whole numbers such as 0/4")
    shard = Shard(int(match[1]), int(match[2]))
    if shard.count < 1:
        raise ValueError("N (the number of shards) must be at least 1, e.g. 0/4")
    if shard.index >= shard.count:
        n = shard.count
        raise ValueError(f"I must be below N: the shards of {n} are 0/{n} to {n - 1}/{n}")
    return shard


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
    regrade: bool = flag(False, "ignore cached verdicts", only_true=True)
    workers: int = 0  # grading processes; 0 = one per CPU (also a local Ray's CPUs)
    executor: Literal["process", "ray"] = flag(
        "process", "where graders run: a process pool here, or Ray tasks (the [ray] extra)"
    )
    ray_address: str = flag(  # "" = a local Ray started for the run
        "", "the Ray cluster to grade on: auto, HOST:6379 or ray://HOST:10001", metavar="ADDRESS"
    )


@dataclass(frozen=True)
class SourceConfig:
    """A task source `distill run` imports before harvesting, as `distill import` would."""

    format: str  # an importer name (see `distill import --help`) or "merges"
    output: str  # the task file new tasks are added to; list it in `tasks` too
    inputs: tuple[str, ...] = ()  # dataset files or folders (importers)
    repo: str = ""  # a git repository (merges)
    name: str = ""  # the tasks' `source`; default the format, or git-<repo name>
    repo_name: str = ""  # merges: meta.repo and the default name; default the remote URL
    since: str = ""  # merges: only merge commits after this date
    max_commits: int = 0  # merges: newest first; 0 = all
    include: tuple[str, ...] = ()  # merges: path globs
    exclude: tuple[str, ...] = ()
    # merges: size limits (0 = the importer's defaults: 8000 / 4000 tokens, no line limit)
    max_prompt_tokens: int = 0
    max_resolution_tokens: int = 0
    max_hunk_lines: int = 0
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
