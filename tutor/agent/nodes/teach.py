"""Teaching nodes: explain a concept from the notes, plan lessons and walk the plan."""

from __future__ import annotations

import logging
import re
from typing import Any

from curriculum.planner import MASTERED
from tutor.agent import prompts as P
from tutor.agent.intent import is_next_request
from tutor.agent.nodes import Services, Update, last_human_text, use_tool
from tutor.agent.nodes.confirm import ask
from tutor.usecases import learner_records, planning
from tutor.usecases.explain import Learner, follow_up_kind
from tutor.usecases.planning import goal_text

log = logging.getLogger(__name__)


# --- explain ---
def explain_node(svc: Services, state: dict[str, Any]) -> Update:
    """A follow-up ("why?", "show me in code", "simpler", "more") goes on from the thread's last
    card; anything else is a new question, answered from the cards or the notes."""
    question = last_human_text(state)
    kind = follow_up_kind(question)
    learner = Learner(learner_records.mastery(svc.store, state.get("learner_id", "")))
    calls: list[dict[str, Any]] = []
    answer = None
    if kind and state.get("last_card"):
        answer, err = use_tool(
            calls,
            "follow_up",
            {"kind": kind, "card_id": state.get("last_card")},
            lambda: svc.explainer.follow_up(
                kind, state.get("last_card"), state.get("current_topic"), learner
            ),
        )
    if answer is None:
        # a follow-up with no card to go on stays within the thread's topic
        within = state.get("current_topic") if kind else None
        args = {"question": question, **({"topic_id": within} if within else {})}
        answer, err = use_tool(
            calls, "explain", args, lambda: svc.explainer.answer(question, learner, topic_id=within)
        )
        if err:
            reply = f"I couldn't search the course notes just now: {err}. Try again in a moment."
            return {"reply": reply, "tool_calls": calls}
    calls[-1]["summary"] = f"{answer.kind} {answer.card_id or ''} score {answer.score:.2f}".replace("  ", " ")
    return render_answer(svc, state, answer, calls)


def render_answer(svc: Services, state: dict[str, Any], answer: Any, calls: list[dict[str, Any]]) -> Update:
    """The state update for a composed answer (with a suggestion of what to do next)."""
    out: Update = {"reply": answer.text, "tool_calls": calls}
    if answer.topic_id:
        out["reply"] = f"{answer.text}\n\n{suggest_next(svc, state, answer.topic_id)}"
        out["current_topic"] = answer.topic_id
    out["citations"] = [c.to_dict() for c in answer.citations]
    out["last_card"] = answer.card_id
    out["check_item"] = answer.check_item
    return out


def passed_exercises(svc: Services, learner_id: str) -> set[str]:
    return learner_records.passed_exercises(svc.store, learner_id)


def suggest_next(svc: Services, state: dict[str, Any], topic_id: str) -> str:
    """An exercise on the topic the learner hasn't passed, else the next topic that builds on it."""
    learner_id = state.get("learner_id", "")
    done = passed_exercises(svc, learner_id)
    for ex in svc.exercises_for(topic_id):
        if ex.id not in done:
            return P.EXPLAIN_NEXT_EXERCISE.format(exercise_id=ex.id, title=ex.title)
    mastery = learner_records.mastery(svc.store, learner_id)
    for tid in svc.catalog.topological_order():
        t = svc.catalog.topics[tid]
        if topic_id in t.prerequisites and mastery.get(tid, 0.0) < MASTERED:
            return P.EXPLAIN_NEXT_TOPIC.format(title=t.title, topic_id=tid)
    return P.EXPLAIN_NEXT_ASK


def mentioned_topics(svc: Services, text: str) -> list[str]:
    """Topic ids named in the text by id or by full title."""
    low = text.lower()
    return [
        t.id
        for t in svc.catalog.topics.values()
        if re.search(r"(?<![\w.])" + re.escape(t.id) + r"(?![\w])", low)
        or re.search(r"\b" + re.escape(t.title.lower()) + r"\b", low)
    ]


# --- plan ---
# the plan use case is tutor/usecases/planning.py (shared with the API and the Learn tab); these nodes
# parse the chat request and word the replies
_HOURS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:h\b|hrs?\b|hours?\b)", re.I)
_MINUTES = re.compile(r"(\d+)\s*(?:m\b|mins?\b|minutes?\b)", re.I)
_CONTINUE = re.compile(
    r"\bwhat\s+(should|shall|do|can|could)\s+i\s+(do|study|learn|work on|tackle|look at)\s*(next|now)?\b|"
    r"\b(continue|resume)\s+(with\s+)?(my|the)\s+plan\b|\bwhat\s+now\b",
    re.I,
)
PLAN_FINISHED = "You've reached the end of your plan, so here is a new one."


def is_continue_request(text: str) -> bool:
    """ "what's next?", "what should I do next?", "continue my plan": walk the saved plan."""
    return is_next_request(text) or bool(_CONTINUE.search(text))


