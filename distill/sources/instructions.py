"""Instruction datasets → chat tasks: alpaca, dolly, sharegpt, csv (column mapping), and the
seed-style SFT / DPO / KTO templates.

The dataset's own answer is kept as `reference.output` (the key the bundled chat examples and
the simulator use), a DPO/KTO rejected answer as `reference.rejected`, so one file serves both as
tasks for a teacher and as SFT data. A one-turn conversation becomes a `prompt` (so the chat
problem template applies); a longer one becomes `messages` ending on the user's turn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from distill.records import Task
from distill.sources.common import (
    BadRow,
    ImportContext,
    Row,
    join_nonempty,
    per_row,
    text_field,
)

ROLES = {"human": "user", "user": "user", "prompter": "user", "gpt": "assistant",
         "assistant": "assistant", "chatgpt": "assistant", "bard": "assistant", "bing": "assistant",
         "model": "assistant", "system": "system"}  # fmt: skip


def chat_task(
    ctx: ImportContext,
    turns: list[dict[str, Any]],
    meta: dict[str, Any] | None = None,
    reference: dict[str, Any] | None = None,
) -> Task:
    """A chat task from a whole conversation: a last assistant turn becomes the reference."""
    if not any(t["role"] == "user" for t in turns):
        raise BadRow("no user turn", "the conversation has no user turn")
    ref = dict(reference or {})
    if turns[-1]["role"] == "assistant":
        ref.setdefault("output", turns[-1]["content"])
        turns = turns[:-1]
    if turns[-1]["role"] != "user":
        raise BadRow("no user turn last", "the conversation does not end on a user turn")
    return ctx.task("chat", messages=turns, reference=_nonempty(ref), meta=meta)


def _nonempty(reference: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reference.items() if not (isinstance(v, str) and not v.strip())}


def _single(
    ctx: ImportContext,
    user: str,
    output: str = "",
    system: str = "",
    meta: dict[str, Any] | None = None,
) -> Task:
    turns = [{"role": "system", "content": system}] if system.strip() else []
    turns.append({"role": "user", "content": user})
    return ctx.task("chat", messages=turns, reference=_nonempty({"output": output}), meta=meta)


@per_row
def alpaca(row: Row, ctx: ImportContext) -> Task:
    """`instruction`, optional `input` (appended), `output`, optional `system`."""
    d = row.data
    user = join_nonempty(text_field(d, "instruction"), text_field(d, "input", required=False))
    return _single(
        ctx,
        user,
        text_field(d, "output", required=False),
        text_field(d, "system", required=False),
    )


@per_row
def dolly(row: Row, ctx: ImportContext) -> Task:
    """`instruction`, optional `context` (appended), `response`, `category` (kept in meta)."""
    d = row.data
    user = join_nonempty(text_field(d, "instruction"), text_field(d, "context", required=False))
    meta = {"category": text_field(d, "category", required=False)}
    return _single(ctx, user, text_field(d, "response", required=False), meta=meta)


def turns_of(value: Any, what: str) -> list[dict[str, Any]]:
    """A ShareGPT `conversations` list (from/value) or an OpenAI `messages` list (role/content)."""
    if not isinstance(value, list) or not value:
        raise BadRow(f"bad {what}", f"{what!r} must be a non-empty list")
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict):
            raise BadRow(f"bad {what}", f"{what}[{i}] must be an object")
        speaker = turn.get("from", turn.get("role"))
        role = ROLES.get(str(speaker).lower())
        if role is None:
            raise BadRow("unknown speaker", f"{what}[{i}]: unknown speaker {speaker!r}")
        content = turn.get("value", turn.get("content"))
        if not isinstance(content, str):
            raise BadRow(f"bad {what}", f"{what}[{i}]: the text must be a string")
        turns.append({"role": role, "content": content})
    return turns


@per_row
def sharegpt(row: Row, ctx: ImportContext) -> Task:
    """`conversations` [{from, value}] (or `messages` [{role, content}]), optional `system`."""
    d = row.data
    key = "conversations" if "conversations" in d else "messages"
    if key not in d:
        raise BadRow("missing 'conversations'", "missing field 'conversations' or 'messages'")
    turns = turns_of(d[key], key)
    system = text_field(d, "system", required=False)
    if system.strip() and turns[0]["role"] != "system":
        turns.insert(0, {"role": "system", "content": system})
    return chat_task(ctx, turns)


@per_row
def tabular(row: Row, ctx: ImportContext) -> Task:
    """Any table, columns named by flags: prompt, input, output, system, answer, meta."""
    d = row.data
    user = join_nonempty(
        text_field(d, ctx.option("prompt_column", "prompt")),
        *(text_field(d, c) for c in ctx.option("input_column", [])),
    )
    meta = {c: d.get(c) for c in ctx.option("meta_column", [])}
    answer_column = ctx.option("answer_column")
    kind = ctx.option("kind") or ("math" if answer_column else "chat")
    if kind == "math":
        if not answer_column:
            raise BadRow("no answer column", "--kind math needs --answer-column")
        answer = text_field(d, answer_column).strip()
        if not answer:
            raise BadRow("empty answer", f"column {answer_column!r} is empty")
        if ctx.option("answer_type"):
            meta["answer_type"] = ctx.option("answer_type")
        return ctx.task("math", prompt=user, reference={"answer": answer}, meta=meta)
    output_column = ctx.option("output_column")
    output = text_field(d, output_column) if output_column else ""
    system_column = ctx.option("system_column")
    system = text_field(d, system_column, required=False) if system_column else ""
    return _single(ctx, user, output, system, meta)


def _side(value: Any, what: str) -> str:
    """A DPO/KTO answer: a string, or a message list whose last turn is the assistant's."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        turns = turns_of(value, what)
        if turns[-1]["role"] == "assistant":
            return str(turns[-1]["content"])
    raise BadRow(
        f"bad {what!r}", f"{what!r} must be a string or a message list ending with the answer"
    )


