"""The Chat tab: streaming replies, tool calls as collapsible steps, citation links, plots from
code runs, a stop button that closes the service's generator, and the learner's thread list.

``ChatHandlers`` holds the event functions (plain Python, unit-tested without a browser);
``build_chat_tab`` lays the tab out and wires them.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import gradio as gr

from tutor.errors import TutorError
from tutor.web.ui.common import (
    LATEX,
    citation_md,
    error_text,
    escape_md,
    fence,
    images_of,
    learner_of,
    linkify_sources,
    topic_titles,
)

log = logging.getLogger(__name__)

Message = dict[str, Any]
History = list[Message]
ChatOut = tuple[History, str, str | None]
PENDING_TITLE = "Thinking…"
STOPPED = "*(stopped)*"
EXAMPLES = [
    "What is broadcasting in NumPy?",
    "Plan my next 3 hours",
    "Which exercises can I do?",
]


def _assistant(content: Any, **metadata: Any) -> Message:
    msg: Message = {"role": "assistant", "content": content}
    if metadata:
        msg["metadata"] = metadata
    return msg


def _tool_step(record: dict[str, Any]) -> Message:
    """A finished tool call as a collapsed step: what was called with what, and how it went."""
    name = str(record.get("name") or "tool")
    status = str(record.get("status") or "ok")
    lines = []
    for key, value in (record.get("args") or {}).items():
        if key == "code" and isinstance(value, str):
            lines.append(fence(value, "python"))
        else:
            lines.append(f"**{escape_md(str(key))}**: {escape_md(str(value))}")
    if record.get("summary"):
        lines.append(escape_md(str(record["summary"])))
    title = f"⚙ {name}" + ("" if status in ("ok", "done") else f" ({status})")
    return _assistant("\n\n".join(lines) or " ", title=title, status="done", log=status)


def render_reply(reply: str, citations: list[dict[str, Any]], titles: dict[str, str]) -> str:
    """The reply as safe Markdown: HTML escaped, note paths linked, citations listed as links."""
    text = linkify_sources(escape_md(reply))
    missing = [c for c in citations if f"](notes/{c.get('topic_id')}" not in text]
    if missing:
        text += "\n\nSources: " + " · ".join(citation_md(c, titles) for c in missing)
    return text


def thread_history(thread: dict[str, Any]) -> History:
    """A stored thread as Chatbot messages (text only, escaped)."""
    out: History = []
    for m in thread.get("messages", []):
        role = "user" if m.get("role") == "user" else "assistant"
        text = escape_md(str(m.get("content") or ""))
        out.append({"role": role, "content": linkify_sources(text) if role == "assistant" else text})
    return out


class ChatHandlers:
    """Event functions of the Chat tab; each takes and returns plain values."""

    def __init__(self, tutor: Any) -> None:
        self.tutor = tutor
        self._titles: dict[str, str] | None = None

    @property
    def titles(self) -> dict[str, str]:
        if self._titles is None:
            self._titles = topic_titles(self.tutor)
        return self._titles

    def respond(
        self,
        message: str,
        history: History | None,
        thread_id: str | None,
        learner: str | None,
        request: gr.Request | None = None,
    ) -> Generator[ChatOut, None, None]:
        """One chat turn, streamed: yields (chatbot messages, message box, thread id)."""
        history = list(history or [])
        message = (message or "").strip()
        if not message:
            yield list(history), "", thread_id
            return
        try:
            learner_id = learner_of(learner, request)
        except TutorError as e:
            history.append(_assistant(f"⚠ {escape_md(error_text(e))}"))
            yield list(history), message, thread_id
            return
        history.append({"role": "user", "content": escape_md(message)})
        history.append(_assistant("", title=PENDING_TITLE, status="pending"))
        reply_at = len(history) - 1  # the pending step becomes the reply when text arrives
        streamed, replying = "", False
        yield list(history), "", thread_id
        events: Any = None
        try:
            events = self.tutor.chat_stream(learner_id, message, thread_id=thread_id or None)
            for ev in events:
                kind, data = ev.get("event"), ev.get("data")
                if kind == "token":
                    streamed += str(data or "")
                    history[reply_at] = _assistant(escape_md(streamed))
                    replying = True
                elif kind == "tool" and isinstance(data, dict):
                    extra = [_tool_step(data)] + [
                        _assistant({"path": p}) for p in images_of(data.get("outputs"))
                    ]
                    history[reply_at:reply_at] = extra
                    reply_at += len(extra)
                elif kind == "done" and isinstance(data, dict):
                    thread_id = data.get("thread_id") or thread_id
                    reply = str(data.get("reply") or streamed)
                    citations = [c for c in data.get("citations") or [] if isinstance(c, dict)]
                    history[reply_at] = _assistant(render_reply(reply, citations, self.titles))
                    replying = True
                yield list(history), "", thread_id
            if not replying:
                history[reply_at] = _assistant("(no reply)")
                yield list(history), "", thread_id
        except TutorError as e:
            history[reply_at] = _assistant(f"⚠ {escape_md(error_text(e))}")
            yield list(history), "", thread_id
        except Exception as e:  # a failing part must leave the learner a message, not a dead chat
            log.exception("chat turn failed")
            history[reply_at] = _assistant(f"⚠ Something went wrong: {escape_md(str(e))}")
            yield list(history), "", thread_id
        finally:  # also runs when Stop cancels this generator: stop the service's generation too
            if events is not None and hasattr(events, "close"):
                events.close()

    @staticmethod
    def stopped(history: History | None) -> History:
        """After Stop: the pending step is closed and the partial reply is marked as stopped."""
        history = list(history or [])
        if not history:
            return history
        last = dict(history[-1])
        meta = last.get("metadata") or {}
        if meta.get("status") == "pending":
            history[-1] = _assistant(STOPPED)
        elif last.get("role") == "assistant":
            content = last.get("content")
            if isinstance(content, list):  # normalised form coming back from the browser
                content = "".join(c.get("text", "") for c in content if isinstance(c, dict))
            if isinstance(content, str) and not content.endswith(STOPPED):
                history[-1] = {**last, "content": f"{content} {STOPPED}".strip()}
        return history

    def threads(
        self, learner: str | None, current: str | None = None, request: gr.Request | None = None
    ) -> Any:
        """The learner's conversations for the thread picker, newest first."""
        try:
            learner_id = learner_of(learner, request)
            rows = self.tutor.threads(learner_id)
        except TutorError:
            return gr.update(choices=[], value=None)
        choices = [(str(t.get("title") or t["thread_id"])[:60], t["thread_id"]) for t in rows]
        ids = {c[1] for c in choices}
        return gr.update(choices=choices, value=current if current in ids else None)

    def open_thread(
        self, thread_id: str | None, learner: str | None, request: gr.Request | None = None
    ) -> tuple[History, str | None]:
        """Reopen a stored conversation (only the learner's own)."""
        if not thread_id:
            return [], None
        try:
            learner_id = learner_of(learner, request)
            if self.tutor.store.thread_owner(thread_id) != learner_id:
                raise gr.Error("that conversation belongs to another learner")
            return thread_history(self.tutor.thread(thread_id)), thread_id
        except TutorError as e:
            raise gr.Error(error_text(e)) from e


