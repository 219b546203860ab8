"""The one error type the CLI knows how to show, and the exit codes it maps to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in README.md and each tested."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CONFIG = 3
    DELIVERY_FAILED = 4
    SIGNATURE_INVALID = 5
    NOT_FOUND = 6
    TIMED_OUT = 7
    UNAVAILABLE = 8
    CHECK_FAILED = 9
    INTERRUPTED = 130
    BROKEN_PIPE = 141


class NangoHooksError(Exception):
    """An expected failure: shown as one `error:` line plus a hint, never a traceback."""

    exit_code: ExitCode = ExitCode.UNEXPECTED
    kind = "error"

    def __init__(self, message: str, hint: str | None = None, data: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # What the command had done when it failed (shown in the --json envelope).
        self.data = data

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
            "exit_code": int(self.exit_code),
        }


class UsageError(NangoHooksError):
    exit_code = ExitCode.USAGE
    kind = "usage"


class ConfigError(NangoHooksError):
    exit_code = ExitCode.CONFIG
    kind = "config"


class DeliveryError(NangoHooksError):
    exit_code = ExitCode.DELIVERY_FAILED
    kind = "delivery"


class SignatureError(NangoHooksError):
    exit_code = ExitCode.SIGNATURE_INVALID
    kind = "signature"


class NotFoundError(NangoHooksError):
    exit_code = ExitCode.NOT_FOUND
    kind = "not_found"


class TimedOutError(NangoHooksError):
    exit_code = ExitCode.TIMED_OUT
    kind = "timeout"


class BindError(NangoHooksError):
    """The listener cannot bind its address (port in use, not allowed)."""

    exit_code = ExitCode.UNAVAILABLE
    kind = "unavailable"


class CheckFailedError(NangoHooksError):
    exit_code = ExitCode.CHECK_FAILED
    kind = "check"
