"""HTTP API ``/api/...`` (docs/contract.md); only translation between HTTP and ``tutor.service.Tutor``.
Errors map to ``{"error": {"code", "message"}}`` here, in one place (a bug: 500 with ``"id"``);
auth (API keys bound to learners) is one dependency (``tutor/web/api/common.py``); ``/v1`` lives in
``tutor/web/v1.py``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Generator
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tutor.errors import BadInput, Forbidden, Internal, NotFound, TutorError, as_tutor_error, internal
from tutor.service import Tutor
from tutor.web import v1
from tutor.web.api import schemas as m
from tutor.web.api.common import Auth, LearnerId, Principal, TutorDep, error_body, in_threadpool, primed
from tutor.web.api.schemas import out

api = APIRouter(prefix="/api", tags=["tutor"], responses=m.ERROR_RESPONSES)


# --- request bodies ---
class ChatIn(BaseModel):
    learner_id: LearnerId
    thread_id: str | None = Field(default=None, max_length=128)
    message: str = Field(min_length=1)


class RunIn(BaseModel):
    code: str
    session_id: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    timeout_s: float | None = Field(default=None, gt=0)


class GradeIn(BaseModel):
    exercise_id: str = Field(min_length=1, max_length=128)
    code: str
    learner_id: LearnerId | None = None


class PlanIn(BaseModel):
    hours: float = Field(default=3.0, gt=0, le=40)
    goal: str | None = Field(default=None, max_length=500)


class JobIn(BaseModel):
    kind: str = Field(min_length=1, max_length=32)
    params: dict[str, Any] = Field(default_factory=dict)
    learner_id: LearnerId | None = None


class ActiveModelIn(BaseModel):
    model_id: str = Field(min_length=1, max_length=128)
    force: bool = False  # switch even when the quality gate finds the model worse (figures recorded)


def _owned_job(tutor: Tutor, who: Principal, job_id: str) -> dict[str, Any]:
    return tutor.job(job_id, learner_id=who.learner_id)  # Forbidden for another learner's job


def _sse(events: Generator[dict[str, Any], None, None], where: str) -> EventSourceResponse:
    """The service's events as server-sent events. An error before the first event is a plain JSON
    error (``primed``); once the stream has begun its 200 is sent, so an error ends the stream with
    one ``error`` event whose data is the usual error body (a bug: ``internal`` with the id its
    traceback is logged under, never the exception's text) -- not a cut-off stream that a client
    cannot tell from a dropped connection."""

    async def gen() -> AsyncIterator[dict[str, str]]:
        try:
            async for ev in in_threadpool(events):
                yield {"event": ev["event"], "data": json.dumps(ev.get("data"))}
        except Exception as e:  # not the client going away: that is a CancelledError
            yield {"event": "error", "data": json.dumps(error_body(as_tutor_error(e, where)))}

    return EventSourceResponse(gen())


# --- /api ---
@api.post("/chat", **out(m.ChatOut))
def chat(body: ChatIn, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    learner = who.act_as(body.learner_id) or body.learner_id
    return tutor.chat(learner, body.message, thread_id=body.thread_id)


@api.post("/chat/stream", response_class=EventSourceResponse, responses=m.CHAT_STREAM_RESPONSES)
def chat_stream(body: ChatIn, tutor: TutorDep, who: Auth) -> EventSourceResponse:
    learner = who.act_as(body.learner_id) or body.learner_id
    events = primed(tutor.chat_stream(learner, body.message, thread_id=body.thread_id))
    return _sse(events, "POST /api/chat/stream")


@api.get("/threads/{thread_id}", **out(m.ThreadOut))
def thread(thread_id: str, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    owner = tutor.store.thread_owner(thread_id)
    if owner is None:
        raise NotFound(f"thread {thread_id!r} not found")
    who.act_as(owner)
    return tutor.thread(thread_id)


@api.get("/learners/{learner_id}/threads", **out(list[m.ThreadSummary]))
def threads(learner_id: str, tutor: TutorDep, who: Auth) -> list[dict[str, Any]]:
    who.act_as(learner_id)
    return tutor.threads(learner_id)


@api.get("/search", **out(list[m.Passage]))
def search(
    tutor: TutorDep,
    _who: Auth,
    q: Annotated[str, Query(max_length=2000)] = "",
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    topic_id: str | None = None,
    module: str | None = None,
) -> list[dict[str, Any]]:
    if not q.strip():
        raise BadInput("query `q` is empty; e.g. /api/search?q=what+is+broadcasting")
    return tutor.search(q, k=k, topic_id=topic_id, module=module)


@api.get("/curriculum", **out(m.CurriculumOut))
def curriculum(tutor: TutorDep, _who: Auth) -> dict[str, Any]:
    return tutor.curriculum()


@api.get("/exercises", **out(list[m.ExerciseSummary]))
def exercises(tutor: TutorDep, _who: Auth) -> list[dict[str, Any]]:
    return tutor.list_exercises()


@api.get("/exercises/{exercise_id}", **out(m.ExerciseOut))
def exercise(exercise_id: str, tutor: TutorDep, _who: Auth) -> dict[str, Any]:
    return tutor.exercise(exercise_id)


@api.post("/run", **out(m.RunOut))
def run(body: RunIn, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    session = body.session_id
    if session and who.learner_id:  # a learner's sessions are namespaced: no shared kernels
        session = f"{who.learner_id}.{session}"
    return tutor.run(body.code, session_id=session, timeout_s=body.timeout_s)


@api.post("/grade", **out(m.GradeOut))
def grade(body: GradeIn, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    return tutor.grade(body.exercise_id, body.code, learner_id=who.act_as(body.learner_id))


@api.get("/learners/{learner_id}/progress", **out(m.ProgressOut))
def progress(learner_id: str, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    who.act_as(learner_id)
    return tutor.progress(learner_id)


@api.post("/learners/{learner_id}/plan", **out(m.PlanOut))
def make_plan(learner_id: str, body: PlanIn, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    who.act_as(learner_id)
    return tutor.plan(learner_id, hours=body.hours, goal=body.goal)


@api.get("/learners/{learner_id}/plan", **out(m.PlanOut))
def saved_plan(learner_id: str, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    who.act_as(learner_id)
    return tutor.saved_plan(learner_id)


@api.post("/jobs", **out(m.JobOut))
def submit_job(body: JobIn, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    # training files are confined to the datasets folder by the job manager, for every caller
    return tutor.submit_job(body.kind, body.params, learner_id=who.act_as(body.learner_id))


@api.get("/jobs", **out(list[m.JobOut]))
def list_jobs(tutor: TutorDep, who: Auth) -> list[dict[str, Any]]:
    return tutor.list_jobs(who.learner_id)


@api.get("/jobs/{job_id}", **out(m.JobOut))
def get_job(job_id: str, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    return _owned_job(tutor, who, job_id)


@api.post("/jobs/{job_id}/cancel", **out(m.JobOut))
def cancel_job(job_id: str, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    _owned_job(tutor, who, job_id)
    return tutor.cancel_job(job_id)


@api.post("/jobs/{job_id}/resume", **out(m.JobOut))
def resume_job(job_id: str, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    _owned_job(tutor, who, job_id)
    return tutor.resume_job(job_id)


@api.get("/models", **out(list[m.ModelOut]))
def models(tutor: TutorDep, _who: Auth) -> list[dict[str, Any]]:
    return tutor.models()


@api.post("/models/active", **out(m.ActiveModelOut))
def use_model(body: ActiveModelIn, tutor: TutorDep, who: Auth) -> dict[str, Any]:
    if who.learner_id is not None:
        raise Forbidden("switching the tutor's model needs an admin key")
    return tutor.use_model(body.model_id, force=body.force)  # 409 conflict: the gate refused it


# --- error shape, in one place ---
def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _internal(e: Internal) -> JSONResponse:
    return JSONResponse(error_body(e), status_code=500)


def install(app: FastAPI) -> None:
    """Adds the routers, /healthz, the body-size cap and the error handlers to ``app``."""

    @app.exception_handler(TutorError)
    async def _tutor_error(_req: Request, e: TutorError) -> JSONResponse:
        return JSONResponse(error_body(e), status_code=e.status)  # Internal: 500 with its id

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, e: RequestValidationError) -> JSONResponse:
        errs = e.errors()
        if any(err.get("type") == "json_invalid" for err in errs):
            return _error(400, "bad_json", "request body is not valid JSON")
        where = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in errs[:5])
        return _error(422, "invalid_request", where or "request does not match the schema (see /docs)")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, e: StarletteHTTPException) -> JSONResponse:
        return _error(e.status_code, "http_error", str(e.detail))

    @app.middleware("http")
    async def _unexpected(request: Request, call_next: Any) -> Any:
        """Any exception no handler took is a bug: 500 with the id its traceback is logged under,
        never a 4xx (a Starlette ``Exception`` handler would answer but then re-raise)."""
        try:
            return await call_next(request)
        except Exception as e:
            return _internal(internal(e, f"{request.method} {request.url.path}"))

    @app.middleware("http")
    async def _cap_body(request: Request, call_next: Any) -> Any:
        limit = request.app.state.tutor.settings.max_body_bytes
        if request.url.path == "/api/materials":  # teachers' files: 4 of the largest allowed
            limit = max(limit, 4 * request.app.state.tutor.settings.max_material_bytes)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return _error(413, "too_large", f"request body over {limit} bytes")
        if request.method in ("POST", "PUT", "PATCH") and length is None:
            body = await request.body()  # chunked upload: read it once, capped
            if len(body) > limit:
                return _error(413, "too_large", f"request body over {limit} bytes")
        return await call_next(request)

    @app.get("/healthz", tags=["ops"], response_model=m.HealthOut)
    def healthz() -> dict[str, str]:
        """Liveness: the process answers. Route traffic on /readyz."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses=m.READY_RESPONSES)
    def readyz(request: Request) -> JSONResponse:
        """Readiness: 200 once the embedding model, indexes, chat model, graph and kernel pool are
        loaded; 503 with what is still loading (or failed) before that."""
        ok, parts = request.app.state.tutor.ready()
        body = {"status": "ready" if ok else "loading", "parts": parts}
        return JSONResponse(body, status_code=200 if ok else 503)

    app.include_router(api)
    app.include_router(v1.v1)
    from tutor.web.api.practice import router as practice_router

    app.include_router(practice_router)  # /api/topics/{id}/practice, /api/practice/... (docs/api.md)
    from tutor.web.api.labs import router as labs_router

    app.include_router(labs_router)  # /api/labs, /api/labs/{id}/notebook|submit (docs/api.md, "Labs")
    from tutor.web.api.cohort import router as cohort_router

    app.include_router(cohort_router)  # /api/cohort(.csv): the teacher view (docs/api.md, "Teachers")
    from tutor.web.api.materials import router as materials_router

    app.include_router(materials_router)  # /api/materials: teachers' own material (docs/api.md)
    from tutor.web import mcp

    mcp.install(app, app.state.tutor)  # /mcp: MCP over streamable HTTP (README "MCP")
