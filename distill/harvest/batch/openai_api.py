"""The OpenAI Batch API: upload a JSONL file of requests, create a batch from it, read the
output and error files once it has ended.

Imported only for an openai_compat teacher in batch mode (it imports the openai SDK).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final, cast

import openai

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

ENDED = frozenset({"completed", "expired", "failed", "cancelled"})
ENDPOINT: Final = "/v1/chat/completions"
SUBMISSION_KEY = "distill_submission"  # batch metadata naming the submission that made it


class OpenAIBatchAPI:
    max_requests = 50_000
    max_bytes = 190_000_000  # the input file's limit is 200 MB: keep a margin

    def __init__(self, provider: SDKProvider) -> None:
        self._provider = provider

    def _client(self) -> openai.AsyncOpenAI:
        return cast(openai.AsyncOpenAI, self._provider.client())

    def encode(self, custom_id: str, body: dict[str, Any]) -> bytes:
        line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
        return encode_json(line) + b"\n"

    async def create(self, submission: str, items: list[bytes]) -> str:
        client = self._client()
        with batch_call(self._provider, "/v1/files"):
            uploaded = await client.files.create(
                file=(f"distill-{submission}.jsonl", b"".join(items), "application/jsonl"),
                purpose="batch",
                timeout=TRANSFER_TIMEOUT_S,
            )
        # A crash here leaves an uploaded file and no batch: harmless, a file is never run or
        # billed as requests (the next submission uploads its own).
        with batch_call(self._provider, "/v1/batches"):
            batch = await client.batches.create(
                completion_window="24h",
                endpoint=ENDPOINT,
                input_file_id=uploaded.id,
                metadata={SUBMISSION_KEY: submission},
            )
        return batch.id

    async def find(self, submission: str, since: float, count: int, known: set[str]) -> str | None:
        # Batches are listed newest first: stop at the first made before the submission.
        with batch_call(self._provider, "/v1/batches"):
            async for batch in self._client().batches.list(limit=100):
                if batch.created_at < since - CLOCK_SLACK_S:
                    break
                if (batch.metadata or {}).get(SUBMISSION_KEY) == submission:
                    return batch.id
        return None

    async def retrieve(self, batch_id: str) -> BatchInfo:
        with batch_call(self._provider, "/v1/batches", missing_is_fatal=False):
            batch = await self._client().batches.retrieve(batch_id)
        counts = batch.request_counts
        shown = f"{counts.completed} completed, {counts.failed} failed" if counts else ""
        sources = tuple(f for f in (batch.output_file_id, batch.error_file_id) if f)
        return BatchInfo(
            id=batch.id,
            status=batch.status,
            ended=batch.status in ENDED,
            expired=batch.status == "expired",
            counts=shown,
            sources=sources,
        )

    async def results(self, info: BatchInfo) -> AsyncIterator[Item]:
        client = self._client()
        for file_id in info.sources:
            with batch_call(self._provider, "/v1/files", missing_is_fatal=False):
                async with client.files.with_streaming_response.content(
                    file_id, timeout=TRANSFER_TIMEOUT_S
                ) as response:
                    async for line in response.iter_lines():
                        row = parse_line(line, info.id)
                        if row is not None:
                            yield _item(row)


def _item(row: dict[str, Any]) -> Item:
    """One line of an output or error file."""
    custom_id = str(row["custom_id"])
    response = row.get("response")
    error = row.get("error")
    if isinstance(response, dict):
        status = response.get("status_code")
        body = response.get("body")
        if status == 200 and isinstance(body, dict):
            return Item(custom_id, body)
        if isinstance(status, int):
            return Item(custom_id, failure=FAILED, message=error_message(body, f"HTTP {status}"),
                        status=status)  # fmt: skip
    if isinstance(error, dict):
        code = str(error.get("code") or "")
        message = str(error.get("message") or code or "failed")[:300]
        return Item(custom_id, failure=EXPIRED if code == EXPIRED else FAILED, message=message)
    return Item(custom_id, failure=FAILED, message="a result line with neither response nor error")
