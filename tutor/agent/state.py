"""The state of one conversation thread, as the LangGraph checkpointer stores it.

Fields fall in two groups. *Per turn* fields are reset by every new message (``Conversations``
sends them with the human message), so a reply never carries the previous turn's citations.
*Thread* fields persist across turns and restarts through the checkpointer. Values are plain
JSON-able data (plus LangChain messages) so any checkpointer can store them.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


class TutorState(TypedDict, total=False):
    # --- thread fields (persist) ---
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation: learner messages, tutor replies and, on the tool-calling path, the
    model's tool calls and their results (``Conversations.thread`` shows only the first two)."""

    learner_id: str
    """Who this thread belongs to; set on every turn by ``Conversations`` (ownership is checked there)."""

    thread_id: str
    """The LangGraph thread id; also the kernel session id, so variables survive between runs."""

    plan: dict[str, Any] | None
    """The lesson plan made in this thread (the plan shape of docs/contract.md); "what's next?" walks it."""

    plan_step: int
    """Index of the next plan item "what's next?" will give."""

    current_topic: str | None
    """Topic id of the last explanation, exercise or plan step: the default for follow-ups."""

    last_card: str | None
    """Id of the teaching card the last explanation used: "why?", "show me in code" go on from it."""

    check_item: str | None
    """Practice item behind the last explanation's "Check yourself" (what "quiz me" asks), if any."""

    pending_action: dict[str, Any] | None
    """An action with a cost waiting for the learner's yes/no (``tutor/agent/nodes/confirm.py``)."""

    current_exercise: str | None
    """Exercise id the learner is working on; "grade this" without an id grades against it."""

    last_failures: list[dict[str, Any]]
    """Public failing tests of the last graded attempt (what a hint is about); never hidden tests."""

    review_topic: str | None
    """Topic of the self-check the tutor just asked; a rating word in the next message answers it."""

    pending_item: dict[str, Any] | None
    """The practice question waiting for an answer (``tutor/agent/nodes/quiz.py``): ``{"item_id",
    "topic_id", "kind", "mode": "quiz"|"review", "hinted", "asked", "answered", "right", "queue",
    "seen"}``; the next message answers it unless it is a new request. Never holds the answer."""

    pending_jobs: list[str]
    """Training jobs started in this thread whose result has not been announced yet."""

    # --- per-turn fields (reset each message) ---
    intent: str
    """The route the classifier chose for this message (see ``tutor.agent.intent.INTENTS``, or "agent")."""

    intent_source: str
    """Why: "rule:<name>", "model" or "model:low-confidence(...)"; kept for the eval and debugging."""

    exercise_id: str | None
    """Exercise id named in this message, if any."""

    code: str | None
    """Code found in this message (fenced blocks, or a bare snippet), if any."""

    notices: list[str]
    """Announcements put before the reply, e.g. a training job that finished since the last turn."""

    reply: str
    """This turn's answer text (the last AI message carries the same text)."""

    citations: list[dict[str, Any]]
    """This turn's sources: ``{"topic_id", "source"}`` with ``source`` a note file and section."""

    tool_calls: list[dict[str, Any]]
    """This turn's tool uses: ``{"name", "args", "status", "summary"}``; streamed as ``tool`` events."""

    agent_steps: int
    """Model calls on the tool-calling path this turn (capped, so a looping model still answers)."""


def turn_input(learner_id: str, thread_id: str, message: Any) -> dict[str, Any]:
    """The graph input for one learner message: the message plus every per-turn field reset."""
    return {
        "messages": [message],
        "learner_id": learner_id,
        "thread_id": thread_id,
        "intent": "",
        "intent_source": "",
        "exercise_id": None,
        "code": None,
        "notices": [],
        "reply": "",
        "citations": [],
        "tool_calls": [],
        "agent_steps": 0,
    }
