"""The Gradio UI (Chat, Learn, Code, Train). Calls only ``Tutor``; never renders learner HTML.

``build_ui(tutor)`` makes the Blocks; ``mount_ui(app, tutor)`` adds the ``/notes`` pages and
mounts the UI at ``/`` with its CSS (and, when API keys are set, a login: name + API key).

Concurrency: Gradio's default is one running event per listener, which would queue every user
behind one another. Chat streams run up to 24 at once (the service bounds the real work), code
runs 12 (the kernel manager caps busy kernels itself), grading, planning and training actions 4
each, job polling 16; everything else shares the default of 16. Long work (grading, training)
sits in its own concurrency group, so it never holds up chat. The UI's events run on their own
pool of ``MAX_THREADS`` threads (Gradio's default shares anyio's 40 with the HTTP API's routes).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Route

from tutor.errors import TutorError
from tutor.web.ui.chat import build_chat_tab
from tutor.web.ui.code import build_code_tab
from tutor.web.ui.common import LEARNER_RE, TEACHER_LOGINS, error_text, learner_of
from tutor.web.ui.learn import build_learn_tab
from tutor.web.ui.materials import build_materials_panel
from tutor.web.ui.notes import install_notes_route
from tutor.web.ui.teach import build_teach_tab
from tutor.web.ui.train import build_train_tab

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16
MAX_THREADS = 64  # >= the sum of the per-group limits that can run at once (24 + 12 + 4 + 16 + ...)
# a /?note=<topic> link (from a note page) opens the Learn tab on that note: bring it into view
SCROLL_TO_NOTE = """() => { if (new URLSearchParams(location.search).has('note'))
  setTimeout(() => document.querySelector('#notes')?.scrollIntoView({behavior: 'smooth'}), 600); }"""
CSS = """
.gradio-container{max-width:1400px!important}
#header{align-items:center;gap:.5rem}
#header h2{margin:0}
#learner{max-width:280px}
.curriculum details{margin:.25rem 0;border:1px solid var(--border-color-primary);border-radius:8px;padding:.25rem .5rem}
.curriculum summary{cursor:pointer;font-weight:600}
.curriculum small{font-weight:400;color:var(--body-text-color-subdued)}
.curriculum .topics{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:.3rem .75rem;margin:.35rem 0}
.curriculum .topic{display:flex;flex-direction:column;align-items:flex-start}
.chip{display:inline-block;padding:.1rem .55rem;border-radius:999px;border:2px solid var(--c);font-size:.85rem;
  text-decoration:none!important;color:var(--body-text-color)!important;background:color-mix(in srgb,var(--c) 18%,transparent)}
.curriculum .pre{font-size:.72rem;color:var(--body-text-color-subdued);margin:.05rem 0 0 .5rem}
.legend{display:flex;flex-wrap:wrap;gap:.35rem;align-items:center;font-size:.8rem}
.jobbar{position:relative;height:1.7rem;border-radius:6px;background:var(--block-background-fill);
  border:1px solid var(--border-color-primary);overflow:hidden}
