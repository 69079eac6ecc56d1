"""What the HTTP routers share: the API-key principal, the Tutor dependency, and running the
service's blocking generators as server-sent event streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import Field

from tutor.errors import Forbidden, Internal, TutorError, Unauthorized
from tutor.service import Tutor

LearnerId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")]


@dataclass(frozen=True)
class Principal:
    learner_id: str | None  # None = admin or teacher (or no keys configured: loopback only)
    teacher: bool = False  # a `KEY:teacher` key: reads every learner (GET only; ``principal``)

    @property
    def reads_all(self) -> bool:
        """Whether this caller may read every learner's data (admin, teacher, no keys)."""
        return self.learner_id is None

    def act_as(self, learner_id: str | None) -> str | None:
        """The learner this call acts for; a learner key may only act as itself. A teacher's
        calls are reads (``principal`` refuses its other methods), so any learner may be named."""
        if self.learner_id is None:
            return learner_id
        if learner_id is not None and learner_id != self.learner_id:
            raise Forbidden(f"this API key belongs to learner {self.learner_id!r}, not {learner_id!r}")
        return self.learner_id


def tutor_of(request: Request) -> Tutor:
    return request.app.state.tutor  # type: ignore[no-any-return]


def principal(request: Request) -> Principal:
    keys = tutor_of(request).settings.api_key_map
    if not keys:
        return Principal(None)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send `Authorization: Bearer <API key>`; keys are set by TUTOR_API_KEYS")
    who = keys.get(token.strip())
    if who is None:
        raise Unauthorized("unknown API key")
    if who == "teacher":
        if request.method not in READ_METHODS:
            raise Forbidden(
                "a teacher key reads every learner's data but changes nothing and cannot act as a "
                "learner; use a learner's key (or an admin key) for this"
            )
        return Principal(None, teacher=True)
    return Principal(None if who == "admin" else who)


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


TutorDep = Annotated[Tutor, Depends(tutor_of)]
Auth = Annotated[Principal, Depends(principal)]


async def in_threadpool(it: Generator[Any, None, None]) -> AsyncIterator[Any]:
    """Iterates a blocking generator off the event loop; closes it (stopping generation) when
    the client goes away or the stream ends."""
    try:
        while True:
            item = await run_in_threadpool(next, it, END_OF_STREAM)
            if item is END_OF_STREAM:
                break
            yield item
    finally:
        await run_in_threadpool(it.close)


END_OF_STREAM = object()


def primed(events: Generator[dict[str, Any], None, None]) -> Generator[dict[str, Any], None, None]:
    """Pulls the first event now, so bad input fails as a JSON error before a stream starts."""
    first = next(events)

    def all_events() -> Generator[dict[str, Any], None, None]:
        try:
            yield first
            yield from events
        finally:
            events.close()

    return all_events()


def error_body(e: TutorError) -> dict[str, Any]:
    """``{"error": {"code", "message", "details"?, "id"?}}`` for ``e``: the responses' and the
    streams' ``error`` events' shape."""
    err: dict[str, Any] = {"code": e.code, "message": e.message}
    if e.details is not None:  # e.g. the model gate's figures on a refused switch
        err["details"] = e.details
    if isinstance(e, Internal):  # a bug, already logged under the id
        err["id"] = e.error_id
    return {"error": jsonable_encoder(err)}
