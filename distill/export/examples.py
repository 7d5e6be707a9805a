"""Read export inputs line by line into one shape, `Example`, whatever they were written as.

Inputs are distill's graded samples, or ready-made datasets in the formats export writes
(`messages`, `prompt`/`completion`, alpaca, ShareGPT). Lines come from distill.jsonl with their
byte offsets, so the second pass seeks straight back to a selected row instead of holding rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distill.code_tests import UngradeableReference, parse_tests
from distill.errors import RecordError
from distill.keys import content_hash
from distill.reasoning import split_inline_think
from distill.records import Sample, Task, Usage, Verdict, sample_from_dict

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "chatgpt": "assistant", "bard": "assistant"}  # fmt: skip


@dataclass(slots=True)
class Example:
    task_id: str
    prompt: list[dict[str, Any]]  # every message before the answer: system?, user, earlier turns
    reasoning: str
    answer: str
    status: str  # the verdict status; "ungraded"; or "external" for ready-made datasets
    finish_reason: str = "stop"
    harvest_ok: bool = True
    reasoning_complete: bool = True
    generated_reasoning: bool = False  # `missing_reasoning = "basic"` wrote it, not the teacher
    teacher: str = ""
    model: str = ""
    sample_index: int = 0
    kind: str = "unknown"
    source: str = ""
    test_cases: int = 0
    task: Task | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def to_example(
    row: dict[str, Any],
    where: tuple[str, int],
    tasks: Mapping[str, Task],
    temperatures: Mapping[str, float | None],
    validate: bool = True,
) -> Example:
    """`validate=False` is for lines pass 1 already validated: it skips the strict record check."""
    if "task_id" in row and "request_key" in row:
        return _from_sample(row, where, tasks, temperatures, validate)
    return _from_dataset(row, where)


def _from_sample(
    row: dict[str, Any],
    where: tuple[str, int],
    tasks: Mapping[str, Task],
    temperatures: Mapping[str, float | None],
    validate: bool,
) -> Example:
    s = sample_from_dict(row, where) if validate else _trusted_sample(row)
    task = tasks.get(s.task_id)
    tests = 0
    if task is not None and task.kind == "code":
        tests = _count_tests(task)
    # A reasoning trace that ran into max_tokens is cut; its answer never came.
    complete = s.finish_reason != "length"
    return Example(
        task_id=s.task_id,
        prompt=[{"role": m["role"], "content": m["content"]} for m in s.messages],
        reasoning=s.reasoning,
        answer=s.content,
        status=s.verdict.status if s.verdict else "ungraded",
        finish_reason=s.finish_reason,
        harvest_ok=s.status == "ok",
        reasoning_complete=complete,
        teacher=s.teacher,
        model=s.model,
        sample_index=s.sample_index,
        kind=task.kind if task else "unknown",
        source=task.source if task else "",
        test_cases=tests,
        task=task,
        metadata={
            "task_id": s.task_id,
            "teacher": s.teacher,
            "model": s.model,
            "temperature": temperatures.get(s.teacher),
            "sample_index": s.sample_index,
            "grader": s.verdict.grader if s.verdict else None,
            "verdict": s.verdict.status if s.verdict else None,
            "reasoning_kind": s.reasoning_kind,
        },
    )


def _trusted_sample(row: dict[str, Any]) -> Sample:
    verdict = row.get("verdict")
    values = {**row, "usage": Usage(), "verdict": Verdict(**verdict) if verdict else None}
    return Sample(**values)


def _count_tests(task: Task) -> int:
    try:
        return parse_tests(task.reference).total
    except UngradeableReference:
        return 0


def _from_dataset(row: dict[str, Any], where: tuple[str, int]) -> Example:
    if isinstance(row.get("messages"), list):
        messages = _messages(row["messages"], where, "messages")
    elif isinstance(row.get("conversations"), list):
        messages = _sharegpt(row, where)
    elif "instruction" in row and "output" in row:
        messages = _alpaca(row)
    elif "prompt" in row and "completion" in row:
        messages = _prompt_completion(row, where)
    else:
        keys = ", ".join(sorted(row)[:6])
        raise RecordError(
            *where,
            f"not a graded sample or a known dataset row (keys: {keys}); expected messages, "
            "conversations, instruction/output or prompt/completion",
        )
    if not messages or messages[-1]["role"] != "assistant":
        raise RecordError(*where, "the conversation must end with an assistant turn")
    last = messages[-1]
    reasoning = str(last.get("reasoning_content") or last.get("reasoning") or "")
    answer, complete = str(last.get("content") or ""), True
    if not reasoning:
        reasoning, answer, complete = split_inline_think(answer)
    prompt = [{"role": m["role"], "content": m["content"]} for m in messages[:-1]]
    task_id = "ext-" + content_hash(prompt)[:16]
    return Example(
        task_id=task_id,
        prompt=prompt,
        reasoning=reasoning,
        answer=answer,
        status="external",
        reasoning_complete=complete,
        source=str(row.get("source") or ""),
        kind=str(row.get("kind") or "unknown"),
        metadata={"task_id": task_id, **(row.get("metadata") or {})},
    )


def _messages(value: list[Any], where: tuple[str, int], key: str) -> list[dict[str, Any]]:
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("content", ""), str) or "role" not in m:
            raise RecordError(*where, f"{key}[{i}] must be an object with role and string content")
        out.append(m)
    return out


def _sharegpt(row: dict[str, Any], where: tuple[str, int]) -> list[dict[str, Any]]:
    out = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    for i, turn in enumerate(row["conversations"]):
        role = (
            SHAREGPT_ROLES.get(str(turn.get("from", "")).lower())
            if isinstance(turn, dict)
            else None
        )
        if role is None:
            raise RecordError(*where, f"conversations[{i}]: unknown speaker; use human/gpt/system")
        out.append({"role": role, "content": str(turn.get("value", ""))})
    return out


def _alpaca(row: dict[str, Any]) -> list[dict[str, Any]]:
    user = str(row["instruction"])
    if row.get("input"):
        user += "\n\n" + str(row["input"])
    out = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    return [
        *out,
        {"role": "user", "content": user},
        {"role": "assistant", "content": str(row["output"])},
    ]


def _prompt_completion(row: dict[str, Any], where: tuple[str, int]) -> list[dict[str, Any]]:
    prompt, completion = row["prompt"], row["completion"]
    if isinstance(prompt, list) and isinstance(completion, list):
        return _messages(prompt + completion, where, "prompt")
    return [
        {"role": "user", "content": str(prompt)},
        {"role": "assistant", "content": str(completion)},
    ]