.jobfill{position:absolute;inset:0 auto 0 0;background:var(--color-accent);opacity:.35;transition:width .5s}
.jobbar span{position:relative;padding:0 .6rem;line-height:1.7rem;font-size:.85rem}
.jobbar.failed .jobfill{background:#c62828}.jobbar.cancelled .jobfill{background:#9aa5b1}
.jobbar.succeeded .jobfill{background:#2e7d32}
@media (max-width:640px){
  .gradio-container{padding:0 .35rem!important}
  #header h2{font-size:1.1rem}
  #header p{display:none}
  #learner{max-width:none}
}
"""


def _key_auth(keys: dict[str, str]) -> Any:
    """Login for the UI when API keys are set: the name is the learner, the password an API key
    of that learner (or an admin key, which may sign in as anyone; or a teacher key, under a name
    that is not a learner key's, for the Teach tab only)."""
    learner_names = {who for who in keys.values() if who not in ("admin", "teacher")}

    def check(username: str, password: str) -> bool:
        who = keys.get(password)
        if who == "teacher" and LEARNER_RE.match(username or "") and username not in learner_names:
            TEACHER_LOGINS.add(username)  # this name now only reads (ui_common.learner_of)
            return True
        return bool(LEARNER_RE.match(username or "")) and who in (username, "admin")

    return check


def _learners(tutor: Any) -> list[str]:
    try:
        return list(tutor.store.list_learners())
    except Exception:  # a missing database must not stop the page from loading
        log.exception("cannot list learners")
        return []


GUEST_PREFIX = "guest-"


def guest_id() -> str:
    """A name for a newcomer who has not picked one; the browser keeps it (BrowserState)."""
    return GUEST_PREFIX + uuid.uuid4().hex[:8]


def choose_learner(
    tutor: Any, name: str | None, request: gr.Request | None = None, previous: str | None = None
) -> str:
    """Validates a picked name and records the learner; returns what the browser remembers.
    A guest who picks a new name takes their progress along (the guest id is renamed)."""
    try:
        learner_id = learner_of(name, request)
    except TutorError as e:
        if (name or "").strip():
            gr.Warning(error_text(e))
        return ""
    try:
        known = set(tutor.store.list_learners())
        if previous and previous.startswith(GUEST_PREFIX) and previous != learner_id and previous in known:
            if learner_id not in known:
                tutor.store.rename_learner(previous, learner_id)
                gr.Info(f"Welcome, {learner_id}: your progress as a guest is now yours under this name.")
                return learner_id
        tutor.store.ensure_learner(learner_id)
    except Exception:  # the name still works for this session; the store logs its own trouble
        log.exception("cannot record learner %s", learner_id)
    return learner_id


def build_ui(tutor: Any) -> gr.Blocks:
    with gr.Blocks(title="GPT Tutor", analytics_enabled=False) as ui:
        tab_id = gr.State(None)
        saved = gr.BrowserState("", storage_key="gpt-tutor-learner")
        with gr.Row(elem_id="header", equal_height=True):
            gr.Markdown("## GPT Tutor\nData science, machine learning and GPT transformers.", min_width=240)
            learner = gr.Dropdown(
                choices=_learners(tutor),
                value=None,
                allow_custom_value=True,
                label="Your name",
                info="pick or type a name; it keeps your progress",
                elem_id="learner",
                min_width=200,
                scale=0,
            )
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="tab-chat"):
                chat = build_chat_tab(tutor, learner)
            with gr.Tab("Learn", id="learn", elem_id="tab-learn") as learn_tab:
                learn = build_learn_tab(tutor, learner)
            with gr.Tab("Code", id="code", elem_id="tab-code"):
                build_code_tab(tutor, learner, tab_id)
            with gr.Tab("Train", id="train", elem_id="tab-train") as train_tab:
                train = build_train_tab(tutor, learner)
            with gr.Tab("Teach", id="teach", elem_id="tab-teach") as teach_tab:
                teach_view, teach_ins, teach_outs = build_teach_tab(tutor)["view"]
                materials_panel = build_materials_panel(tutor)  # tutor/web/ui/materials.py

        private: dict[str, Any] = {"api_visibility": "private"}
        learn_view, learn_outs = learn["view"]
        models_fn, models_outs = train["models"]

        def on_load(remembered: str | None, request: gr.Request) -> tuple[Any, ...]:
            user = getattr(request, "username", None)
            note = (request.query_params.get("note") if request else None) or None
            if user:
                picked = gr.update(value=user, interactive=False)
            else:  # a newcomer is a guest until they pick a name: their first question is answered
                picked = gr.update(value=remembered or guest_id())
            tab = gr.Tabs(selected="learn") if note else gr.skip()
            return picked, uuid.uuid4().hex[:12], tab, note or gr.skip()

        ui.load(on_load, [saved], [learner, tab_id, tabs, learn["topic"]], **private).then(
            None, js=SCROLL_TO_NOTE, **private
        )

        def on_learner(name: str | None, previous: str | None, request: gr.Request) -> str:
            return choose_learner(tutor, name, request, previous)

        learner.change(on_learner, [learner, saved], saved, **private).then(
            chat["handlers"].threads, [learner, chat["thread"]], chat["threads"], **private
        ).then(
            # the chat box becomes editable only here, after the load's learner (a guest id) has
            # cleared the chat: a question sent earlier was answered and then wiped by this step
            lambda: ([], None, gr.update(interactive=True)),
            None,
            [chat["chatbot"], chat["thread"], chat["box"]],
            queue=False,
            **private,
        )
        learn_tab.select(learn_view, learner, learn_outs, **private)
        train_tab.select(models_fn, None, models_outs, **private).then(**train["watch"], **private)
        teach_tab.select(teach_view, teach_ins, teach_outs, **private)
        teach_tab.select(*materials_panel["view"], **private)
        _api(tutor)
    ui.max_threads = MAX_THREADS  # read by queue() (event slots) and at start-up (thread limiter)
    ui.queue(default_concurrency_limit=DEFAULT_CONCURRENCY)
    return ui


def _api(tutor: Any) -> None:
    """Named endpoints for ``gradio_client`` (the UI's own events are private)."""

    def ask(learner_id: str, message: str, thread_id: str = "", request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """One chat turn: {thread_id, reply, citations, tool_calls}."""
        try:
            return dict(tutor.chat(learner_of(learner_id, request), message, thread_id=thread_id or None))
        except TutorError as e:
            raise gr.Error(error_text(e)) from e

    def search(query: str, k: int = 5) -> list:
        """Passages from the course notes, best first."""
        try:
            return list(tutor.search(query, k=int(k)))
        except TutorError as e:
            raise gr.Error(error_text(e)) from e

    gr.api(ask, api_name="ask", concurrency_id="chat", concurrency_limit=24)
    gr.api(search, api_name="search")


API_PREFIXES = ("/api", "/v1", "/healthz", "/readyz")


class _ApiFallback:
    """Unknown paths and methods under the API get the API's error shape (404 / 405), not the
    Gradio app's: a mount at ``/`` would otherwise catch everything no API route fully matches.
    An ASGI callable (not a function), so Starlette routes every method to it."""

    def __init__(self, app: FastAPI) -> None:
        self.routes = [r for r in app.routes if isinstance(r, APIRoute)]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        allowed = sorted({m for r in self.routes if r.path_regex.match(path) for m in (r.methods or ())})
        if allowed:
            msg = f"{method} is not allowed on {path}; use {', '.join(allowed)}"
            response = JSONResponse(
                {"error": {"code": "method_not_allowed", "message": msg}},
                status_code=405,
                headers={"Allow": ", ".join(allowed)},
            )
        else:
            msg = f"no endpoint {path}; the API is listed at /docs"
            response = JSONResponse({"error": {"code": "not_found", "message": msg}}, status_code=404)
        await response(scope, receive, send)


def _api_fallback(app: FastAPI) -> None:
    fallback = _ApiFallback(app)
    for prefix in API_PREFIXES:
        app.router.routes.append(Route(prefix, endpoint=fallback, include_in_schema=False))
        app.router.routes.append(Route(prefix + "/{rest:path}", endpoint=fallback, include_in_schema=False))


def mount_ui(app: FastAPI, tutor: Any) -> FastAPI:
    """Adds ``/notes/{topic_id}``, the API's 404/405 fallback, and mounts the UI at ``/`` (call
    after the API routes)."""
    install_notes_route(app, lambda: tutor.settings.notes_dir)
    _api_fallback(app)
    keys = tutor.settings.api_key_map
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    return gr.mount_gradio_app(
        app,
        build_ui(tutor),
        path="/",
        css=CSS,
        theme=theme,
        auth=_key_auth(keys) if keys else None,
        auth_message="Sign in with your learner name and your API key." if keys else None,
        footer_links=["api"],
        run_history=False,
    )
