"""SDK and httpx2 errors → distill's error tree, at one boundary, with the API key scrubbed.

The openai and anthropic SDKs raise parallel trees (APIStatusError, APITimeoutError,
APIConnectionError under one base), so one mapping by `isinstance` serves both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
FATAL_HINTS = {
    401: "the API key was rejected: check the key in ${env}",
    402: "the account has no balance left: top it up, then run again",
    403: "the key is not allowed to use this model or endpoint: check its permissions",
}


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
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None
