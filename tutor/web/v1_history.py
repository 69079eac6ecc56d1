"""A conversation sent whole by a stateless OpenAI-style client, turned into a tutor thread.

OpenAI clients resend every earlier turn in ``messages``; the tutor keeps its context in threads.
Without an ``X-Tutor-Thread`` header, the earlier turns seed a NEW thread (``seed_thread``) so the
last message is answered in their context: they are written to the thread's checkpoint as its
messages, without re-running them (an earlier "run this" or "train" must not run again), and the
topic and teaching card of the last concept question are recomputed with the explain use case
(side-effect free), so follow-ups ("why?", "show me in code") go on from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from tutor.usecases.explain import follow_up_kind

MAX_TURNS = 40  # the most earlier messages kept (the newest); older ones are dropped


def content_text(content: Any) -> str:
    """An OpenAI message's content as text (a string, or the text parts of a list)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def split_history(messages: Sequence[Any]) -> tuple[list[tuple[str, str]], str | None]:
    """``(earlier turns, last user text)``: the earlier user/assistant turns (``(role, text)``,
    empty ones and system/tool messages left out) before the last user message."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        return [], None
    earlier = [
        (m.role, text)
        for m in messages[:last]
        if m.role in ("user", "assistant") and (text := content_text(m.content)).strip()
    ]
    return earlier[-MAX_TURNS:], content_text(messages[last].content)


def seed_thread(tutor: Any, learner_id: str, turns: Sequence[tuple[str, str]]) -> str:
    """A new thread of ``learner_id`` holding ``turns`` as its context; returns its id."""
    thread_id = uuid.uuid4().hex
    first_user = next((t for r, t in turns if r == "user"), turns[0][1])
    tutor.store.add_thread(thread_id, learner_id, " ".join(first_user.split())[:60])
    msgs: list[BaseMessage] = [HumanMessage(t) if r == "user" else AIMessage(t) for r, t in turns]
    values: dict[str, Any] = {"messages": msgs, "learner_id": learner_id, "thread_id": thread_id}
    values.update(_topic_context(tutor, learner_id, turns))
    graph = tutor.conversations.graph
    # as the last node before END: the checkpoint holds a finished turn, nothing is left to run
    graph.update_state({"configurable": {"thread_id": thread_id}}, values, as_node="respond")
    return thread_id


def _topic_context(tutor: Any, learner_id: str, turns: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``current_topic`` and ``last_card`` of the last concept question in
    ``turns`` (follow-ups skipped), as the explain node would have left them; {} when none."""
    from tutor.agent.intent import classify

    for role, text in reversed(turns):
        if role != "user" or follow_up_kind(text):
            continue
        if (
            classify(text, {i: str(getattr(e, "title", "")) for i, e in tutor.exercises.items()}).intent
            != "explain"
        ):
            return {}
        try:
            answer = tutor.explain(text, learner_id=learner_id)
        except Exception:  # noqa: BLE001 - the context is a help; the turn still runs without it
            return {}
        return {"current_topic": answer["topic_id"], "last_card": answer["card_id"]}
    return {}
