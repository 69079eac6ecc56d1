"""Conversations: chat turns on threads that belong to one learner each.

A thread id is the LangGraph thread id; the learner store records who owns it, so a learner can
never read or continue someone else's thread (``PermissionError``), and an unknown id is a
``LookupError``. Threads live in the checkpointer, so they survive restarts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from tutor.agent.state import turn_input
from tutor.errors import BadInput, Forbidden, NotFound

log = logging.getLogger(__name__)
TITLE_CHARS = 60


class Conversations:
    """``chat`` / ``stream`` a turn, read a ``thread``, list a learner's ``threads``."""

    def __init__(self, graph: Any, store: Any) -> None:
        self.graph = graph
        self.store = store

    def _open(self, learner_id: str, message: str, thread_id: str | None) -> str:
        if not learner_id or not str(learner_id).strip():
            raise BadInput('learner_id is empty; say who is chatting (e.g. "alice")')
        if not message or not message.strip():
            raise BadInput("message is empty; ask a question or paste code")
        if thread_id is None:
            thread_id = uuid.uuid4().hex
        owner = self.store.thread_owner(thread_id)
        if owner is None:
            self.store.add_thread(thread_id, learner_id, _title(message))
        elif owner != learner_id:
            raise Forbidden(f"thread {thread_id!r} belongs to another learner; start a new thread instead")
        return thread_id

    @staticmethod
    def _config(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    def chat(self, learner_id: str, message: str, thread_id: str | None = None) -> dict[str, Any]:
        """One turn: ``{"thread_id", "reply", "citations", "tool_calls"}``."""
        tid = self._open(learner_id, message, thread_id)
        state = self.graph.invoke(turn_input(learner_id, tid, HumanMessage(message)), self._config(tid))
        return _result(tid, state)

    def stream(self, learner_id: str, message: str, thread_id: str | None = None) -> Iterator[dict[str, Any]]:
        """One turn as events: ``token`` (reply text, in order), ``tool`` (a tool call and its
        status, when it happens), then ``done`` with what ``chat`` returns."""
        tid = self._open(learner_id, message, thread_id)
        last: dict[str, Any] = {}
        parts = self.graph.stream(
            turn_input(learner_id, tid, HumanMessage(message)),
            self._config(tid),
            stream_mode=["custom", "values"],
            version="v2",
        )
        for part in parts:
            if part["type"] == "custom" and isinstance(part["data"], dict) and "event" in part["data"]:
                yield part["data"]
            elif part["type"] == "values":
                last = part["data"]
        yield {"event": "done", "data": _result(tid, last)}

    def thread(self, thread_id: str, learner_id: str | None = None) -> dict[str, Any]:
        """``{"thread_id", "learner_id", "title", "messages": [{"role", "content"}]}``; only the
        learner's own thread when ``learner_id`` is given."""
        owner = self.store.thread_owner(thread_id)
        if owner is None:
            raise NotFound(f"thread {thread_id!r} not found; start one by chatting without a thread_id")
        if learner_id is not None and owner != learner_id:
            raise Forbidden(f"thread {thread_id!r} belongs to another learner")
        snapshot = self.graph.get_state(self._config(thread_id))
        messages = []
        for m in (snapshot.values or {}).get("messages", []):
            if isinstance(m, HumanMessage):
                messages.append({"role": "user", "content": _text(m.content)})
            elif isinstance(m, AIMessage) and not m.tool_calls and _text(m.content).strip():
                messages.append({"role": "assistant", "content": _text(m.content)})
        title = next(
            (t["title"] for t in self.store.list_threads(owner) if t["thread_id"] == thread_id), None
        )
        return {"thread_id": thread_id, "learner_id": owner, "title": title, "messages": messages}

    def threads(self, learner_id: str) -> list[dict[str, Any]]:
        """The learner's threads, newest first: ``[{"thread_id", "title", "created"}]``."""
        return list(self.store.list_threads(learner_id))


def _title(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content or [])


def _result(thread_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "thread_id": thread_id,
        "reply": state.get("reply") or "",
        "citations": list(state.get("citations") or []),
        "tool_calls": list(state.get("tool_calls") or []),
    }
