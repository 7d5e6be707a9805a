"""Training rows: read exported splits, mix them by weight, place the reasoning, split long ones.

Pure Python (no torch): the rows are `messages` conversations as `distill export` writes them,
the assistant's reasoning either inline (`<think>\\n…\\n</think>\\n\\n` + answer) or in a
`reasoning_content` key beside the content. Mixing uses export's up/down-sampling rule, so
`train.dataset_weights` means what `export.weights` means.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.config import Config
from distill.errors import ConfigError, InputError, RecordError
from distill.jsonl import iter_jsonl
from distill.mixing import pick, targets
from distill.reasoning import CLOSE_TAG, assistant_text, split_inline_think

Messages = list[dict[str, Any]]
ROLES = ("system", "user", "assistant", "tool")
FIELD = "reasoning_content"


@dataclass(frozen=True, slots=True)
class Row:
    messages: Messages
    where: str  # file:line, for error messages


@dataclass
class DataReport:
    """What happened to the rows on their way to the trainer; every drop is counted."""

    files: dict[str, int] = field(default_factory=dict)  # path → rows read
    picked: dict[str, int] = field(default_factory=dict)  # path → rows after mixing
    dropped: Counter[str] = field(default_factory=Counter)
    split_pieces: int = 0  # rows made by splitting long conversations at turns
    rows: int = 0  # rows handed to the trainer


def base_dir(config: Config) -> Path:
    """Relative paths in the config are relative to the config file, as everywhere else."""
    return Path(config.source).resolve().parent if config.source else Path.cwd()


def resolve(config: Config, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir(config) / path).resolve()


def student_dir(config: Config) -> Path:
    """Where `distill train` writes checkpoints, the adapter, the merged model, the manifest."""
    given = config.train.output_dir
    return resolve(config, given) if given else config.out / "student"


def train_files(config: Config) -> list[Path]:
    given = config.train.datasets
    return [resolve(config, p) for p in given] if given else [config.out / "train.jsonl"]


def val_files(config: Config) -> list[Path]:
    """Explicit val sets must exist; the default val.jsonl is used when export wrote one."""
    given = config.train.val_datasets
    if given:
        return [resolve(config, p) for p in given]
    default = config.out / "val.jsonl"
    return [default] if default.exists() else []


def read_split(path: Path, config: Config, what: str = "train.datasets") -> list[Row]:
    if not path.exists():
        hint = (
            f"run `distill export -c {config.source}` first"
            if path.parent == config.out
            else f"fix {what} in {config.source}"
        )
        raise InputError(f"{path}: no such split file; {hint}")
    if path.suffix != ".jsonl":
        raise ConfigError(
            f'{path}: train reads JSONL splits; export with export.file_format = "jsonl"'
        )
    return [Row(_messages(obj, (str(path), n)), f"{path}:{n}") for n, obj in iter_jsonl(path)]


def _messages(row: dict[str, Any], where: tuple[str, int]) -> Messages:
    messages = row.get("messages")
    if not isinstance(messages, list):
        keys = ", ".join(sorted(row)[:5])
        raise RecordError(
            *where,
            f'train reads `messages` rows (export.format = "messages"), this row has: {keys}',
        )
    out: Messages = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise RecordError(*where, f"messages[{i}] needs a role in {', '.join(ROLES)}")
        if not isinstance(m.get("content"), str):
            raise RecordError(*where, f"messages[{i}].content must be a string")
        reasoning = m.get(FIELD)
        if reasoning is not None and not isinstance(reasoning, str):
            raise RecordError(*where, f"messages[{i}].{FIELD} must be a string")
        clean: dict[str, Any] = {"role": m["role"], "content": m["content"]}
        if m["role"] == "assistant" and reasoning and reasoning.strip():
            clean[FIELD] = reasoning.strip()
        out.append(clean)
    if not out or out[-1]["role"] != "assistant":
        raise RecordError(*where, "the conversation must end with an assistant turn")
    return out


def mix(
    datasets: Sequence[tuple[Path, list[Row]]], config: Config, report: DataReport
) -> list[Row]:
    """Each dataset's share by train.dataset_weights: repeat to up-sample, subset to down-sample."""
    settings = config.train
    weights = settings.dataset_weights
    if weights and len(weights) != len(datasets):
        raise ConfigError(
            f"{config.source}: train.dataset_weights has {len(weights)} values for "
            f"{len(datasets)} datasets: give one per dataset"
        )
    sizes = [len(rows) for _, rows in datasets]
    counts = targets(sizes, (), weights, settings.num_samples)
    rng = random.Random(settings.seed)
    mixed: list[Row] = []
    for (path, rows), target in zip(datasets, counts, strict=True):
        report.files[str(path)] = len(rows)
        chosen = [rows[i] for i in pick(range(len(rows)), target, rng)]
        report.picked[str(path)] = len(chosen)
        mixed.extend(chosen)
    return mixed


def place_reasoning(messages: Messages, mode: str) -> Messages:
    """Put every assistant turn's reasoning where `mode` says: think-tags, field or drop."""
    out: Messages = []
    for m in messages:
        if m["role"] != "assistant":
            out.append(m)
            continue
        reasoning, answer = _reasoning_and_answer(m)
        if mode == "drop":
            out.append({"role": "assistant", "content": answer})
        elif mode == "field":
            message = {"role": "assistant", "content": answer}
            if reasoning:
                message[FIELD] = reasoning
            out.append(message)
        else:  # think-tags: the same text export's think-tags placement writes
            out.append({"role": "assistant", "content": assistant_text(reasoning, answer, mode)})
    return out


def _reasoning_and_answer(message: dict[str, Any]) -> tuple[str, str]:
    content = str(message["content"])
    if message.get(FIELD):
        return str(message[FIELD]), content
    if CLOSE_TAG in content:
        reasoning, answer, complete = split_inline_think(content)
        if complete:
            return reasoning, answer
    return "", content


def reasoning_text(messages: Messages) -> str:
    """The last assistant turn's reasoning, wherever it sits."""
    return _reasoning_and_answer(messages[-1])[0]


def answer_text(messages: Messages) -> str:
    return _reasoning_and_answer(messages[-1])[1]


def split_at_turns(
    messages: Messages, fits: Callable[[Messages], bool]
) -> tuple[list[Messages], int]:
    """Split a conversation too long to train whole into runs of whole exchanges that fit.

    Each piece keeps the system prompt and ends on an assistant turn, so no answer and no
    end-of-turn token is ever cut; an exchange too long on its own is dropped (and counted).
    Returns (pieces, exchanges dropped).
    """
    system = [m for m in messages if m["role"] == "system"][:1]
    exchanges: list[Messages] = []
    current: Messages = []
    for m in messages:
        if m["role"] == "system" and not exchanges and not current:
            continue
        current.append(m)
        if m["role"] == "assistant":
            exchanges.append(current)
            current = []
    pieces: list[Messages] = []
    window: Messages = []
    dropped = 0
    for exchange in exchanges:
        if window and fits(system + window + exchange):
            window += exchange
            continue
        if window:
            pieces.append(system + window)
        window = exchange if fits(system + exchange) else []
        dropped += 0 if window else 1
    if window:
        pieces.append(system + window)
    return pieces, dropped
