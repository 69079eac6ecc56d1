"""Actions with a cost (starting a training job, replacing the lesson plan) asked for in a message
the classifier was not sure about are confirmed first: the node that would act stores the action
as ``pending_action`` and asks "...? yes/no"; the next message answers it here."""

from __future__ import annotations

import re
from typing import Any

from tutor.agent.nodes import Services, Update

_YES = re.compile(
    r"^\s*(y|yes|yep|yeah|yup|sure|ok(ay)?|go( ahead)?|do it|please do|start it|confirm\w*)\b[\s.!]*$", re.I
)
_NO = re.compile(r"^\s*(n|no|nope|nah|cancel|don'?t|do not|stop|never ?mind|not now)\b.*$", re.I)


def answers_pending(text: str) -> bool | None:
    """True for a yes, False for a no, None when the message is something else."""
    if _YES.match(text):
        return True
    if _NO.match(text) and len(text.split()) <= 4:
        return False
    return None


def ask(action: dict[str, Any], question: str) -> Update:
    """The update of a node that wants ``action`` confirmed before it acts."""
    return {"reply": f"{question} Say **yes** to go ahead or **no** to leave it.", "pending_action": action}


def confirm_node(svc: Services, state: dict[str, Any]) -> Update:
    from tutor.agent.nodes.teach import make_plan
    from tutor.agent.nodes.training import start_job

    action = state.get("pending_action") or {}
    text = next(
        (m.content for m in reversed(state.get("messages") or []) if getattr(m, "type", "") == "human"), ""
    )
    if not answers_pending(str(text)):
        return {
            "reply": "OK, I won't. Ask me anything, or say what you would like to do.",
            "pending_action": None,
        }
    if action.get("kind") == "train":
        out = start_job(svc, state, action["job_kind"], dict(action["params"]))
    elif action.get("kind") == "plan":
        out = make_plan(svc, state, float(action["hours"]), action.get("goal"))
    else:
        out = {"reply": "There was nothing waiting for a yes. What would you like to do?"}
    return {**out, "pending_action": None}
