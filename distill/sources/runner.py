"""The import formats by name, and the two ways in: dataset rows and merges mined from git."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from distill.records import Task
from distill.sources import code, instructions, math, oasst
from distill.sources.common import ImportContext, Importer, finish
from distill.sources.merges import MineOptions, mine_merges
from distill.sources.readers import iter_rows


@dataclass(frozen=True)
class Format:
    name: str
    importer: Importer
    kind: str
    help: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("alpaca", instructions.alpaca, "chat", "instruction, input, output"),
        Format("dolly", instructions.dolly, "chat", "instruction, context, response, category"),
        Format("oasst1", oasst.oasst1, "chat", "OpenAssistant message trees (best-ranked path)"),
        Format("sharegpt", instructions.sharegpt, "chat", "conversations of from/value turns"),
        Format("csv", instructions.tabular, "chat", "any table, columns mapped by flags"),
        Format("sft", instructions.alpaca, "chat", "seed-style SFT: instruction, input, output"),
        Format("dpo", instructions.dpo, "chat", "seed-style DPO: prompt, chosen, rejected"),
        Format("kto", instructions.kto, "chat", "seed-style KTO: prompt, completion, label"),
        Format("apps", code.apps, "code", "APPS rows: question, input_output, solutions"),
        Format("taco", code.apps, "code", "TACO rows (APPS shape plus tags, limits)"),
        Format("livecodebench", code.livecodebench, "code", "LiveCodeBench code generation"),
        Format("code", code.plain, "code", "distill code tasks: prompt + tests"),
        Format("gsm8k", math.gsm8k, "math", "question, answer ending in '#### N'"),
        Format("math", math.hendrycks_math, "math", "MATH: problem, solution with \\boxed{}"),
        Format("qa", math.qa, "math", "plain question / answer rows"),
    )
}


def import_files(
    fmt: str,
    inputs: Iterable[str | Path],
    ctx: ImportContext,
    max_samples: int | None = None,
    seed: int = 0,
) -> list[Task]:
    tasks = FORMATS[fmt].importer(iter_rows(inputs, ctx), ctx)
    return finish(tasks, ctx, max_samples, seed)


def import_merges(
    ctx: ImportContext, options: MineOptions, max_samples: int | None = None, seed: int = 0
) -> list[Task]:
    tasks = finish(mine_merges(ctx, options), ctx, max_samples, seed)
    sides = Counter(str(t.meta.get("resolution_side")) for t in tasks)
    for side in ("ours", "theirs", "base", "combined"):
        ctx.stats.extra[f"kept, resolved as {side}"] = sides[side]
    return tasks
