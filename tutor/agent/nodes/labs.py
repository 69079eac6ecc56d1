"""The ``lab`` node: start a guided lab from chat ("start the pandas lab"), resume one ("where
was I?"), or list them. The reply gives the step to do now (text and starter code) and where to
do it: the Code tab's Labs picker (checked step by step in the learner's kernel) or the
downloadable notebook. Progress comes from the store, so it is the same in the UI, API and chat.
"""

from __future__ import annotations

import re
from typing import Any

from tutor.agent.nodes import Services, Update, last_human_text, use_tool

_LIST = re.compile(
    r"\b(which|what|list|all|any|available)\b.*\blabs?\b|\blabs?\b.*\b(are there|do you have|available)\b",
    re.I,
)
_RESUME = re.compile(
    r"\bwhere (was|were|did) (i|we)\b|\b(resume|continue|keep going|back to|pick up|next step|go on|how far|progress|which step)\b",
    re.I,
)


def _lab_list(labs: dict[str, Any]) -> str:
    rows = [
        f"- **{lab['title']}** (`{lab['id']}`, {lab['module']}, {len(lab['steps'])} steps)"
        for lab in labs["labs"]
    ]
    return "\n".join(rows) or "- (no labs are installed)"


def _step_reply(started: dict[str, Any], resumed: bool) -> str:
    lab, step, prog = started["lab"], started["step"], started["progress"]
    n = [s["id"] for s in lab["steps"]].index(step["id"]) + 1
    total = len(lab["steps"])
    head = (
        f"You were working on **{lab['title']}**: {prog['done']} of {total} steps passed."
        if resumed or prog["done"]
        else f"Let's start **{lab['title']}** (about {lab['minutes']} minutes, {total} steps).\n\n{lab['intro'].strip()}"
    )
    if prog["done"] == total:
        head += " You have finished every step; here is the last one again if you want to revisit it."
    parts = [head, f"**Step {n} of {total}: {step['title']}**", step["text"].strip()]
    if step.get("starter", "").strip():
        parts.append("Start from this code:\n\n```python\n" + step["starter"].rstrip() + "\n```")
    parts.append(
        f"Do it in the **Code** tab: open *Labs*, pick *{lab['title']}*, and press **Check step** after each "
        f"step (your variables carry over). Prefer Jupyter? Download the notebook from "
        f"`/api/labs/{lab['id']}/notebook` and upload it back with `tutor lab submit {lab['id']} FILE`."
    )
    return "\n\n".join(parts)


def lab_node(svc: Services, state: dict[str, Any]) -> Update:
    labs = getattr(svc, "labs", None)
    if labs is None:
        return {"reply": "Guided labs are not available in this tutor."}
    text = last_human_text(state)
    learner = str(state.get("learner_id") or "")
    calls: list[dict[str, Any]] = []
    catalog, err = use_tool(calls, "list_labs", {}, labs.catalog)
    if err:
        return {"reply": f"I could not load the labs: {err}", "tool_calls": calls}
    lab_id = labs.find(text)
    if _LIST.search(text) and not (lab_id and re.search(r"\b(start|open|begin|do)\b", text, re.I)):
        reply = "Here are the guided labs; say *start the <name> lab* to begin one:\n\n" + _lab_list(catalog)
        return {"reply": reply, "tool_calls": calls}
    if lab_id is None:  # "where was I?", "continue my lab": the most recent unfinished lab
        started, err = use_tool(calls, "resume_lab", {"learner_id": learner}, lambda: labs.resume(learner))
        if not err and started is None:
            reply = ("You have not started a lab yet. Say *start the <name> lab*; these are the labs:\n\n"
                     + _lab_list(catalog))  # fmt: skip
            return {"reply": reply, "tool_calls": calls}
        resumed = True
    else:  # "start the pandas lab" (resumes that lab where it was left)
        started, err = use_tool(calls, "start_lab", {"lab_id": lab_id}, lambda: labs.start(learner, lab_id))
        resumed = bool(_RESUME.search(text))
    if err:
        return {"reply": f"I could not open that lab: {err}", "tool_calls": calls}
    topics = started["lab"].get("topics") or []
    return {"reply": _step_reply(started, resumed), "tool_calls": calls,
            "current_topic": topics[0] if topics else state.get("current_topic")}  # fmt: skip
