"""What a lane needs from one provider's Batch API, and the shapes both providers share.

Each API speaks through the sync provider's SDK client (max_retries=0: a failed call is tried
again at the next poll, never in a loop here) and through its error boundary (translate_errors),
so auth failures are TeacherFatalError and the API key is scrubbed from every message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from distill.errors import RequestRejectedError, TeacherFatalError
from distill.harvest.plan import PlannedRequest
from distill.harvest.providers.base import SDKProvider

log = logging.getLogger(__name__)

EXPIRED = "batch_expired"  # the batch's window closed before it ran the request
FAILED = "batch_failed"  # the request errored, was canceled, or its result was unreadable
# Item statuses that are the request's own fault: recorded at once, as a sync 4xx is.
REJECTED_STATUSES = frozenset({400, 404, 413, 422})
# Uploads and downloads of up to 256 MB: longer than one answer's deadline.
TRANSFER_TIMEOUT_S = 1800.0
# Recovery looks for a batch created at most this long before the submission was recorded,
# so a server clock a little behind ours still finds it.
CLOCK_SLACK_S = 600.0


@dataclass(frozen=True, slots=True)
class Item:
    """One request's outcome in an ended batch: its answer's JSON body, or why it has none."""

    custom_id: str
    body: dict[str, Any] | None = None
    failure: str = ""  # EXPIRED or FAILED when body is None
    message: str = ""
    status: int | None = None  # the HTTP status the teacher answered the item with, if any


@dataclass(frozen=True, slots=True)
class BatchInfo:
    id: str
    status: str  # the provider's own word (completed, expired, ended, ...)
    ended: bool
    expired: bool  # items without a result expired (rather than failed)
    counts: str  # request counts, for the log
    sources: tuple[str, ...] = ()  # where the results are: file ids or a results URL


class BatchAPI(Protocol):
    max_requests: int
    max_bytes: int

    def encode(self, custom_id: str, body: dict[str, Any]) -> bytes:
        """One request as the API takes it (its size counts against max_bytes)."""
        ...

    async def create(self, submission: str, items: list[bytes]) -> str:
        """Create a batch of `items`; its id."""
        ...

    async def find(self, submission: str, since: float, count: int, known: set[str]) -> str | None:
        """The id of the batch a crash kept us from recording, or None if it was never made."""
        ...

    async def retrieve(self, batch_id: str) -> BatchInfo: ...

    def results(self, info: BatchInfo) -> AsyncIterator[Item]:
        """Every result line of an ended batch (successes and failures, in any order)."""
        ...


def encode_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_line(line: str, batch_id: str) -> dict[str, Any] | None:
    """A result line as JSON, or None (logged) when it is not an object with a custom_id."""
    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except ValueError:
        row = None
    if not isinstance(row, dict) or not isinstance(row.get("custom_id"), str):
        log.warning("batch %s: a result line is not JSON with a custom_id; skipped", batch_id)
        return None
    return row


def error_message(body: Any, fallback: str) -> str:
    """The message of an {"error": {"message": ...}} body (both APIs nest it so)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("error"), dict):
        error = error["error"]  # Anthropic's {"type": "error", "error": {...}}
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:300]
    return fallback


@contextmanager
def batch_call(provider: SDKProvider, path: str, missing_is_fatal: bool = True) -> Iterator[None]:
    """The provider's error boundary; a 404/405 on a batch endpoint means the server has no
    Batch API: a TeacherFatalError that names the fix."""
    try:
        with provider.translating():
            yield
    except RequestRejectedError as exc:
        if missing_is_fatal and exc.status in (404, 405):
            name = provider.name
            raise TeacherFatalError(
                f"teacher {name!r}: {provider.base_url} has no Batch API (HTTP {exc.status} on "
                f'{path}); set teachers.{name}.mode = "sync"'
            ) from None
        raise


def api_for(provider: SDKProvider) -> BatchAPI:
    """The Batch API of the provider's kind (its SDK is imported only now)."""
    if provider.provider_name == "anthropic":
        from distill.harvest.batch.anthropic_api import AnthropicBatchAPI

        return AnthropicBatchAPI(provider)
    from distill.harvest.batch.openai_api import OpenAIBatchAPI

    return OpenAIBatchAPI(provider)


def chunked(
    requests: list[PlannedRequest],
    encode: Callable[[PlannedRequest], bytes],
    max_requests: int,
    max_bytes: int,
) -> Iterator[tuple[list[PlannedRequest], list[bytes]]]:
    """The requests in plan order, as batches within the provider's limits on count and bytes
    (each item counts one byte more: a newline or a comma joins them)."""
    chunk: list[PlannedRequest] = []
    items: list[bytes] = []
    size = 0
    for request in requests:
        item = encode(request)
        if chunk and (len(chunk) >= max_requests or size + len(item) > max_bytes):
            yield chunk, items
            chunk, items, size = [], [], 0
        chunk.append(request)
        items.append(item)
        size += len(item) + 1
    if chunk:
        yield chunk, items
