"""The Anthropic Message Batches API: one POST of every request, results as JSONL once the
batch has ended.

Imported only for an anthropic teacher in batch mode (it imports the anthropic SDK).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, cast

import anthropic
from anthropic.types.messages import MessageBatch

from distill.harvest.batch.api import (
    CLOCK_SLACK_S,
    EXPIRED,
    FAILED,
    TRANSFER_TIMEOUT_S,
    BatchInfo,
    Item,
    batch_call,
    encode_json,
    error_message,
    parse_line,
)
from distill.harvest.providers.base import SDKProvider

PATH = "/v1/messages/batches"
# The HTTP status of each error type an errored item can carry (REJECTED_STATUSES among them).
ERROR_STATUSES = {
    "invalid_request_error": 400,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicBatchAPI:
    max_requests = 100_000
    max_bytes = 250_000_000  # a batch's body may be 256 MB: keep a margin

    def __init__(self, provider: SDKProvider) -> None:
        self._provider = provider

    def _client(self) -> anthropic.AsyncAnthropic:
        return cast(anthropic.AsyncAnthropic, self._provider.client())

    def encode(self, custom_id: str, body: dict[str, Any]) -> bytes:
        return encode_json({"custom_id": custom_id, "params": body})

    async def create(self, submission: str, items: list[bytes]) -> str:
        # The body is joined from the encoded items: the SDK's create() would transform every
        # one of up to 100,000 TypedDicts. The API keeps no metadata: find() matches by count.
        content = b'{"requests":[' + b",".join(items) + b"]}"
        with batch_call(self._provider, PATH):
            batch = await self._client().post(
                PATH,
                cast_to=MessageBatch,
                content=content,
                options={
                    "headers": {"Content-Type": "application/json"},
                    "timeout": TRANSFER_TIMEOUT_S,
                },
            )
        return batch.id

    async def find(self, submission: str, since: float, count: int, known: set[str]) -> str | None:
        # Newest first; the oldest batch made since the submission with its request count and
        # no submission of ours is the one (a lane makes its batches one at a time).
        found: str | None = None
        with batch_call(self._provider, PATH):
            async for batch in self._client().messages.batches.list(limit=100):
                if _timestamp(batch.created_at) < since - CLOCK_SLACK_S:
                    break
                if batch.id not in known and _total(batch) == count:
                    found = batch.id
        return found

    async def retrieve(self, batch_id: str) -> BatchInfo:
        with batch_call(self._provider, PATH, missing_is_fatal=False):
            batch = await self._client().messages.batches.retrieve(batch_id)
        c = batch.request_counts
        shown = (
            f"{c.succeeded} succeeded, {c.errored} errored, {c.expired} expired, "
            f"{c.canceled} canceled, {c.processing} processing"
        )
        return BatchInfo(
            id=batch.id,
            status=batch.processing_status,
            ended=batch.processing_status == "ended",
            expired=False,  # every item has a result line that says what became of it
            counts=shown,
            sources=(batch.results_url,) if batch.results_url else (),
        )

    async def results(self, info: BatchInfo) -> AsyncIterator[Item]:
        batches = self._client().messages.batches
        if not info.sources:
            return
        with batch_call(self._provider, PATH, missing_is_fatal=False):
            async with batches.with_streaming_response.results(
                info.id, timeout=TRANSFER_TIMEOUT_S
            ) as response:
                async for line in response.iter_lines():
                    row = parse_line(line, info.id)
                    if row is not None:
                        yield _item(row)


def _item(row: dict[str, Any]) -> Item:
    custom_id = str(row["custom_id"])
    result = row.get("result")
    kind = result.get("type") if isinstance(result, dict) else None
    if kind == "succeeded" and isinstance(result, dict) and isinstance(result.get("message"), dict):
        return Item(custom_id, result["message"])
    if kind == "expired":
        return Item(custom_id, failure=EXPIRED, message="the batch expired before running it")
    if kind == "canceled":
        return Item(custom_id, failure=FAILED, message="the batch was canceled")
    if kind == "errored" and isinstance(result, dict):
        error = result.get("error")
        inner = error.get("error") if isinstance(error, dict) else None
        error_type = str(inner.get("type") or "") if isinstance(inner, dict) else ""
        message = error_message(result, error_type or "errored")
        return Item(custom_id, failure=FAILED, message=message,
                    status=ERROR_STATUSES.get(error_type))  # fmt: skip
    return Item(custom_id, failure=FAILED, message=f"a result of unknown type {kind!r}")


def _total(batch: MessageBatch) -> int:
    c = batch.request_counts
    return c.processing + c.succeeded + c.errored + c.canceled + c.expired


def _timestamp(value: datetime | str) -> float:
    if isinstance(value, str):  # a server the SDK did not parse it for
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.timestamp()
