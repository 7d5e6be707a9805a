"""The exception tree. Every error a user can cause is a DistillError with a one-line message.

    DistillError                 exit 2 unless a subclass says otherwise
    ├── ConfigError              bad config file, unknown key, bad value, missing API key variable
    ├── InputError               unreadable or malformed input file (RecordError names file:line)
    │   └── RecordError
    ├── TeacherFatalError        exit 3: the teacher refuses us (bad key, no balance); stop at once
    ├── LockedError              exit 4: another run holds the output dir
    └── ProviderError            one request failed; never reaches the CLI, recorded on the sample
        ├── TransientError       worth retrying: timeout, dropped link, 408/409/429/5xx, bad body
        │   └── RateLimitedError 429: pause the whole teacher for retry_after seconds
        └── RequestRejectedError 400/404/422: recorded on the sample, not retried

The CLI turns a DistillError into `distill: error: <message>` and its exit code, never a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What the `distill` command exits with (cron and scripts branch on these; see README)."""

    OK = 0
    PARTIAL = 1  # some samples ended in error; the rest were written
    CONFIG = 2  # a config or input error: the message says what to fix
    TEACHER_FATAL = 3  # the teacher refuses us (bad key, no balance)
    LOCKED = 4  # another run holds the output directory
    INTERNAL = 70  # a bug: rerun with --debug for the traceback
    INTERRUPTED = 130  # Ctrl-C; completed requests are cached


class DistillError(Exception):
    """Base of every error distill raises on purpose."""

    exit_code: ExitCode = ExitCode.CONFIG


class ConfigError(DistillError):
    """The configuration is wrong; the message names the file, the key and the fix."""


class InputError(DistillError):
    """An input file is missing, unreadable or malformed."""


class RecordError(InputError):
    """One line of a JSONL file is malformed."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class TeacherFatalError(DistillError):
    """The teacher refuses every request (401/402/403): retrying cannot help."""

    exit_code = ExitCode.TEACHER_FATAL


class LockedError(DistillError):
    """Another distill run holds the lock on this output directory."""

    exit_code = ExitCode.LOCKED


class ProviderError(DistillError):
    """One request to a teacher failed."""

    def __init__(self, message: str, status: int | None = None, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        # A short label for counting errors by kind: timeout, connection, http_503, ...
        self.kind = kind or (f"http_{status}" if status else type(self).__name__)


class TransientError(ProviderError):
    """A failure that a later attempt may not see."""


class RateLimitedError(TransientError):
    """The teacher said 429; retry_after is its advice in seconds, if it gave one."""

    def __init__(self, message: str, retry_after: float | None, status: int = 429) -> None:
        super().__init__(message, status, "rate_limited")
        self.retry_after = retry_after


class RequestRejectedError(ProviderError):
    """The teacher rejected this request itself (400/404/422); resending it cannot help."""
