"""The tutor as an MCP server (Model Context Protocol, official ``mcp`` SDK): its actions as tools,
the course notes and the curriculum as resources, and two prompts.

Two transports, one server definition (``build_server``):

* streamable HTTP at ``/mcp`` on the tutor's own FastAPI app and port (``install``); with
  ``TUTOR_API_KEYS`` set every request needs ``Authorization: Bearer KEY`` as ``/api`` does, a
  learner key acts only as its learner, and an MCP session is bound to the key that opened it;
* stdio for desktop clients (``tutor mcp``, ``serve_stdio``): the process belongs to whoever
  started it, so it acts as an admin unless ``--learner`` pins it to one learner.

Only translation lives here: every tool calls ``tutor.service.Tutor`` (or the practice use case
it holds) and lower-layer errors arrive as the typed ``TutorError`` tree, reported to the client
as a tool error ``"<code>: <message>"``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tutor.errors import BadInput, Forbidden, NotFound, TutorError, Unauthorized, translate_errors
from tutor.service import Tutor
from tutor.web.api.common import Principal, principal

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
SCOPE_KEY = "tutor.principal"  # where the /mcp endpoint leaves the caller's Principal
INSTRUCTIONS = (
    "An AI tutor for data science, machine learning and GPT transformers. Answers come from its "
    "own course notes (cite them): search_notes and explain for concepts, note://{topic_id} to read "
    "a whole note, the curriculum resource for the topic ids. Learners practise with "
    "list_practice/answer_practice, write code for exercises (get_exercise, then grade), and see "
    "progress and plans. run_code executes Python in a sandboxed kernel."
)

F = TypeVar("F", bound=Callable[..., Any])
LearnerArg = Annotated[
    str | None,
    Field(
        max_length=128,
        pattern=r"^[A-Za-z0-9_.@-]+$",
        description="The learner; optional with a learner's API key (it is that learner).",
    ),
]
TopicArg = Annotated[str, Field(min_length=1, max_length=128, description="A topic id, e.g. 'm1.numpy'.")]
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def _tool_errors(fn: F) -> F:
    """Runs a tool body under ``translate_errors`` and reports a TutorError as ``code: message``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with translate_errors():
                return fn(*args, **kwargs)
        except TutorError as e:
            raise ToolError(f"{e.code}: {e.message}") from e

    return wrapper  # type: ignore[return-value]


def _resource_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with translate_errors():
                return fn(*args, **kwargs)
        except TutorError as e:
            raise ResourceError(f"{e.code}: {e.message}") from e

    return wrapper  # type: ignore[return-value]


def caller(ctx: Context, local: Principal | None) -> Principal:
    """Who is calling: over HTTP the principal the ``/mcp`` endpoint authenticated; on stdio (no
    HTTP request) ``local``, the principal the process was started as."""
    request = ctx.request_context.request
    if request is None:
        if local is None:
            raise Unauthorized("this MCP server is served over HTTP only")
        return local
    who = request.scope.get(SCOPE_KEY) if isinstance(request, Request) else None
    if not isinstance(who, Principal):
        raise Unauthorized("send `Authorization: Bearer <API key>`; keys are set by TUTOR_API_KEYS")
    return who


def _learner(who: Principal, learner_id: str | None) -> str:
    """The learner a learner-scoped tool acts for; another learner's id is refused."""
    learner = who.act_as(learner_id)
    if not learner:
        raise BadInput("learner_id is required (an admin key or stdio acts for any learner: name one)")
    return learner


