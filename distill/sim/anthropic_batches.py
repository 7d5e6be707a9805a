"""The Anthropic Message Batches API: /v1/messages/batches and its results JSONL.

A batch is "in_progress" until it ends, then "ended" with a results_url on this server (built
from the request's Host header); canceling answers "canceling" and ends it at once, keeping the
answers of the items done by then. Request counts move only when the batch ends, as the real API.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from distill.sim.batchcore import ItemRunner, Timeline, jsonl, limit_of, page, rfc3339, splice
from distill.sim.routes import Match
from distill.sim.server import Request, Response
from distill.sim.wire import error_response, json_bytes

MAX_REQUESTS = 100_000
RESULTS_CONTENT_TYPE = "application/x-jsonl"
_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_COUNTS = ("processing", "succeeded", "errored", "canceled", "expired")


@dataclass(eq=False)
class MessageBatch:
    id: str
    timeline: Timeline
    requests: list[tuple[str, Any]]  # (custom_id, params)
    status: str = "in_progress"
    cancel_initiated_at: float | None = None
    ended_at: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    results: bytes = b""

    def as_dict(self, host: str) -> dict[str, Any]:
        counts = dict.fromkeys(_COUNTS, 0) | self.counts
        if self.status != "ended":
            counts["processing"] = len(self.requests)
        url = f"http://{host}/v1/messages/batches/{self.id}/results"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": counts,
            "created_at": rfc3339(self.timeline.created),
            "ended_at": rfc3339(self.ended_at),
            "expires_at": rfc3339(self.timeline.created + 86400),
            "cancel_initiated_at": rfc3339(self.cancel_initiated_at),
            "archived_at": None,
            "results_url": url if self.status == "ended" else None,
        }


def _bad(status: int, message: str, kind: str = "") -> Response:
    return error_response(True, status, message, kind=kind)


def check_requests(body: Any) -> tuple[list[tuple[str, Any]], str]:
    """The (custom_id, params) of a create body, or the message of the 400 it gets."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return [], "requests: a non-empty list of {custom_id, params} is required"
    if len(requests) > MAX_REQUESTS:
        return [], f"requests: at most {MAX_REQUESTS} requests in a batch"
    out: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for n, item in enumerate(requests):
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
            return [], f"requests.{n}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$"
        if custom_id in seen:
            return [], f"requests.{n}.custom_id: {custom_id!r} is used twice in this batch"
        if not isinstance(item.get("params"), dict):
            return [], f"requests.{n}.params: an object of message parameters is required"
        seen.add(custom_id)
        out.append((custom_id, item["params"]))
    return out, ""


class AnthropicBatches:
    def __init__(self, runner: ItemRunner, default_host: Callable[[], str]) -> None:
        self._runner = runner
        self._default_host = default_host
        self.batches: dict[str, MessageBatch] = {}

    def close(self) -> None:
        for batch in self.batches.values():
            batch.timeline.stop()

    def handle(self, name: str, match: Match, req: Request) -> Response:
        host = req.headers.get("host", "")
        host = host if _HOST.fullmatch(host) else self._default_host()
        if name == "msgbatches.create":
            return self._create(req, host)
        if name == "msgbatches.list":
            return self._list(match.query, host)
        key = match.params.get("id", "")
        batch = self.batches.get(key)
        if batch is None:
            return _bad(404, f"message batch {key!r} not found")
        self.settle(batch)
        if name == "msgbatches.cancel":
            if batch.status != "in_progress":
                return _bad(409, f"message batch {key} is {batch.status}", "invalid_request_error")
            batch.cancel_initiated_at = time.time()
            self._finish(batch, canceled=True)
            shown = batch.as_dict(host) | {"processing_status": "canceling", "ended_at": None}
            shown["results_url"] = None
            shown["request_counts"] = dict.fromkeys(_COUNTS, 0) | {
                "processing": len(batch.requests)
            }
            return Response(200, json_bytes(shown))
        if name == "msgbatches.results":
            if batch.status != "ended":
                why = f"message batch {key} is still {batch.status}: results come once it has ended"
                return _bad(409, why, "invalid_request_error")
            return Response(200, batch.results, content_type=RESULTS_CONTENT_TYPE)
        if name == "msgbatches.delete":
            if batch.status != "ended":
                why = f"message batch {key} must end (or be canceled) before it is deleted"
                return _bad(409, why, "invalid_request_error")
            del self.batches[key]
            return Response(200, json_bytes({"id": key, "type": "message_batch_deleted"}))
        return Response(200, json_bytes(batch.as_dict(host)))

    def _create(self, req: Request, host: str) -> Response:
        try:
            body = json.loads(req.body)
        except ValueError:
            body = None
        requests, problem = check_requests(body)
        if problem:
            return _bad(400, problem)
        batch_id = "msgbatch_" + secrets.token_hex(12)
        timeline = Timeline(self._runner.config.batch_delay_s, lambda: self._on_due(batch_id))
        batch = MessageBatch(batch_id, timeline, requests)
        self.batches[batch_id] = batch
        self._runner.created()
        return Response(200, json_bytes(batch.as_dict(host)))

    def _on_due(self, batch_id: str) -> None:
        batch = self.batches.get(batch_id)
        if batch is not None:
            self.settle(batch)

    def settle(self, batch: MessageBatch) -> None:
        if batch.status == "in_progress" and batch.timeline.due():
            self._finish(batch, canceled=False)

    def _finish(self, batch: MessageBatch, canceled: bool) -> None:
        total = len(batch.requests)
        counts = dict.fromkeys(_COUNTS, 0)
        lines: list[bytes] = []
        for position, (custom_id, params) in enumerate(batch.requests):
            if canceled and not batch.timeline.done_by_now(position, total):
                result = self._runner.canceled()
            else:
                result = self._runner.run(custom_id, params, anthropic=True)
            head = {"custom_id": custom_id}
            if result.kind == "ok":
                inner = splice({"type": "succeeded"}, "message", result.body, {})
                lines.append(splice(head, "result", inner, {}))
                counts["succeeded"] += 1
                continue
            if result.kind in ("invalid", "failed"):
                kind = "invalid_request_error" if result.kind == "invalid" else "api_error"
                error = {"type": "error", "error": {"type": kind, "message": result.message}}
                outcome: dict[str, Any] = {"type": "errored", "error": error}
                counts["errored"] += 1
            else:
                outcome = {"type": result.kind}
                counts[result.kind] += 1
            lines.append(json_bytes(head | {"result": outcome}))
        batch.results, batch.counts = jsonl(lines), counts
        batch.ended_at = batch.timeline.end()
        batch.status = "ended"

    def _list(self, query: dict[str, str], host: str) -> Response:
        limit = limit_of(query, 20, 1000)
        if isinstance(limit, str):
            return _bad(400, limit)
        newest = list(reversed(self.batches.values()))
        for batch in newest:
            self.settle(batch)
        items, more = page(newest, limit, query.get("after_id"), query.get("before_id"))
        return Response(
            200,
            json_bytes(
                {
                    "data": [b.as_dict(host) for b in items],
                    "has_more": more,
                    "first_id": items[0].id if items else None,
                    "last_id": items[-1].id if items else None,
                }
            ),
        )
