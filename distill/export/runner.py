"""Export graded samples (and ready-made datasets) as trainer-ready splits, in two passes.

Pass 1 streams every input once: each line becomes an Example, is filtered, deduplicated and
length-checked, and only a small entry (input, byte offset, task) is kept. Mixing, pairing and the
split are decided on entries. Pass 2 seeks back to each chosen line, formats it and streams it
out. Memory holds entries, not rows, so a multi-GB input exports in a few hundred MB.

The split is by task: every sample of a task lands on the same side, so validation never sees a
prompt the student trained on. Same inputs, settings and seed give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from distill import __version__, mixing
from distill.config import Config, ExportConfig
from distill.errors import ConfigError, InputError
from distill.export import formats
from distill.export.code_prompts import CodePrompts
from distill.export.dedup import NearDuplicates, normalise, prompt_key
from distill.export.examples import Example, to_example
from distill.export.select import NEGATIVE, drop_reason, wanted_statuses
from distill.export.writers import SUFFIX, write_rows
from distill.jsonl import iter_lines, parse_line, write_text_atomic
from distill.prompts import PromptLibrary
from distill.reasoning import basic_reasoning
from distill.records import Task, read_tasks


class Entry(NamedTuple):
    input: int
    offset: int
    length: int
    line: int
    task_id: str
    status: str


@dataclass
class ExportResult:
    train_path: Path
    val_path: Path
    manifest_path: Path
    train_rows: int = 0
    val_rows: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


@dataclass
class _Context:
    settings: ExportConfig
    inputs: list[Path]
    tasks: Mapping[str, Task]
    temperatures: Mapping[str, float | None]
    code_prompts: CodePrompts | None
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    dropped: Counter[str] = field(default_factory=Counter)
    lengths: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


def run_export(config: Config) -> ExportResult:
    """Export for a pipeline config: inputs default to its graded.jsonl, tasks to its tasks."""
    from distill.tasks import load_tasks

    settings = config.export
    inputs = [Path(p) for p in settings.inputs] or [config.out / "graded.jsonl"]
    if not settings.inputs and not inputs[0].exists():
        raise InputError(
            f"{inputs[0]}: nothing graded yet; run `distill grade -c {config.source}` first"
        )
    tasks = read_tasks(settings.tasks) if settings.tasks else load_tasks(config)
    temperatures = {name: t.temperature for name, t in config.teachers.items()}
    library = PromptLibrary.load(config.prompts.library)
    return export(settings, inputs, tasks, config.out, temperatures, library)


def run_standalone_export(settings: ExportConfig) -> ExportResult:
    """Export from a standalone export config: `inputs` required, tasks optional."""
    if not settings.inputs:
        raise ConfigError("export: no inputs; pass --input FILE (repeatable) or set inputs")
    tasks = read_tasks(settings.tasks) if settings.tasks else []
    inputs = [Path(p) for p in settings.inputs]
    return export(settings, inputs, tasks, Path(settings.output_dir), {}, PromptLibrary.load())


def export(
    settings: ExportConfig,
    inputs: list[Path],
    tasks: list[Task],
    out: Path,
    temperatures: Mapping[str, float | None],
    library: PromptLibrary,
) -> ExportResult:
    ctx = _Context(
        settings=settings,
        inputs=inputs,
        tasks={t.id: t for t in tasks},
        temperatures=temperatures,
        code_prompts=CodePrompts.from_config(settings, library),
    )
    if (settings.kinds or settings.sources or settings.min_test_cases) and not tasks:
        raise ConfigError(
            "export.kinds, sources and min_test_cases need the task files: set export.tasks"
        )
    per_input = _first_pass(ctx)
    units = _units(ctx, per_input)  # one entry per row, or (chosen, rejected) pairs for dpo
    targets = mixing.targets(
        [len(u) for u in units], settings.fractions, settings.weights, settings.num_samples
    )
    rng = random.Random(settings.seed)
    chosen = [unit for u, t in zip(units, targets, strict=True) for unit in mixing.pick(u, t, rng)]
    task_ids = sorted({unit[0].task_id for unit in chosen})
    val_tasks = _val_tasks(task_ids, settings.val_fraction, settings.seed)
    train = [u for u in chosen if u[0].task_id not in val_tasks]
    val = [u for u in chosen if u[0].task_id in val_tasks]
    if settings.shuffle:
        random.Random(settings.seed + 1).shuffle(train)
        random.Random(settings.seed + 2).shuffle(val)

    stem = f"{settings.out_file_stem}_" if settings.out_file_stem else ""
    suffix = SUFFIX[settings.file_format]
    result = ExportResult(
        out / f"{stem}train{suffix}", out / f"{stem}val{suffix}", out / "manifest.json"
    )
    variants: Counter[str] = Counter()
    written: Counter[str] = Counter()
    result.train_rows = write_rows(
        result.train_path, _rows(ctx, train, variants, written), settings.file_format
    )
    result.val_rows = write_rows(
        result.val_path, _rows(ctx, val, variants, written), settings.file_format
    )
    result.dropped = ctx.dropped
    manifest = {
        "schema_version": 1,
        "distill_version": __version__,
        "inputs": [
            {
                "path": str(p),
                "sha256": _sha256(p),
                "rows": ctx.counts["input_rows"][str(i)],
                "selected": len(u),
                "target": t,
            }
            for i, (p, u, t) in enumerate(zip(inputs, units, targets, strict=True))
        ],
        "export": asdict(settings),
        "outputs": {
            result.train_path.name: {"rows": len(train), "tasks": len(task_ids) - len(val_tasks)},
            result.val_path.name: {"rows": len(val), "tasks": len(val_tasks)},
        },
        "counts": {
            name: dict(sorted(c.items()))
            for name, c in sorted(ctx.counts.items())
            if name != "input_rows"
        },
        "written": dict(sorted(written.items())),
        "prompt_variants": dict(sorted(variants.items())),
        "lengths": {name: _stats(v) for name, v in sorted(ctx.lengths.items())},
        "dropped": dict(sorted(ctx.dropped.items())),
    }
    write_text_atomic(result.manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return result


def _first_pass(ctx: _Context) -> list[list[Entry]]:
    settings = ctx.settings
    statuses = wanted_statuses(settings)
    count_tokens = None
    if settings.max_tokens:
        from distill.export.tokens import load_counter

        count_tokens = load_counter(settings.tokenizer)
    owner: dict[str, str] = {}  # exact prompt key → the task that claimed it first
    near_dropped: set[str] = set()
    near = NearDuplicates(settings.near_duplicate_threshold) if settings.deduplicate else None
    rows_seen: set[bytes] = set()
    per_input: list[list[Entry]] = []
    for index, path in enumerate(ctx.inputs):
        kept: list[Entry] = []
        for line_no, offset, raw in iter_lines(path, hint="check export.inputs"):
            ctx.counts["input_rows"][str(index)] += 1
            ex = _prepare(
                ctx,
                to_example(
                    parse_line(raw, str(path), line_no, fast=True),
                    (str(path), line_no),
                    ctx.tasks,
                    ctx.temperatures,
                ),
            )
            ctx.counts["all_verdicts"][ex.status] += 1
            reason = drop_reason(ex, settings, statuses)
            if not reason and settings.deduplicate:
                reason = _duplicate(ex, owner, near_dropped, near, rows_seen)
            if not reason and count_tokens is not None:
                tokens = count_tokens(formats.render_text(
                    [*ex.prompt, formats.assistant_message(ex, settings)], "chatml"))  # fmt: skip
                ctx.lengths["tokens"].append(tokens)
                if tokens > settings.max_tokens:
                    reason = "too_long"
            if reason:
                ctx.dropped[reason] += 1
                continue
            ctx.lengths["reasoning_chars"].append(len(ex.reasoning))
            ctx.lengths["answer_chars"].append(len(ex.answer))
            for name, value in (("teacher", ex.teacher), ("kind", ex.kind), ("source", ex.source),
                                ("verdict", ex.status)):  # fmt: skip
                ctx.counts[name][value or "-"] += 1
            if not ex.reasoning.strip() or ex.generated_reasoning:
                ctx.counts["reasoning"][f"missing_{settings.missing_reasoning}"] += 1
            kept.append(Entry(index, offset, len(raw), line_no, ex.task_id, ex.status))
        per_input.append(kept)
    return per_input


def _duplicate(
    ex: Example, owner: dict[str, str], near_dropped: set[str], near: NearDuplicates | None,
    rows_seen: set[bytes],
) -> str:  # fmt: skip
    key = prompt_key(ex.prompt)
    first = owner.setdefault(key, ex.task_id)
    if first != ex.task_id:
        return "duplicate_prompt"
    row = hashlib.blake2b(
        "\0".join((key, ex.reasoning, ex.answer)).encode(), digest_size=16
    ).digest()
    if row in rows_seen:
        return "duplicate_row"
    rows_seen.add(row)
    if key in near_dropped:
        return "near_duplicate"
    text = " ".join(m["content"] for m in ex.prompt)
    if near is not None and _is_new_key(key, owner) and near.seen(normalise(text)):
        near_dropped.add(key)
        return "near_duplicate"
    return ""


def _is_new_key(key: str, owner: dict[str, str]) -> bool:
    # The near-duplicate check runs once per distinct prompt: marked by a sentinel owner entry.
    marker = "\0near:" + key
    if marker in owner:
        return False
    owner[marker] = ""
    return True


def _prepare(ctx: _Context, ex: Example) -> Example:
    """Apply the prompt choices (re-rendered code prompt, system, single turn, basic reasoning)."""
    settings = ctx.settings
    if (ctx.code_prompts is None and settings.include_system and settings.dataset_type == "auto"
            and (ex.reasoning.strip() or settings.missing_reasoning != "basic")):  # fmt: skip
        return ex  # nothing to change: the common case, kept cheap
    prompt = ex.prompt
    if ctx.code_prompts is not None and ex.kind == "code" and ex.task is not None:
        prompt, variant = ctx.code_prompts.render(
            ex.task, settings.seed, f"{ex.task_id}:{ex.sample_index}:{ex.teacher}"
        )
        ex.metadata = {**ex.metadata, "prompt_variant": variant}
    if not settings.include_system:
        prompt = [m for m in prompt if m["role"] != "system"]
    if settings.dataset_type in ("cai", "code"):  # one exchange: system and the last user turn
        users = [i for i, m in enumerate(prompt) if m["role"] == "user"]
        if users:
            prompt = [m for m in prompt if m["role"] == "system"] + [prompt[users[-1]]]
    if not ex.reasoning.strip() and settings.missing_reasoning == "basic":
        return replace(
            ex, prompt=prompt, reasoning=basic_reasoning(ex.kind), generated_reasoning=True
        )
    return replace(ex, prompt=prompt)


def _units(ctx: _Context, per_input: list[list[Entry]]) -> list[list[tuple[Entry, ...]]]:
    if ctx.settings.format != "dpo":
        return [[(e,) for e in entries] for entries in per_input]
    # A pair per passing sample and failing (or hacking) sample of the same task, in input order.
    good: dict[str, list[Entry]] = defaultdict(list)
    bad: dict[str, list[Entry]] = defaultdict(list)
    for entries in per_input:
        for e in entries:
            (good if e.status == "pass" else bad if e.status in NEGATIVE else good)[
                e.task_id
            ].append(e)
    units: list[list[tuple[Entry, ...]]] = [[] for _ in per_input]
    for task_id, chosen in good.items():
        rejected = bad.get(task_id, [])
        for pair in zip(chosen, rejected, strict=False):
            units[pair[0].input].append(pair)
        ctx.dropped["unpaired"] += abs(len(chosen) - len(rejected))
    for task_id, rejected in bad.items():
        if task_id not in good:
            ctx.dropped["unpaired"] += len(rejected)
    return units


def _rows(
    ctx: _Context, units: list[tuple[Entry, ...]], variants: Counter[str], written: Counter[str]
) -> Iterator[dict[str, Any]]:
    handles = [path.open("rb") for path in ctx.inputs]
    try:
        for unit in units:
            examples = [_read(ctx, handles, e) for e in unit]
            for ex in examples:
                variants[ex.metadata.get("prompt_variant", "original")] += 1
            written[f"{examples[0].kind}/{examples[0].status}"] += 1
            if ctx.settings.format == "dpo":
                yield formats.emit_pair(examples[0], examples[1], ctx.settings)
            else:
                yield formats.emit(examples[0], ctx.settings)
    finally:
        for handle in handles:
            handle.close()


def _read(ctx: _Context, handles: list[Any], e: Entry) -> Example:
    handle = handles[e.input]
    handle.seek(e.offset)
    where = (str(ctx.inputs[e.input]), e.line)
    row = parse_line(handle.read(e.length), *where, fast=True)
    ex = to_example(row, where, ctx.tasks, ctx.temperatures, validate=False)
    return _prepare(ctx, ex)


def _val_tasks(task_ids: list[str], fraction: float, seed: int) -> set[str]:
    if fraction <= 0 or len(task_ids) < 2:
        return set()
    order = list(task_ids)
    random.Random(seed).shuffle(order)
    count = min(len(order) - 1, max(1, round(fraction * len(order))))
    return set(order[:count])


def _stats(values: list[int]) -> dict[str, int]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.5), "p95": at(0.95), "max": ordered[-1], "count": len(ordered)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