def build_server(tutor: Tutor, local: Principal | None = None) -> MCPServer:
    """The MCP server over ``tutor``. ``local`` is who a call without an HTTP request (stdio, an
    in-process client) acts as; ``None`` refuses such calls (the HTTP server)."""
    mcp: MCPServer = MCPServer(
        "gpt-tutor",
        title="GPT Tutor",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        log_level=tutor.settings.log_level.upper(),  # type: ignore[arg-type]
    )

    def who(ctx: Context) -> Principal:
        return caller(ctx, local)

    # --- knowledge ---
    @mcp.tool(title="Search the course notes", annotations=READ_ONLY)
    @_tool_errors
    def search_notes(
        query: Annotated[str, Field(min_length=1, max_length=2000, description="What to look for.")],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=20, description="How many passages.")] = 5,
        topic_id: Annotated[str | None, Field(description="Only this topic.")] = None,
        module: Annotated[str | None, Field(description="Only this module, e.g. 'm1'.")] = None,
    ) -> list[dict[str, Any]]:
        """Hybrid (dense + BM25) search over the course notes: passages with topic_id, title,
        source (note file and section anchor), text and score."""
        who(ctx)
        return tutor.search(query, k=k, topic_id=topic_id, module=module)

    @mcp.tool(title="Explain a concept", annotations=READ_ONLY)
    @_tool_errors
    def explain(
        question: Annotated[str, Field(min_length=1, description="The learner's question.")],
        ctx: Context,
        learner_id: LearnerArg = None,
        topic_id: Annotated[str | None, Field(description="Answer within this topic.")] = None,
    ) -> dict[str, Any]:
        """The tutor's explanation (the one its chat gives): from an authored teaching card when
        one fits, else whole paragraphs of the best note section, with citations. Pitched at the
        learner's mastery when learner_id is given."""
        learner = who(ctx).act_as(learner_id)
        return tutor.explain(question, learner_id=learner, topic_id=topic_id)

    # --- exercises, runs, grades ---
    @mcp.tool(title="List the graded exercises", annotations=READ_ONLY)
    @_tool_errors
    def list_exercises(ctx: Context) -> list[dict[str, Any]]:
        """Every graded exercise: id, topic_id, title."""
        who(ctx)
        return tutor.list_exercises()

    @mcp.tool(title="Get an exercise", annotations=READ_ONLY)
    @_tool_errors
    def get_exercise(
        exercise_id: Annotated[str, Field(min_length=1, max_length=128)], ctx: Context
    ) -> dict[str, Any]:
        """An exercise's statement, starter code and public tests (hidden tests: only their count)."""
        who(ctx)
        return tutor.exercise(exercise_id)

    @mcp.tool(title="Run Python code", annotations=WRITES)
    @_tool_errors
    def run_code(
        code: Annotated[str, Field(min_length=1, description="Python source.")],
        ctx: Context,
        session_id: Annotated[
            str | None,
            Field(max_length=128, pattern=r"^[A-Za-z0-9_.-]+$", description="Keep variables between runs."),
        ] = None,
        timeout_s: Annotated[float | None, Field(gt=0, description="Wall-clock limit in seconds.")] = None,
    ) -> dict[str, Any]:
        """Run code in a sandboxed Jupyter kernel: status, stdout, stderr, outputs, error,
        duration_s. A session_id keeps a kernel (and its variables) between calls."""
        caller_ = who(ctx)
        if session_id and caller_.learner_id:  # a learner's sessions are namespaced, as over /api
            session_id = f"{caller_.learner_id}.{session_id}"
        return tutor.run(code, session_id=session_id, timeout_s=timeout_s)

    @mcp.tool(title="Grade an exercise", annotations=WRITES)
    @_tool_errors
    def grade(
        exercise_id: Annotated[str, Field(min_length=1, max_length=128)],
        code: Annotated[str, Field(min_length=1, description="The learner's Python solution.")],
        ctx: Context,
        learner_id: LearnerArg = None,
    ) -> dict[str, Any]:
        """Grade a solution against the exercise's public and hidden tests (in the sandbox):
        passed, score, per-test results (hidden tests without their content), feedback. With a
        learner the attempt is recorded in their progress."""
        learner = who(ctx).act_as(learner_id)
        return tutor.grade(exercise_id, code, learner_id=learner)

    # --- practice ---
    @mcp.tool(title="List a topic's practice items", annotations=READ_ONLY)
    @_tool_errors
    def list_practice(topic_id: TopicArg, ctx: Context) -> dict[str, Any]:
        """A topic's practice questions (multiple choice, numeric, short answer, code), easiest
        first, without their answers."""
        who(ctx)
        return dict(tutor.practice.topic_items(topic_id))

    @mcp.tool(title="Next practice item", annotations=READ_ONLY)
    @_tool_errors
    def next_practice(
        ctx: Context, learner_id: LearnerArg = None, topic_id: Annotated[str | None, Field()] = None
    ) -> dict[str, Any]:
        """The next item for the learner: a due review first, then the given topic or their
        weakest one."""
        return dict(tutor.practice.next_item(_learner(who(ctx), learner_id), topic_id or None))

    @mcp.tool(title="Answer a practice item", annotations=WRITES)
    @_tool_errors
    def answer_practice(
        item_id: Annotated[str, Field(min_length=1, max_length=128)],
        answer: Annotated[
            str | int | float,
            Field(description="The option's text or 0-based index, a number, words, or Python code."),
        ],
        ctx: Context,
        learner_id: LearnerArg = None,
    ) -> dict[str, Any]:
        """Check one answer and record it: correct, feedback, explanation, the right answer (never
        a code item's solution), the mastery change and the next review date."""
        learner = _learner(who(ctx), learner_id)
        return dict(tutor.practice.answer(learner, item_id, answer).to_dict())

    # --- learners ---
    @mcp.tool(title="Learner progress", annotations=READ_ONLY)
    @_tool_errors
    def progress(ctx: Context, learner_id: LearnerArg = None) -> dict[str, Any]:
        """Mastery per topic, graded attempts and the topics due for review."""
        return tutor.progress(_learner(who(ctx), learner_id))

    @mcp.tool(title="Make a study plan", annotations=WRITES)
    @_tool_errors
    def plan(
        ctx: Context,
        learner_id: LearnerArg = None,
        hours: Annotated[float, Field(gt=0, le=40, description="Study time to plan.")] = 3.0,
        goal: Annotated[str | None, Field(max_length=500, description="e.g. 'understand GPT'.")] = None,
    ) -> dict[str, Any]:
        """A lesson plan for the next hours: topics in prerequisite order with the reason for
        each (saved as the learner's plan)."""
        return tutor.plan(_learner(who(ctx), learner_id), hours=hours, goal=goal)

    # --- training jobs ---
    @mcp.tool(title="Start a training job", annotations=WRITES)
    @_tool_errors
    def start_training_job(
        kind: Annotated[str, Field(min_length=1, max_length=32, description="'gpt' or 'sklearn'.")],
        ctx: Context,
        params: Annotated[
            dict[str, Any] | None,
            Field(description="Job parameters, e.g. {'data': 'notes', 'max_steps': 200} for gpt."),
        ] = None,
        learner_id: LearnerArg = None,
    ) -> dict[str, Any]:
        """Queue a training job (a small GPT on the notes or a text file in the data dir's
        datasets/, or a scikit-learn model); returns the job with its id and status."""
        learner = who(ctx).act_as(learner_id)
        return tutor.submit_job(kind, dict(params or {}), learner_id=learner)

    @mcp.tool(title="Check a training job", annotations=READ_ONLY)
    @_tool_errors
    def check_training_job(
        job_id: Annotated[str, Field(min_length=1, max_length=128)], ctx: Context
    ) -> dict[str, Any]:
        """A job's status, progress (step, loss) and result."""
        return tutor.job(job_id, learner_id=who(ctx).learner_id)  # Forbidden for another learner's

    # --- resources ---
    @mcp.resource(
        "tutor://curriculum",
        name="curriculum",
        title="The curriculum",
        description="11 modules with their topics (ids, titles, prerequisites, practicals).",
        mime_type="application/json",
    )
    @_resource_errors
    def curriculum() -> str:
        return json.dumps(tutor.curriculum(), indent=1)

    @mcp.resource(
        "note://{topic_id}",
        name="note",
        title="A course note",
        description="The whole course note of a topic (Markdown with TeX maths).",
        mime_type="text/markdown",
    )
    @_resource_errors
    def note(topic_id: str) -> str:
        return _note_text(tutor, topic_id)

    # --- prompts ---
    @mcp.prompt(title="Explain this topic to me")
    def explain_topic(topic_id: str) -> str:
        """Ask for an explanation of one topic, from the tutor's note on it."""
        topic = tutor.catalog.topics.get(topic_id)
        if topic is None:
            raise NotFound(f"topic {topic_id!r} not found; the curriculum resource lists them")
        return (
            f"Explain {topic.title} ({topic_id}) to me. Use the tutor: read note://{topic_id}, call "
            f"`explain` for the key ideas, cite the note sections you use, end with a short example and "
            f"one question to check my understanding (`list_practice` has some for this topic)."
        )

    @mcp.prompt(title="Review my due topics")
    def review_due_topics(learner_id: str, ctx: Context) -> str:
        """Quiz the learner on the topics that are due for review (spaced repetition)."""
        learner = _learner(caller(ctx, local), learner_id)
        due = tutor.progress(learner).get("due_reviews") or []
        if not due:
            return (
                f"I am learner {learner}. Nothing is due for review today: call `next_practice` for "
                f"learner {learner} and quiz me on my weakest topic, one question at a time."
            )
        titles = ", ".join(
            f"{tutor.catalog.topics[t].title} ({t})" if t in tutor.catalog.topics else t for t in due
        )
        return (
            f"I am learner {learner}. These topics are due for review: {titles}. Quiz me on them one "
            f"question at a time: get each with `next_practice` (learner_id {learner!r}), let me answer, "
            f"then check it with `answer_practice` and explain what I got wrong."
        )

    return mcp


