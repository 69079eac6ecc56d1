"""The tool-calling path, for chat backends that can call tools (a bigger model behind an
OpenAI-compatible server): the model picks among the same actions the deterministic nodes use.

Limits: the model's final text is not checked against the notes the way ``explain`` checks the
small model's answers, and "never write an exercise's solution" is an instruction, not a filter
(the tools themselves never return solutions: the grader keeps them out of the trusted process).
The loop is capped at ``MAX_STEPS`` model calls per turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage

from tutor import prompts as P
from tutor.nodes import Services, Update, attr, emit_text, emit_tool
from tutor.nodes.practice import grade, run_code, show_exercise
from tutor.nodes.progress import format_progress
from tutor.nodes.teach import make_plan
from tutor.nodes.training import job_status, start_job

log = logging.getLogger(__name__)
MAX_STEPS = 4
HISTORY = 16  # messages of earlier turns the model sees


def _fn(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": schema}}


_S, _N = {"type": "string"}, {"type": "number"}
TOOL_SPECS = [
    _fn(
        "search_notes",
        "Search the course notes; returns passages with topic id and section.",
        {"query": _S},
        ["query"],
    ),
    _fn(
        "run_code",
        "Run Python in the learner's sandboxed kernel (state persists in this conversation).",
        {"code": _S},
        ["code"],
    ),
    _fn(
        "grade_exercise",
        "Grade the learner's code for a course exercise and record the attempt.",
        {"exercise_id": _S, "code": _S},
        ["exercise_id", "code"],
    ),
    _fn(
        "get_exercise",
        "The statement, starter code and public test names of an exercise.",
        {"exercise_id": _S},
        ["exercise_id"],
    ),
    _fn("make_plan", "Make and save a lesson plan.", {"hours": _N, "goal": _S}, ["hours"]),
    _fn(
        "start_training",
        "Start a training job. kind 'gpt' (params: data, max_steps, ...) or 'sklearn' "
        "(params: dataset, estimator).",
        {"kind": {"type": "string", "enum": ["gpt", "sklearn"]}, "params": {"type": "object"}},
        ["kind"],
    ),
    _fn(
        "job_status",
        "Status, progress and metrics of a training job (the newest without an id).",
        {"job_id": _S},
        [],
    ),
    _fn("get_progress", "The learner's mastery per topic and due reviews.", {}, []),
]


def bind_tools(llm: Any) -> Any | None:
    """The model with the tools bound, or None when the backend cannot call tools."""
    try:
        return llm.bind_tools(TOOL_SPECS)
    except (NotImplementedError, AttributeError, TypeError, ValueError) as e:
        log.warning("chat model cannot call tools (%s): using the classifier routes only", e)
        return None


def _search(svc: Services, state: dict[str, Any], args: dict[str, Any]) -> Update:
    passages = svc.retriever.search(str(args.get("query", "")), k=4)
    cites = [{"topic_id": attr(p, "topic_id"), "source": attr(p, "source")} for p in passages]
    text = "\n\n".join(
        f"[{attr(p, 'topic_id')} | {attr(p, 'source')}]\n{str(attr(p, 'text'))[:800]}" for p in passages
    )
    call = {"name": "search_notes", "args": args, "status": "ok"}
    emit_tool(call)
    return {"reply": text or "no passages found", "citations": cites, "tool_calls": [call]}


ACTIONS: dict[str, Callable[[Services, dict[str, Any], dict[str, Any]], Update]] = {
    "search_notes": _search,
    "run_code": lambda svc, st, a: run_code(svc, st, str(a.get("code", ""))),
    "grade_exercise": lambda svc, st, a: grade(svc, st, a.get("exercise_id"), a.get("code")),
    "get_exercise": lambda svc, st, a: show_exercise(svc, str(a.get("exercise_id", ""))),
    "make_plan": lambda svc, st, a: make_plan(
        svc, st, min(40.0, max(0.25, float(a.get("hours") or 2))), a.get("goal")
    ),
    "start_training": lambda svc, st, a: start_job(
        svc, st, str(a.get("kind", "gpt")), dict(a.get("params") or {})
    ),
    "job_status": lambda svc, st, a: job_status(svc, st, a.get("job_id")),
    "get_progress": lambda svc, st, a: {
        "reply": format_progress(svc, svc.learner.progress(st.get("learner_id", "")))
    },
}


def _history(messages: list[AnyMessage]) -> list[AnyMessage]:
    """The recent messages, never starting with a tool result whose call was cut off."""
    recent = list(messages[-HISTORY:])
    while recent and (
        isinstance(recent[0], ToolMessage) or (isinstance(recent[0], AIMessage) and recent[0].tool_calls)
    ):
        recent.pop(0)
    return recent


def agent_node(svc: Services, bound: Any, state: dict[str, Any]) -> Update:
    steps = int(state.get("agent_steps") or 0) + 1
    model = bound if steps <= MAX_STEPS else svc.llm  # out of steps: answer without tools
    msgs = [
        SystemMessage(P.AGENT_SYSTEM.format(learner_id=state.get("learner_id", ""))),
        *_history(state.get("messages") or []),
    ]
    full: Any = None
    for chunk in model.stream(msgs):
        full = chunk if full is None else full + chunk
        if isinstance(chunk.content, str) and chunk.content:
            emit_text(chunk.content)
    content = full.content if full is not None and isinstance(full.content, str) else ""
    tool_calls = list(getattr(full, "tool_calls", None) or [])
    if tool_calls and steps <= MAX_STEPS:
        return {
            "messages": [AIMessage(content=content, tool_calls=tool_calls)],
            "agent_steps": steps,
            "_streamed": True,
        }
    return {"reply": content, "agent_steps": steps, "_streamed": True}


def tools_node(svc: Services, state: dict[str, Any]) -> Update:
    """Run the tool calls of the model's last message; each failure becomes a tool result."""
    last = (state.get("messages") or [None])[-1]
    out: Update = {
        "messages": [],
        "citations": list(state.get("citations") or []),
        "tool_calls": list(state.get("tool_calls") or []),
    }
    for call in getattr(last, "tool_calls", None) or []:
        action = ACTIONS.get(call["name"])
        try:
            if action is None:
                raise LookupError(f"unknown tool {call['name']!r}; tools: {', '.join(ACTIONS)}")
            update = action(
                svc,
                {**state, **{k: v for k, v in out.items() if k != "messages"}},
                dict(call.get("args") or {}),
            )
        except Exception as e:  # the model reads the error and can try again or explain
            log.warning("tool %s failed: %s", call["name"], e)
            update = {
                "reply": f"error: {e}",
                "tool_calls": [{"name": call["name"], "args": call.get("args"), "status": "failed"}],
            }
        out["messages"].append(
            ToolMessage(content=str(update.pop("reply", "")), tool_call_id=call["id"], name=call["name"])
        )
        out["citations"] += [c for c in update.pop("citations", []) if c not in out["citations"]]
        records = update.pop("tool_calls", None)
        if not records:  # an action that called no service still shows up as a tool call
            records = [{"name": call["name"], "args": call.get("args") or {}, "status": "ok"}]
            emit_tool(records[0])
        out["tool_calls"] += records
        out.update(update)
    return out


def route_agent(state: dict[str, Any]) -> Literal["tools", "respond"]:
    last = (state.get("messages") or [None])[-1]
    return (
        "tools" if isinstance(last, AIMessage) and last.tool_calls and not state.get("reply") else "respond"
    )
