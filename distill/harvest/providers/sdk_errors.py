"""SDK and httpx2 errors → distill's error tree, at one boundary, with the API key scrubbed.

The openai and anthropic SDKs raise parallel trees (APIStatusError, APITimeoutError,
APIConnectionError under one base), so one mapping by `isinstance` serves both.

A 429, and a 503/529 that says Retry-After, become RateLimitedError: the runner pauses the
whole teacher for as long as the server asked before any request to it is sent again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import ModuleType

import httpx2

from distill.config import TeacherConfig
from distill.errors import (
    DistillError,
    RateLimitedError,
    RequestRejectedError,
    TeacherFatalError,
    TransientError,
)

TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
OVERLOADED_STATUSES = frozenset({503, 529})  # with Retry-After: wait as asked, teacher-wide
FATAL_HINTS = {
    401: "the API key was rejected: check the key in ${env}",
    402: "the account has no balance left: top it up, then run again",
    403: "the key is not allowed to use this model or endpoint: check its permissions",
}


class OverloadedError(RateLimitedError):
    """503/529 with Retry-After: the teacher is overloaded and said how long to wait.

    A RateLimitedError so the runner pauses the teacher for retry_after, as on 429; it keeps
    the status as its kind (http_503, http_529), so error counts still tell them apart."""

    def __init__(self, message: str, retry_after: float, status: int) -> None:
        super().__init__(message, retry_after, status)
        self.kind = f"http_{status}"


@dataclass(frozen=True, slots=True)
class SDKErrors:
    """One SDK's exception classes, taken from the module so the SDK is imported only when used."""

    base: type[Exception]
    status: tuple[type[Exception], ...]  # the errors that carry an HTTP status_code
    timeout: type[Exception]
    connection: type[Exception]

    @classmethod
    def of(cls, sdk: ModuleType, base: type[Exception]) -> SDKErrors:
        return cls(
            base=base,
            status=(sdk.APIStatusError, sdk.APIResponseValidationError),
            timeout=sdk.APITimeoutError,
            connection=sdk.APIConnectionError,
        )


@contextmanager
def translate_errors(
    sdk: SDKErrors, teacher: TeacherConfig, name: str, secret: str
) -> Iterator[None]:
    """Turn the SDK's and httpx2's errors raised inside the block into distill's own."""
    try:
        yield
    except (sdk.base, httpx2.HTTPError) as exc:
        raise to_distill_error(exc, sdk, teacher, name, secret) from None


def to_distill_error(
    exc: Exception, sdk: SDKErrors, teacher: TeacherConfig, name: str, secret: str
) -> DistillError:
    if isinstance(exc, sdk.status):
        status = int(getattr(exc, "status_code", 0))
        return _status_error(exc, status, teacher, name, secret)
    message = redact(_short_message(exc), secret)
    if isinstance(exc, sdk.timeout | httpx2.TimeoutException):
        if dropped := _dropped_under_aiohttp(exc):
            message = redact(dropped, secret)
            return TransientError(
                f"teacher {name!r}: connection failed ({message})", kind="connection"
            )
        return TransientError(f"teacher {name!r}: request timed out", kind="timeout")
    if isinstance(exc, sdk.connection):
        return TransientError(f"teacher {name!r}: connection failed ({message})", kind="connection")
    kind = type(exc).__name__
    return TransientError(
        f"teacher {name!r}: bad response ({kind}: {message})", kind="bad_response"
    )


def _status_error(
    exc: Exception, status: int, teacher: TeacherConfig, name: str, secret: str
) -> DistillError:
    message = redact(_short_message(exc), secret)
    if status in FATAL_HINTS:
        hint = FATAL_HINTS[status].replace("{env}", teacher.api_key_env or "the key variable")
        return TeacherFatalError(
            f"teacher {name!r} ({teacher.base_url or teacher.provider}): HTTP {status}: {hint}"
        )
    if status == 429:
        return RateLimitedError(
            f"teacher {name!r}: rate limited (429)", retry_after=_retry_after(exc)
        )
    if status in OVERLOADED_STATUSES and (retry_after := _retry_after(exc)) is not None:
        return OverloadedError(
            f"teacher {name!r}: HTTP {status} (overloaded; retry after {retry_after:g} s): "
            f"{message}",
            retry_after,
            status,
        )
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientError(f"teacher {name!r}: HTTP {status}: {message}", status)
    return RequestRejectedError(f"teacher {name!r}: HTTP {status}: {message}", status)


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


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
            seconds = _seconds_or_date(value.strip(), scale)
            if seconds is not None:
                return seconds
    return None


def _seconds_or_date(value: str, scale: float) -> float | None:
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110 10.2.3); None if it is neither."""
    try:
        return max(0.0, float(value) * scale)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _dropped_under_aiohttp(exc: BaseException) -> str:
    """The aiohttp transport maps a closed connection to httpx2.ConnectTimeout: what it was, or
    "" for a real timeout (aiohttp's own timeouts are TimeoutErrors) or another transport."""
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        if type(cause).__module__.startswith("aiohttp"):
            if isinstance(cause, TimeoutError):
                return ""
            return str(cause).splitlines()[0][:300] if str(cause) else type(cause).__name__
        cause = cause.__cause__ or cause.__context__
    return ""
