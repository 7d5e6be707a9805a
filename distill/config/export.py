"""The `[export]` table: what `distill export` writes. Every flagged key is an export flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from distill.config.fields import flag

EXPORT_FORMATS = ("messages", "prompt-completion", "alpaca", "sharegpt", "text", "dpo", "kto")
REASONING_PLACEMENTS = ("think-tags", "field", "answer-tags", "sky-t1", "drop")


@dataclass(frozen=True)
class ExportConfig:
    """What `distill export` writes; every key is also a flag (see `distill export --help`)."""

    inputs: tuple[str, ...] = flag(  # default: graded.jsonl
        (), "a graded file or a ready-made dataset (repeatable)",
        name="--input", metavar="FILE", path=True, many="repeat",
    )  # fmt: skip
    tasks: tuple[str, ...] = flag(  # default: the config's tasks
        (), "task files for the kind/source/test filters (repeatable)",
        name="--tasks-file", metavar="FILE", path=True, many="repeat",
    )  # fmt: skip
    output_dir: str = ""  # standalone export configs only; a pipeline config uses its own
    correct_only: bool = flag(
        True, "keep only samples whose verdict is pass (default from config: on)"
    )
    statuses: tuple[str, ...] = flag((), "verdict statuses to keep; empty = by correct_only")
    kinds: tuple[str, ...] = flag(())
    teachers: tuple[str, ...] = flag(())
    sources: tuple[str, ...] = flag(())
    finish_reasons: tuple[str, ...] = flag(())
    min_test_cases: int = flag(0, metavar="N")
    max_tokens: int = flag(0, "drop longer rows (counted)", metavar="N")  # 0 = no length filter
    tokenizer: str = flag("", "tokenizer.json or a model directory", metavar="PATH", path=True)
    format: Literal["messages", "prompt-completion", "alpaca", "sharegpt", "text", "dpo", "kto"] = (
        flag("messages", "row format (default messages)")
    )
    file_format: Literal["jsonl", "parquet", "csv"] = flag("jsonl")
    template: Literal["chatml", "instruct", "chat"] = flag("chatml", "for --format text")
    dpo_style: Literal["trl", "openai"] = flag("trl")
    reasoning: Literal["think-tags", "field", "answer-tags", "sky-t1", "drop"] = flag(
        "think-tags", "where the reasoning goes"
    )
    missing_reasoning: Literal["drop", "keep", "basic"] = flag("drop")
    include_system: bool = flag(True)
    turn_weights: bool = flag(  # OpenAI per-assistant-turn weight
        False, "OpenAI turn weights: 1 on the answer, 0 on the turns before"
    )
    dataset_type: Literal["auto", "code", "cai", "multiturn"] = flag("auto", name="--type")
    system_prompt_ids: tuple[str, ...] = flag(  # re-render code tasks from prompt ids (variants)
        (), "re-render code tasks with these system prompts (variants)"
    )
    problem_prompt_ids: tuple[str, ...] = flag(())
    test_format_ids: tuple[str, ...] = flag(())
    include_flag_prompt: bool = flag(False)
    fractions: tuple[float, ...] = flag((), "per input, summing to 1", metavar="F,F")
    weights: tuple[float, ...] = flag((), "per input, relative", metavar="W,W")
    num_samples: int = flag(0, "rows to write (0 = as many as there are)", metavar="N")
    shuffle: bool = flag(True)
    deduplicate: bool = flag(False)
    near_duplicate_threshold: float = flag(  # MinHash Jaccard at or above which prompts match
        0.85, "MinHash Jaccard at or above which prompts are duplicates", metavar="J"
    )
    val_fraction: float = flag(0.1, "fraction of tasks held out for validation")
    seed: int = flag(0, "export seed (mixing, split, shuffle, variants)")
    out_file_stem: str = flag("", "write STEM_train.jsonl and STEM_val.jsonl")
