"""The OpenAI Batch API: /v1/files to upload the JSONL, /v1/batches to run it.

Statuses as the real API: a new batch is "validating"; a bad input line fails it ("failed", with
`errors`); otherwise "in_progress" until it ends, then "completed", or "expired" when any item
expired. Answers go to the output file; failed, expired and canceled items to the error file
(request_counts.failed counts the failed and expired ones).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from distill.sim.batchcore import (
    MAX_BATCH_ITEMS,
    ItemRunner,
    Timeline,
    jsonl,
    limit_of,
    page,
    splice,
)
from distill.sim.files import FileStore, handle_files
from distill.sim.routes import Match
from distill.sim.server import Request, Response
from distill.sim.wire import error_response, json_bytes

ENDPOINT = "/v1/chat/completions"
_EXPIRED = "This request could not be executed before the completion window expired."
_CANCELED = "This request was not executed because the batch was cancelled."


@dataclass(eq=False)
class OpenAIBatch:
    id: str
    input_file_id: str
    metadata: dict[str, Any] | None
    timeline: Timeline
    lines: list[tuple[str, Any]]  # (custom_id, body)
    status: str = "in_progress"
    errors: list[dict[str, Any]] | None = None
    times: dict[str, int | None] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0
    usage: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        created = int(self.timeline.created)
        at = {f"{name}_at": self.times.get(name) for name in _TIMES}
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": ENDPOINT,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": created,
            "expires_at": created + 86400,
            **at,
            "request_counts": {
                "total": len(self.lines),
                "completed": self.completed,
                "failed": self.failed,
            },
            "usage": self.usage,
            "metadata": self.metadata,
        }


_TIMES = (
    "in_progress",
    "finalizing",
    "completed",
    "failed",
    "expired",
    "cancelling",
    "cancelled",
)


def _bad(status: int, message: str, param: str | None = None) -> Response:
    resp = error_response(False, status, message)
    if param:
        body = json.loads(resp.body)
        body["error"]["param"] = param
        resp.body = json_bytes(body)
    return resp


def validate_lines(data: bytes) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    """The (custom_id, body) of each line of a batch input file, and the errors that fail it."""
    lines: list[tuple[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()

    def error(code: str, number: int, message: str, param: str | None = None) -> None:
        errors.append({"code": code, "message": message, "param": param, "line": number})

    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError:
            error("invalid_json_line", number, f"Line {number} is not valid JSON.")
            continue
        if not isinstance(row, dict):
            error("invalid_json_line", number, f"Line {number} is not a JSON object.")
            continue
        custom_id = row.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            error("missing_required_parameter", number, "custom_id is missing", "custom_id")
        elif custom_id in seen:
            error("duplicate_custom_id", number, f"custom_id {custom_id!r} is used twice")
        if row.get("method") != "POST":
            error("invalid_value", number, "method must be 'POST'", "method")
        if row.get("url") != ENDPOINT:
            error("invalid_url", number, f"url must be {ENDPOINT!r} (the batch's endpoint)", "url")
        if not isinstance(row.get("body"), dict):
            error("missing_required_parameter", number, "body must be a JSON object", "body")
        if isinstance(custom_id, str):
            seen.add(custom_id)
            lines.append((custom_id, row.get("body")))
    if not lines and not errors:
        error("empty_file", 1, "The input file is empty.")
    if len(lines) > MAX_BATCH_ITEMS:
        error("too_many_requests", MAX_BATCH_ITEMS + 1, f"at most {MAX_BATCH_ITEMS} requests")
    return lines, errors


class OpenAIBatches:
    def __init__(self, runner: ItemRunner, files: FileStore) -> None:
        self._runner = runner
        self._files = files
        self.batches: dict[str, OpenAIBatch] = {}

    def close(self) -> None:
        for batch in self.batches.values():
            batch.timeline.stop()

    def handle(self, name: str, match: Match, req: Request) -> Response:
        key = match.params.get("id", "")
        if name.startswith("files."):
            return handle_files(self._files, name, key, req)
        if name == "batches.create":
            return self._create(req)
        if name == "batches.list":
            return self._list(match.query)
        batch = self.batches.get(key)
        if batch is None:
            return _bad(404, f"No batch found with id '{key}'.", "batch_id")
        self.settle(batch)
        if name == "batches.cancel":
            return self._cancel(batch)
        return Response(200, json_bytes(batch.as_dict()))

    def _create(self, req: Request) -> Response:
        try:
            body = json.loads(req.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _bad(400, "request body must be a JSON object")
        stored = self._files.get(str(body.get("input_file_id", "")))
        if stored is None:
            return _bad(404, f"No such File object: {body.get('input_file_id')}", "input_file_id")
        if stored.purpose != "batch":
            return _bad(400, f"file {stored.id} has purpose {stored.purpose!r}, not 'batch'")
        if body.get("endpoint") != ENDPOINT:
            return _bad(400, f"endpoint must be {ENDPOINT!r} in this simulator", "endpoint")
        if body.get("completion_window") != "24h":
            return _bad(400, "completion_window must be '24h'", "completion_window")
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            return _bad(400, "metadata must be an object of strings", "metadata")
        lines, errors = validate_lines(stored.data)
        batch_id = "batch_" + secrets.token_hex(12)
        timeline = Timeline(self._runner.config.batch_delay_s, lambda: self._on_due(batch_id))
        batch = OpenAIBatch(batch_id, stored.id, metadata, timeline, lines if not errors else [])
        if errors:
            batch.status, batch.errors = "failed", errors
            batch.times["failed"] = int(timeline.end())
        else:
            batch.times["in_progress"] = int(timeline.created)
        self.batches[batch_id] = batch
        self._runner.created()
        shown = batch.as_dict() | {"status": "validating", "errors": None}
        return Response(200, json_bytes(shown | {"in_progress_at": None, "failed_at": None}))

    def _on_due(self, batch_id: str) -> None:
        batch = self.batches.get(batch_id)
        if batch is not None:
            self.settle(batch)

    def settle(self, batch: OpenAIBatch) -> None:
        if batch.status == "in_progress" and batch.timeline.due():
            self._finish(batch, canceled=False)

    def _cancel(self, batch: OpenAIBatch) -> Response:
        if batch.status != "in_progress":
            return _bad(409, f"Cannot cancel a batch with status '{batch.status}'.")
        batch.times["cancelling"] = int(time.time())
        self._finish(batch, canceled=True)
        shown = batch.as_dict() | {"status": "cancelling", "cancelled_at": None}
        return Response(200, json_bytes(shown | {"output_file_id": None, "error_file_id": None}))

    def _finish(self, batch: OpenAIBatch, canceled: bool) -> None:
        total = len(batch.lines)
        out: list[bytes] = []
        err: list[bytes] = []
        usage = {"input": 0, "cached": 0, "output": 0, "reasoning": 0}
        expired = False
        for position, (custom_id, body) in enumerate(batch.lines):
            if canceled and not batch.timeline.done_by_now(position, total):
                result = self._runner.canceled()
            else:
                result = self._runner.run(custom_id, body, anthropic=False)
            head = {"id": "batch_req_" + secrets.token_hex(12), "custom_id": custom_id}
            rid = "req_" + secrets.token_hex(16)
            if result.kind == "ok" and result.built is not None:
                response = splice({"status_code": 200, "request_id": rid}, "body", result.body, {})
                out.append(splice(head, "response", response, {"error": None}))
                built = result.built
                usage["input"] += built.prompt_tokens
                usage["cached"] += built.cache.read
                usage["output"] += built.completion
                usage["reasoning"] += built.reasoning
            elif result.kind in ("invalid", "failed"):
                status = 400 if result.kind == "invalid" else 500
                error = error_response(False, status, result.message).body
                response = splice({"status_code": status, "request_id": rid}, "body", error, {})
                err.append(splice(head, "response", response, {"error": None}))
                batch.failed += 1
            else:
                expired = expired or result.kind == "expired"
                code = "batch_expired" if result.kind == "expired" else "batch_cancelled"
                message = _EXPIRED if result.kind == "expired" else _CANCELED
                err.append(
                    json_bytes(
                        head | {"response": None, "error": {"code": code, "message": message}}
                    )
                )
                batch.failed += result.kind == "expired"
        batch.completed = len(out)
        ended = int(batch.timeline.end())
        if out:
            batch.output_file_id = self._files.add(
                f"{batch.id}_output.jsonl", "batch_output", jsonl(out)
            ).id
        if err:
            batch.error_file_id = self._files.add(
                f"{batch.id}_error.jsonl", "batch_output", jsonl(err)
            ).id
        batch.usage = {
            "input_tokens": usage["input"],
            "input_tokens_details": {"cached_tokens": usage["cached"]},
            "output_tokens": usage["output"],
            "output_tokens_details": {"reasoning_tokens": usage["reasoning"]},
            "total_tokens": usage["input"] + usage["output"],
        }
        batch.status = "cancelled" if canceled else "expired" if expired else "completed"
        batch.times["finalizing"] = ended
        batch.times[batch.status] = ended

    def _list(self, query: dict[str, str]) -> Response:
        limit = limit_of(query, 20, 100)
        if isinstance(limit, str):
            return _bad(400, limit, "limit")
        newest = list(reversed(self.batches.values()))
        for batch in newest:
            self.settle(batch)
        items, more = page(newest, limit, query.get("after"))
        return Response(
            200,
            json_bytes(
                {
                    "object": "list",
                    "data": [b.as_dict() for b in items],
                    "first_id": items[0].id if items else None,
                    "last_id": items[-1].id if items else None,
                    "has_more": more,
                }
            ),
        )
