"""The tutor's LangGraph: classify the message, route it to one node, reply.

::

    START -> classify -> announce -> explain | plan | run_code | grade | exercise | train
                                     | progress | review | quiz | chitchat | agent <-> tools -> respond -> END

``classify`` uses rules + a small classifier (``tutor/agent/intent.py``); while a practice question
waits (``pending_item``) the message goes to ``quiz`` as its answer unless it is a new request; ``announce`` puts the results
of training jobs that finished since the last turn before the reply; ``respond`` writes the reply
as the thread's AI message. When ``tool_calling`` is on and the model can bind tools, messages no
rule recognises go to the ``agent`` node instead, which calls the same actions as tools.

Every node ends with a reply: a service that fails is explained in it (``use_tool``), and an
unexpected exception in a node becomes an apologetic reply with what to do, never a raised error.
Replies are streamed as custom ``{"event": "token"|"tool", "data": ...}`` chunks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph

from tutor.agent import prompts as P
from tutor.agent.intent import IntentResult, classify, rule_intent
from tutor.agent.nodes import Services, Update, emit_text, last_human_text
from tutor.agent.nodes.chitchat import chitchat_node
from tutor.agent.nodes.confirm import answers_pending, confirm_node
from tutor.agent.nodes.labs import lab_node
from tutor.agent.nodes.practice import exercise_node, grade_node, run_node
from tutor.agent.nodes.progress import progress_node
from tutor.agent.nodes.quiz import quiz_node, review_walk_node, takes_answer
from tutor.agent.nodes.teach import explain_node, plan_node
from tutor.agent.nodes.training import announce_finished, train_node
from tutor.agent.state import TutorState
from tutor.usecases.tasks import Tasks, load_tasks

log = logging.getLogger(__name__)

Route = Literal[
    "explain",
    "plan",
    "run_code",
    "grade",
    "exercise",
    "train",
    "progress",
    "review",
    "chitchat",
    "agent",
    "quiz",
    "confirm",
    "lab",
]
HANDLERS: dict[str, tuple[Callable[[Services, dict[str, Any]], Update], str, str]] = {
    # node: (action, what it was doing, what the learner can do when it breaks)
    "explain": (explain_node, "looking that up in the notes", "Try asking again in other words."),
    "plan": (plan_node, "making your plan", 'Try "plan 2 hours" again in a moment.'),
    "run_code": (run_node, "running your code", "Try again in a moment."),
    "grade": (grade_node, "grading your code", "Your attempt was not counted; try again in a moment."),
    "exercise": (exercise_node, "finding that exercise", 'Say "list exercises" to see them all.'),
    "train": (train_node, "handling the training job", 'Say "job status" to check on your jobs.'),
    "progress": (progress_node, "collecting your progress", "Try again in a moment."),
    "review": (review_walk_node, "preparing your review", 'Try "review" again in a moment.'),
    "quiz": (quiz_node, "checking your answer", 'Say "quiz me" to try again, or "stop".'),
    "chitchat": (chitchat_node, "answering", 'Ask me about a topic, or say "what\'s next?".'),
    "confirm": (confirm_node, "doing what you confirmed", "Ask again in a moment."),
    "lab": (lab_node, "opening the lab", 'Open the Code tab\'s Labs picker, or say "list labs".'),
}


def guarded(svc: Services, name: str, action: Callable[..., Update], doing: str, what_to_do: str) -> Any:
    """A node (``state -> update``) that always returns a reply and streams it (unless the action streamed it itself)."""

    def node(state: TutorState) -> Update:
        try:
            out = dict(action(svc, dict(state)))
        except Exception as e:  # the learner gets an explanation, the log gets the traceback
            log.exception("node %s failed", name)
            out = {
                "reply": P.NODE_FAILED.format(
                    doing=doing, error=str(e) or type(e).__name__, what_to_do=what_to_do
                )
            }
        if not out.pop("_streamed", False):
            emit_text(out.get("reply", ""))
        return out

    node.__name__ = name
    return node


def build_graph(
    llm: Any,
    retriever: Any,
    kernels: Any,
    grader: Any,
    jobs: Any,
    store: Any,
    checkpointer: Any,
    *,
    catalog: Any,
    exercises: Mapping[str, Any],
    learner: Any = None,
    tasks: Tasks | None = None,
    tool_calling: bool = False,
    cards: Any = None,
    practice: Any = None,
    labs: Any = None,
    materials: Any = None,
) -> Any:
    """The compiled graph. ``learner`` defaults to ``LearnerModel(store, catalog)``; ``tasks`` to
    ``tutor.llm.tasks`` (rule-based stand-ins where missing); ``tool_calling`` turns on the agent
    path when ``llm.bind_tools`` works (set it for backends with real tool calling)."""
    if learner is None:
        from curriculum.learner import LearnerModel

        learner = LearnerModel(store, catalog)
    svc = Services(
        llm=llm,
        retriever=retriever,
        kernels=kernels,
        grader=grader,
        jobs=jobs,
        store=store,
        catalog=catalog,
        exercises=exercises,
        learner=learner,
        tasks=tasks or load_tasks(),
        cards=cards,
        practice=practice,
        labs=labs,
        materials=materials,
    )
    bound = None
    if tool_calling:
        from tutor.agent.tools import bind_tools

        bound = bind_tools(llm)

    def classify_node(state: TutorState) -> Update:
        text = last_human_text(state)
        if state.get("pending_action"):  # "Start a GPT fine-tune ...? yes/no"
            if answers_pending(text) is not None:
                return {
                    "intent": "confirm",
                    "intent_source": "rule:confirm",
                    "exercise_id": None,
                    "code": None,
                }
        pending = state.get("pending_item")  # a practice question waits: this message may answer it
        if pending and takes_answer(text, pending):
            return {"intent": "quiz", "intent_source": "rule:pending-item", "exercise_id": None, "code": None}
        try:
            res = classify(text, svc.exercise_titles, review_pending=bool(state.get("review_topic")))
        except Exception:  # a broken classifier must not stop the turn: rules, else a safe default
            log.exception("intent classifier failed")
            res = rule_intent(text, svc.exercise_titles) or IntentResult("explain", 0.0, "fallback")
        code, ex_id = res.code, res.exercise_id
        intent = res.intent
        # code sent while working on an exercise, with "my solution"-type words, is a submission
        if intent == "run_code" and state.get("current_exercise") and _is_submission(text):
            intent, ex_id = "grade", state.get("current_exercise")
        log.debug("intent %s (%s, %.2f)", intent, res.source, res.confidence)
        out: Update = {"intent": intent, "intent_source": res.source, "exercise_id": ex_id, "code": code}
        if state.get("pending_action"):
            out["pending_action"] = None  # a new request drops the unconfirmed action
        return {**out, "pending_item": None} if pending else out  # a new request drops the question

    def announce_node(state: TutorState) -> Update:
        try:
            return announce_finished(svc, dict(state))
        except Exception:  # announcements are a courtesy; the turn goes on without them
            log.exception("announcing finished jobs failed")
            return {}

    def route(state: TutorState) -> Route:
        intent = state.get("intent") or "chitchat"
        if bound is not None and not (state.get("intent_source") or "").startswith("rule:"):
            return "agent"
        return intent if intent in HANDLERS else "chitchat"  # type: ignore[return-value]

    def respond_node(state: TutorState) -> Update:
        reply = (state.get("reply") or "").strip()
        if not reply:
            reply = P.FALLBACK
            emit_text(reply)
        final = "\n\n".join([*(state.get("notices") or []), reply])
        return {"reply": final, "messages": [AIMessage(content=final)]}

    g: StateGraph[TutorState, None, TutorState, TutorState] = StateGraph(TutorState)
    g.add_node("classify", classify_node)
    g.add_node("announce", announce_node)
    for name, (action, doing, what) in HANDLERS.items():
        g.add_node(name, guarded(svc, name, action, doing, what))
        g.add_edge(name, "respond")
    g.add_node("respond", respond_node)
    targets = list(HANDLERS)
    if bound is not None:
        from tutor.agent.tools import agent_node, route_agent, tools_node

        g.add_node(
            "agent",
            guarded(
                svc, "agent", lambda s, st: agent_node(s, bound, st), "thinking", "Try again in other words."
            ),
        )
        g.add_node("tools", guarded(svc, "tools", tools_node, "using a tool", "Try again in a moment."))
        g.add_conditional_edges("agent", route_agent, ["tools", "respond"])
        g.add_edge("tools", "agent")
        targets.append("agent")
    g.add_edge(START, "classify")
    g.add_edge("classify", "announce")
    g.add_conditional_edges("announce", route, targets)
    g.add_edge("respond", END)
    return g.compile(checkpointer=checkpointer)


def _is_submission(text: str) -> bool:
    prose = re.sub(r"```.*?(```|\Z)", " ", text, flags=re.S)
    return bool(re.search(r"\b(solution|attempt|answer|fix(ed)?|try|version|submission)\b", prose, re.I))