def build_chat_tab(tutor: Any, learner: gr.components.Component) -> dict[str, Any]:
    """Lays out the Chat tab (inside an open ``gr.Tab``) and wires its events."""
    h = ChatHandlers(tutor)
    thread = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=200, elem_classes=["side"]):
            threads = gr.Dropdown(label="Conversations", choices=[], value=None, elem_id="threads")
            new = gr.Button("New conversation", size="sm", elem_id="new-thread")
        with gr.Column(scale=4, min_width=300):
            bot = gr.Chatbot(
                label="Tutor",
                height="60vh",
                min_height=320,
                elem_id="chatbot",
                latex_delimiters=LATEX,
                sanitize_html=True,
                allow_tags=False,
                feedback_options=None,
                buttons=["copy"],
                placeholder="Ask about the course, paste code to run, or ask for a plan.",
            )
            with gr.Row(equal_height=True):
                box = gr.Textbox(
                    show_label=False,
                    placeholder="Ask the tutor…  (Enter sends, Shift+Enter for a new line)",
                    lines=1,
                    max_lines=8,
                    scale=6,
                    min_width=200,
                    elem_id="chat-input",
                    autofocus=True,
                    # editable once the page has loaded (ui.load): Enter pressed earlier was lost
                    interactive=False,
                )
                with gr.Column(scale=0, min_width=80):
                    send = gr.Button("Send", variant="primary", size="sm", elem_id="send")
                    stop = gr.Button("Stop", variant="stop", size="sm", elem_id="stop")
            gr.Examples(EXAMPLES, inputs=box, label="Try")

    turn: dict[str, Any] = {
        "fn": h.respond,
        "inputs": [box, bot, thread, learner],
        "outputs": [bot, box, thread],
    }
    common: dict[str, Any] = {"concurrency_id": "chat", "concurrency_limit": 24, "show_progress": "hidden"}
    ev_send = send.click(**turn, **common, api_visibility="private")
    ev_submit = box.submit(**turn, **common, api_visibility="private")
    for ev in (ev_send, ev_submit):
        ev.then(h.threads, [learner, thread], threads, api_visibility="private", show_progress="hidden")
    stop.click(h.stopped, bot, bot, cancels=[ev_send, ev_submit], queue=False, api_visibility="private").then(
        h.threads, [learner, thread], threads, api_visibility="private", show_progress="hidden"
    )
    threads.input(h.open_thread, [threads, learner], [bot, thread], api_visibility="private")
    new.click(lambda: ([], None, None), None, [bot, thread, threads], queue=False, api_visibility="private")
    return {"chatbot": bot, "thread": thread, "threads": threads, "box": box, "handlers": h}