def _note_text(tutor: Tutor, topic_id: str) -> str:
    from tutor.web.ui.notes import find_note

    note = find_note(tutor.settings.notes_dir, topic_id)
    return f"# {note.title}\n\n{note.body}" if not note.body.lstrip().startswith("# ") else note.body


# --- streamable HTTP on the FastAPI app ---
class _Endpoint:
    """ASGI endpoint of ``/mcp``: the API-key check ``/api`` makes (``tutor.web.api.common.principal``),
    then the SDK's session manager (started by the app's lifespan)."""

    def __init__(self) -> None:
        self.manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            who = principal(Request(scope, receive))
        except (Unauthorized, Forbidden) as e:  # Forbidden: a teacher key (it only reads, over GET)
            body = {"error": {"code": e.code, "message": e.message}}
            headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
            await JSONResponse(body, e.status, headers=headers)(scope, receive, send)
            return
        scope[SCOPE_KEY] = who
        token = _bearer(scope)
        if token:  # binds an MCP session to the key that opened it (the SDK compares these)
            digest = hashlib.sha256(token.encode()).hexdigest()[:32]
            access = AccessToken(token=digest, client_id=digest, scopes=[], subject=who.learner_id or "admin")
            scope["user"] = AuthenticatedUser(access)
        if self.manager is None:
            body = {"error": {"code": "unavailable", "message": "the MCP endpoint is starting or stopping"}}
            await JSONResponse(body, 503)(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)