def _prompt_turns(d: dict[str, Any]) -> list[dict[str, Any]]:
    value = d.get("prompt")
    if isinstance(value, list):
        return turns_of(value, "prompt")
    turns = [{"role": "user", "content": text_field(d, "prompt")}]
    system = text_field(d, "system", required=False)
    return ([{"role": "system", "content": system}] if system.strip() else []) + turns


@per_row
def dpo(row: Row, ctx: ImportContext) -> Task:
    """`prompt`, `chosen`, `rejected` (strings or TRL message lists), optional `system`."""
    d = row.data
    for key in ("chosen", "rejected"):
        if key not in d:
            raise BadRow(f"missing {key!r}", f"missing field {key!r}")
    reference = {
        "output": _side(d["chosen"], "chosen"),
        "rejected": _side(d["rejected"], "rejected"),
    }
    return chat_task(ctx, _prompt_turns(d), reference=reference)


def _label(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise BadRow("bad 'label'", f"'label' must be true or false, got {value!r}")


@per_row
def _kto_row(row: Row, ctx: ImportContext) -> Task:
    d = row.data
    if "completion" not in d or "label" not in d:
        raise BadRow("missing 'completion'", "missing field 'completion' or 'label'")
    key = "output" if _label(d["label"]) else "rejected"
    return chat_task(ctx, _prompt_turns(d), reference={key: _side(d["completion"], "completion")})


def kto(rows: Iterable[Row], ctx: ImportContext) -> Iterator[Task]:
    """`prompt`, `completion`, `label`: rows sharing a prompt become one task, the first
    desirable completion its `output` and the first undesirable one its `rejected`."""
    merged: dict[str, Task] = {}
    for task in _kto_row(rows, ctx):
        first = merged.get(task.id)
        if first is None:
            merged[task.id] = task
            continue
        reference = {**task.reference, **first.reference}
        merged[task.id] = dataclasses.replace(first, reference=reference)
        ctx.stats.extra["rows merged into a task with the same prompt"] = (
            ctx.stats.extra.get("rows merged into a task with the same prompt", 0) + 1
        )
    yield from merged.values()
