"""The TutorError tree. Each error carries a message a learner or developer can act on, and a
stable ``code``; ``tutor/api.py`` maps ``status`` to the HTTP code in one place, and the CLI maps
``exit_code``."""

from __future__ import annotations


class TutorError(Exception):
    code = "internal"
    status = 500
    exit_code = 1
    details: dict | None = None  # machine-readable extras; the API adds them as ``error.details``

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(TutorError):
    code = "bad_input"
    status = 400
    exit_code = 2


class NotFound(TutorError):
    code = "not_found"
    status = 404
    exit_code = 2


class Unauthorized(TutorError):
    code = "unauthorized"
    status = 401
    exit_code = 2


class Forbidden(TutorError):
    code = "forbidden"
    status = 403
    exit_code = 2


class Conflict(TutorError):
    code = "conflict"
    status = 409
    exit_code = 2


class Unavailable(TutorError):
    """A part the request needs is not available (no index yet, sandbox missing, model missing)."""

    code = "unavailable"
    status = 503
    exit_code = 1
