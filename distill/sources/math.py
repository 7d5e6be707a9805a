"""Math datasets → math tasks with `reference.answer` for the answer grader.

- gsm8k: `question`, `answer` whose final line is `#### 72`; the worked solution is kept too.
- math (Hendrycks MATH, MATH-500): `problem`, `solution` whose last `\\boxed{}` is the answer
  (an explicit `answer` field wins); `level`, `type`/`subject` kept in meta.
- qa: plain `question` (or `problem`/`prompt`) and `answer` rows; `choices` carried over.
"""

from __future__ import annotations

import re
from typing import Any

from distill.boxed import last_boxed
from distill.records import Task
from distill.sources.common import BadRow, ImportContext, Row, per_row, text_field

_GSM8K_FINAL = re.compile(r"^\s*####\s*(.+?)\s*$", re.MULTILINE)


def _answer_meta(ctx: ImportContext, meta: dict[str, Any]) -> dict[str, Any]:
    if ctx.option("answer_type"):
        meta["answer_type"] = ctx.option("answer_type")
    return meta


@per_row
def gsm8k(row: Row, ctx: ImportContext) -> Task:
    """GSM8K rows: the answer after the last `####`."""
    d = row.data
    worked = text_field(d, "answer")
    finals = _GSM8K_FINAL.findall(worked)
    if not finals:
        raise BadRow("no '####' answer", "the answer has no '#### <final answer>' line")
    answer = (
        finals[-1].replace(",", "") if re.fullmatch(r"-?[\d,]+(\.\d+)?", finals[-1]) else finals[-1]
    )
    solution = worked[: worked.rfind("####")].rstrip()
    reference = {"answer": answer, "solution": solution} if solution else {"answer": answer}
    meta = _answer_meta(ctx, {})
    return ctx.task("math", prompt=text_field(d, "question"), reference=reference, meta=meta)


@per_row
def hendrycks_math(row: Row, ctx: ImportContext) -> Task:
    """MATH rows: the last `\\boxed{}` of the solution, unless the row has an `answer`."""
    d = row.data
    solution = text_field(d, "solution", required=False)
    answer = text_field(d, "answer", required=False).strip()
    if not answer:
        if not solution:
            raise BadRow("missing 'solution'", "missing field 'solution' (or 'answer')")
        boxed = last_boxed(solution)
        if boxed is None or not boxed.strip():
            raise BadRow("no \\boxed{} answer", "the solution has no \\boxed{...} answer")
        answer = boxed.strip()
    reference = {"answer": answer, "solution": solution} if solution else {"answer": answer}
    meta = {
        "level": d.get("level"),
        "topic": d.get("type") or d.get("subject"),
        "unique_id": d.get("unique_id"),
    }
    return ctx.task(
        "math",
        prompt=text_field(d, "problem", "question"),
        reference=reference,
        meta=_answer_meta(ctx, meta),
    )


@per_row
def qa(row: Row, ctx: ImportContext) -> Task:
    """Plain question/answer rows."""
    d = row.data
    answer = text_field(d, "answer", "final_answer").strip()
    if not answer:
        raise BadRow("empty answer", "the answer is empty")
    reference: dict[str, Any] = {"answer": answer}
    if isinstance(d.get("choices"), list | dict):
        reference["choices"] = d["choices"]
    if isinstance(d.get("aliases"), list):
        reference["aliases"] = d["aliases"]
    meta = _answer_meta(ctx, {k: d.get(k) for k in ("level", "topic", "subject", "difficulty")})
    prompt = text_field(d, "question", "problem", "prompt")
    return ctx.task("math", prompt=prompt, reference=reference, meta=meta)