def _bearer(scope: Scope) -> str:
    for k, v in scope.get("headers", []):
        if k == b"authorization":
            scheme, _, token = v.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


def _transport_security(keyed: bool) -> TransportSecuritySettings:
    """Without API keys (then ``tutor serve`` binds to loopback only) the SDK's DNS-rebinding check
    is on: a web page cannot reach the local tutor through a host name it controls. With keys it
    is off (a page has no key; proxies set their own Host)."""
    if not keyed:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


def install(app: FastAPI, tutor: Tutor) -> None:
    """Serves the MCP server at ``/mcp`` (streamable HTTP) on ``app``: adds the route (call before
    anything is mounted at ``/``) and runs the session manager in the app's lifespan, a fresh one
    each time the app starts."""
    server = build_server(tutor)
    endpoint = _Endpoint()
    app.router.routes.append(Route(MCP_PATH, endpoint=endpoint, include_in_schema=False))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            manager = StreamableHTTPSessionManager(
                app=server._lowlevel_server,  # what MCPServer.streamable_http_app passes
                security_settings=_transport_security(bool(tutor.settings.api_key_map)),
                max_request_body_size=tutor.settings.max_body_bytes,
            )
            async with manager.run():
                endpoint.manager = manager
                try:
                    yield state
                finally:
                    endpoint.manager = None

    app.router.lifespan_context = lifespan


# --- stdio ---
def serve_stdio(tutor: Tutor, learner_id: str | None = None) -> None:
    """Serves MCP over stdin/stdout until the client closes them (``tutor mcp``). The SDK points
    fd 1 at stderr while serving, so kernels and logs cannot corrupt the protocol stream."""
    build_server(tutor, local=Principal(learner_id)).run("stdio")