def parse_hours(text: str, default: float = 2.0) -> float:
    if m := _HOURS.search(text):
        hours = float(m.group(1))
    elif m := _MINUTES.search(text):
        hours = int(m.group(1)) / 60
    elif re.search(r"\bhalf an hour\b", text, re.I):
        hours = 0.5
    elif re.search(r"\ban hour\b", text, re.I):
        hours = 1.0
    else:
        hours = default
    return min(40.0, max(0.25, hours))


def plan_node(svc: Services, state: dict[str, Any]) -> Update:
    text = last_human_text(state)
    saved = learner_records.saved_plan(svc.store, state.get("learner_id", ""))
    plan = saved or state.get("plan")  # the store has the newest plan (it may come from the API)
    if is_continue_request(text):
        if plan:
            return next_step(svc, state, plan)
        out = make_plan(svc, state, parse_hours(text), None)
        out["reply"] = P.PLAN_NONE + "\n\n" + out["reply"]
        return out
    goal = goal_text(text)
    if plan and not str(state.get("intent_source") or "").startswith("rule:"):
        # the classifier guessed "plan": replacing the learner's plan is worth a question first
        towards = f" towards {goal}" if goal else ""
        return ask(
            {"kind": "plan", "hours": parse_hours(text), "goal": goal or None},
            f"Replace your current plan with a new {parse_hours(text):g}-hour plan{towards}?",
        )
    return make_plan(svc, state, parse_hours(text), goal or None)


def make_plan(svc: Services, state: dict[str, Any], hours: float, goal: str | None) -> Update:
    """The plan use case (``tutor.usecases.planning.make_plan``, the same as the API's and the Learn
    tab's) with this graph's model task, worded for the chat."""
    plan = new_plan(svc, state, hours, goal)
    calls = [{"name": "make_plan", "args": {"hours": hours, "goal": goal}, "status": "ok"}]
    return {"reply": format_plan(svc, plan), "plan": plan, "plan_step": 0, "tool_calls": calls}


def new_plan(svc: Services, state: dict[str, Any], hours: float, goal: str | None) -> dict[str, Any]:
    """Make and save the learner's plan (the plan shape of docs/contract.md); no wording."""
    learner_id = state.get("learner_id", "")
    labs = getattr(svc, "labs", None)
    return planning.make_plan(
        svc.llm, svc.retriever, svc.store, svc.catalog, svc.learner, learner_id, hours, goal,
        labs=labs.open_by_topic(learner_id) if labs is not None else None,
        gpt_plan=svc.tasks.gpt_plan,
    )  # fmt: skip


def format_plan(svc: Services, plan: dict[str, Any]) -> str:
    """The plan as chat text: header, the distance to the goal, one line per item with its reason."""
    items = plan.get("items") or []
    if not items:
        return P.PLAN_EMPTY
    goal = (
        f" towards {', '.join(svc.topic_title(g) for g in plan.get('goal_topics', []))}"
        if plan.get("goal_topics")
        else ""
    )
    lines = [P.PLAN_HEADER.format(hours=plan.get("hours", 0), goal=goal)]
    if plan.get("distance"):
        lines.append(str(plan["distance"]))
    for n, it in enumerate(items, 1):
        line = P.PLAN_ITEM.format(
            n=n,
            activity=it["activity"].capitalize(),
            title=svc.topic_title(it["topic_id"]),
            topic_id=it["topic_id"],
            minutes=it["minutes"],
        )
        lines.append(f"{line} · {it['reason']}" if it.get("reason") else line)
    if plan.get("rationale"):
        lines.append("\n" + str(plan["rationale"]))
    lines.append("\n" + P.PLAN_FOOTER)
    return "\n".join(lines)


def next_step(svc: Services, state: dict[str, Any], plan: dict[str, Any], step: int | None = None) -> Update:
    """The saved plan's next item that is not done (``tutor.usecases.planning.next_item``: mastered topics
    and reviews no longer due are skipped; the cursor is kept in the store, so a new thread goes
    on where the last one stopped). A finished plan is followed by a new one for the same hours
    and goal. ``step`` is ignored (the stored cursor decides); kept for older callers."""
    learner_id = state.get("learner_id", "")
    items = plan.get("items") or []
    idx = planning.next_item(svc.store, svc.learner, learner_id, plan)
    if idx is None:
        out = make_plan(svc, state, float(plan.get("hours") or 2.0), plan.get("goal"))
        out["reply"] = PLAN_FINISHED + "\n\n" + out["reply"]
        return out
    it = items[idx]
    tid = it["topic_id"]
    lines = [
        P.PLAN_NEXT.format(
            n=idx + 1,
            total=len(items),
            activity=it["activity"],
            title=svc.topic_title(tid),
            topic_id=tid,
            minutes=it["minutes"],
        )
    ]
    if it.get("reason"):
        lines.append(f"Why: {it['reason']}.")
    exs = [e for e in svc.exercises_for(tid) if e.id not in passed_exercises(svc, learner_id)]
    if it["activity"] == "study" or not exs:
        lines.append(P.PLAN_NEXT_STUDY.format(title=svc.topic_title(tid)))
    if exs:
        lines.append(P.PLAN_NEXT_EXERCISE.format(exercise_id=exs[0].id, title=exs[0].title))
    return {"reply": " ".join(lines), "plan": plan, "plan_step": idx + 1, "current_topic": tid}
