"""The Provider protocol and what every provider shares: the result type and SDK error mapping.

Providers are built on the official SDKs with `max_retries=0`: retries live in one place (the
harvest runner, with tenacity) and rate limits in another (limits.py). SDK errors are translated
here into distill's own tree, with the API key scrubbed from every message.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx2

from distill.config import TeacherConfig
from distill.errors import (
    ProviderError,
    RateLimitedError,
    RequestRejectedError,
    TeacherFatalError,
    TransientError,
)
from distill.records import Usage

SAMPLE_INDEX_HEADER = "x-distill-sample-index"
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
FATAL_HINTS = {
    401: "the API key was rejected: check the key in ${env}",
    402: "the account has no balance left: top it up, then run again",
    403: "the key is not allowed to use this model or endpoint: check its permissions",
}


@dataclass(frozen=True)
class Completion:
    model: str
    reasoning: str
    reasoning_kind: str
    content: str
    finish_reason: str
    usage: Usage
    headers: Mapping[str, str]


class Provider(Protocol):
    provider_name: str
    base_url: str

    def request_params(self, sample_index: int) -> dict[str, Any]:
        """The body parameters besides model and messages: what goes into the request key."""
        ...

    async def complete(
        self, messages: list[dict[str, Any]], params: dict[str, Any], sample_index: int
    ) -> Completion: ...

    async def aclose(self) -> None: ...


C = TypeVar("C")
CONNECTIONS_PER_POOL = 32


class ClientShards(Generic[C]):
    """SDK clients over several small httpx2 pools, used in turn.

    httpcore's pool scans all its connections for every request it assigns, so one pool of
    hundreds of connections spends more CPU than the requests themselves; pools of 32 do not.
    """

    def __init__(self, make: Callable[[httpx2.AsyncClient], C], in_flight: int) -> None:
        count = max(1, math.ceil(in_flight / CONNECTIONS_PER_POOL))
        size = math.ceil(in_flight / count)
        tls = _shared_tls_context()  # loading the CA bundle costs ~50 ms per context
        self._http = [
            httpx2.AsyncClient(
                limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size),
                timeout=httpx2.Timeout(None, connect=30.0),
                verify=tls,
            )
            for _ in range(count)
        ]
        self._clients = [make(http) for http in self._http]
        self._turn = itertools.cycle(self._clients)

    def next(self) -> C:
        return next(self._turn)

    async def aclose(self) -> None:
        for http in self._http:
            await http.aclose()


@functools.cache
def _shared_tls_context() -> ssl.SSLContext:
    return httpx2.create_ssl_context()


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def parse_json_body(raw: bytes, teacher: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise TransientError(
            f"teacher {teacher!r} sent a malformed JSON body", kind="malformed"
        ) from None
    if not isinstance(data, dict):
        raise TransientError(
            f"teacher {teacher!r} sent JSON that is not an object", kind="malformed"
        )
    return data


def translate_sdk_error(
    exc: Exception, teacher: TeacherConfig, name: str, secret: str
) -> ProviderError:
    """Map an openai/anthropic SDK exception (their trees are parallel) to distill's."""
    status = getattr(exc, "status_code", None)
    message = redact(_short_message(exc), secret)
    if status is None:
        kind = type(exc).__name__
        if "Timeout" in kind:
            return TransientError(f"teacher {name!r}: request timed out", kind="timeout")
        if "Connection" in kind:
            return TransientError(
                f"teacher {name!r}: connection failed ({message})", kind="connection"
            )
        return TransientError(
            f"teacher {name!r}: bad response ({kind}: {message})", kind="bad_response"
        )
    if status in FATAL_HINTS:
        hint = FATAL_HINTS[status].replace("{env}", teacher.api_key_env or "the key variable")
        raise TeacherFatalError(
            f"teacher {name!r} ({teacher.base_url or teacher.provider}): HTTP {status}: {hint}"
        )
    if status == 429:
        return RateLimitedError(
            f"teacher {name!r}: rate limited (429)", retry_after=_retry_after(exc)
        )
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientError(f"teacher {name!r}: HTTP {status}: {message}", status)
    return RequestRejectedError(f"teacher {name!r}: HTTP {status}: {message}", status)


def _short_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None
