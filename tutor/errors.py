"""The TutorError tree: the error vocabulary of every layer. A lower layer raises the error it
means (``NotFound``, ``BadInput``, ``Forbidden``, ``Unavailable``, ``Conflict``); the faces map
``status`` to the HTTP code (``tutor/web/api/``), ``exit_code`` to the CLI's exit status.

This module is a leaf (it imports nothing of ours), so ``storage``, ``tools``, ``knowledge`` and
``curriculum`` may import it although they never import the rest of ``tutor``
(``tests/unit/test_layers.py``). Each typed error also subclasses the builtin it resembles, so an
``except ValueError`` around a call that now raises ``BadInput`` still catches it.

Anything else that escapes a lower layer is a bug, not the caller's fault: ``translate_errors``
turns it into ``Internal`` (500), logs its traceback under a short error id, and the face shows
only that id ("something went wrong on our side (error id 3f2a9c1e)") -- never a 4xx that blames
the caller for a ``KeyError`` deep inside."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("tutor.errors")


class TutorError(Exception):
    code = "internal"
    status = 500
    exit_code = 1
    details: dict | None = None  # machine-readable extras; the API adds them as ``error.details``

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # not KeyError's repr() of the message, for NotFound(LookupError)
        return self.message


class BadInput(TutorError, ValueError):
    code = "bad_input"
    status = 400
    exit_code = 2


class NotFound(TutorError, LookupError):
    code = "not_found"
    status = 404
    exit_code = 2


class Unauthorized(TutorError, PermissionError):
    code = "unauthorized"
    status = 401
    exit_code = 2


class Forbidden(TutorError, PermissionError):
    code = "forbidden"
    status = 403
    exit_code = 2


class Conflict(TutorError, RuntimeError):
    code = "conflict"
    status = 409
    exit_code = 2


class Unavailable(TutorError, RuntimeError):
    """A part the request needs is not available (no index yet, sandbox missing, model missing)."""

    code = "unavailable"
    status = 503
    exit_code = 1


class Internal(TutorError):
    """An unexpected exception (a bug): 500, with the id its traceback was logged under."""

    code = "internal"
    status = 500
    exit_code = 1

    def __init__(self, error_id: str) -> None:
        super().__init__(f"something went wrong on our side (error id {error_id})")
        self.error_id = error_id


def internal(exc: BaseException, where: str = "") -> Internal:
    """Logs ``exc`` with its traceback under a new error id and returns the ``Internal`` to raise
    or show; the id is what a learner reports and what an operator greps the log for."""
    error_id = uuid.uuid4().hex[:12]
    logger.error(
        "internal error %s%s: %s: %s",
        error_id,
        f" in {where}" if where else "",
        type(exc).__name__,
        exc,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return Internal(error_id)


def as_tutor_error(exc: BaseException, where: str = "") -> TutorError:
    """``exc`` itself if it is a TutorError, else the logged ``Internal`` for it."""
    return exc if isinstance(exc, TutorError) else internal(exc, where)


@contextmanager
def translate_errors() -> Iterator[None]:
    """TutorErrors pass; any other exception is a bug and leaves as a logged ``Internal`` (500)."""
    try:
        yield
    except TutorError:
        raise
    except Exception as e:
        raise internal(e) from e
