"""Teaching nodes: explain a concept from the notes, plan lessons and walk the plan."""

from __future__ import annotations

import logging
import re
from typing import Any

from curriculum.planner import MASTERED, plan_lesson, validate_plan
from tutor import prompts as P
from tutor.intent import is_next_request
from tutor.nodes import Services, Update, attr, last_human_text, use_tool
from tutor.nodes import fallbacks as fb

log = logging.getLogger(__name__)
SEARCH_K = 4
_FOLLOW_UP = re.compile(r"\b(it|this|that|these|those|example|more|again|elaborate|why)\b", re.I)


# --- explain ---
def explain_node(svc: Services, state: dict[str, Any]) -> Update:
    question = last_human_text(state)
    current = state.get("current_topic")
    follow_up = (
        current
        and len(question.split()) <= 8
        and _FOLLOW_UP.search(question)
        and not mentioned_topics(svc, question)
    )
    if not follow_up:
        return explain(svc, state, question)
    # "give me an example of that" is about the last question: search with it, within its topic
    humans = [m for m in state.get("messages") or [] if getattr(m, "type", "") == "human"]
    before = humans[-2].content if len(humans) > 1 and isinstance(humans[-2].content, str) else ""
    query = f"{before} {question}".strip() if "```" not in before else question
    return explain(svc, state, question, topic_id=current, query=query)


def explain(
    svc: Services, state: dict[str, Any], question: str, topic_id: str | None = None, query: str | None = None
) -> Update:
    """Retrieve, answer grounded in the passages, cite topic and section, suggest what to do next."""
    calls: list[dict[str, Any]] = []
    query = query or question
    args: dict[str, Any] = {"query": query, "k": SEARCH_K, **({"topic_id": topic_id} if topic_id else {})}
    passages, err = use_tool(calls, "search_notes", args, lambda: svc.retriever.search(**args))
    if topic_id and not err and not passages:  # nothing in that topic: search everywhere
        passages, err = use_tool(
            calls,
            "search_notes",
            {"query": query, "k": SEARCH_K},
            lambda: svc.retriever.search(query, k=SEARCH_K),
        )
    if err:
        reply = f"I couldn't search the course notes just now: {err}. Try again in a moment."
        return {"reply": reply, "tool_calls": calls}
    if not passages:
        return {"reply": P.EXPLAIN_NO_PASSAGES, "tool_calls": calls}
    try:
        exp = svc.tasks.explain(svc.llm, query, passages)
    except Exception as e:  # the model failed: quote the notes instead of leaving the learner empty-handed
        log.warning("explain task failed (%s); quoting the notes", e)
        exp = fb.explain(svc.llm, query, passages)
    text = str(attr(exp, "text") or "").strip() or fb.explain(svc.llm, query, passages).text
    citations = _citations(attr(exp, "citations") or [], passages)
    top = citations[0]["topic_id"]
    sources = "; ".join(f"{svc.topic_title(c['topic_id'])} — {c['source']}" for c in citations[:2])
    parts = [text, P.EXPLAIN_SOURCES.format(sources=sources), suggest_next(svc, state, top)]
    return {"reply": "\n\n".join(parts), "citations": citations, "tool_calls": calls, "current_topic": top}


def _citations(raw: list[Any], passages: list[Any]) -> list[dict[str, Any]]:
    """``{"topic_id", "source"}`` dicts from whatever the task returned, best first, no duplicates;
    the top passage when the task cited nothing."""
    out: list[dict[str, Any]] = []
    for c in list(raw) or passages[:1]:
        item = {"topic_id": attr(c, "topic_id"), "source": attr(c, "source")}
        if item["topic_id"] and item not in out:
            out.append(item)
    return out or [{"topic_id": attr(passages[0], "topic_id"), "source": attr(passages[0], "source")}]


def passed_exercises(svc: Services, learner_id: str) -> set[str]:
    return {a["exercise_id"] for a in svc.store.attempts(learner_id) if a["passed"]}


def suggest_next(svc: Services, state: dict[str, Any], topic_id: str) -> str:
    """An exercise on the topic the learner hasn't passed, else the next topic that builds on it."""
    learner_id = state.get("learner_id", "")
    done = passed_exercises(svc, learner_id)
    for ex in svc.exercises_for(topic_id):
        if ex.id not in done:
            return P.EXPLAIN_NEXT_EXERCISE.format(exercise_id=ex.id, title=ex.title)
    mastery = svc.store.get_mastery(learner_id)
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
_HOURS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:h\b|hrs?\b|hours?\b)", re.I)
_MINUTES = re.compile(r"(\d+)\s*(?:m\b|mins?\b|minutes?\b)", re.I)
_PLAN_WORDS = re.compile(
    r"\b(make|create|build|give|get|plan\w*|study|studies|schedule|lesson|session|path|roadmap|road|map|learning|learn|"
    r"want|would|like|need|please|pls|can|could|you|me|my|for|i|i'd|i'm|im|to|a|an|the|of|on|in|and|with|have|got|"
    r"hours?|hrs?|minutes?|mins?|today|tonight|week|weekend|day|towards?|get|reach|understand|focus|about|do|what|"
    r"should|next|start|where|now|some|time|it|this|that|toward|up|be|is|are|by|\d+(\.\d+)?h?)\b",
    re.I,
)


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


def goal_text(text: str) -> str:
    """What is left of a plan request once the planning words are gone ("plan 2h towards attention" -> "attention")."""
    rest = _PLAN_WORDS.sub(" ", re.sub(r"[^\w\s.'-]", " ", text))
    return " ".join(w for w in rest.split() if len(w) > 2)


def plan_node(svc: Services, state: dict[str, Any]) -> Update:
    text = last_human_text(state)
    saved = svc.store.get_plan(state.get("learner_id", ""))
    plan = saved or state.get("plan")  # the store has the newest plan (it may come from the API)
    if is_next_request(text):
        if plan:
            step = state.get("plan_step", 0) if state.get("plan") == plan else 0
            return next_step(svc, state, plan, step)
        out = make_plan(svc, state, parse_hours(text), None)
        out["reply"] = P.PLAN_NONE + "\n\n" + out["reply"]
        return out
    goal = goal_text(text)
    return make_plan(svc, state, parse_hours(text), goal or None)


def make_plan(svc: Services, state: dict[str, Any], hours: float, goal: str | None) -> Update:
    """The GPT plan, validated against the curriculum (repaired by the rule planner when wrong), saved."""
    learner_id = state.get("learner_id", "")
    calls: list[dict[str, Any]] = []
    goals = mentioned_topics(svc, goal or "")[:2]
    if goal and not goals:
        hits, err = use_tool(
            calls, "search_notes", {"query": goal, "k": 3}, lambda: svc.retriever.search(goal, k=3)
        )
        goals = [attr(hits[0], "topic_id")] if hits else []
    progress = svc.learner.progress(learner_id)
    mastery, due = progress["mastery"], progress["due_reviews"]
    try:
        plan = dict(svc.tasks.gpt_plan(svc.llm, svc.catalog, mastery, hours, goals, due))
        problems = validate_plan(svc.catalog, plan.get("items") or [], mastery, hours)
    except Exception as e:  # the model failed: the rule planner still gives a valid plan
        log.warning("gpt_plan failed (%s); using the rule planner", e)
        plan, problems = {}, [f"model failed: {e}"]
    if problems:
        log.info("plan repaired by the rule planner: %s", problems)
        plan = plan_lesson(svc.catalog, mastery, hours, goal_topics=goals, due_reviews=due).to_dict()
        plan.update(model="rules", repaired=True, repairs=problems)
    plan.update(learner_id=learner_id, hours=hours, goal_topics=goals)
    if goal:
        plan["goal"] = goal
    svc.store.save_plan(learner_id, plan)
    calls.append({"name": "make_plan", "args": {"hours": hours, "goal": goal}, "status": "ok"})
    return {"reply": format_plan(svc, plan), "plan": plan, "plan_step": 0, "tool_calls": calls}


def format_plan(svc: Services, plan: dict[str, Any]) -> str:
    items = plan.get("items") or []
    if not items:
        return P.PLAN_EMPTY
    goal = (
        f" towards {', '.join(svc.topic_title(g) for g in plan.get('goal_topics', []))}"
        if plan.get("goal_topics")
        else ""
    )
    lines = [P.PLAN_HEADER.format(hours=plan.get("hours", 0), goal=goal)]
    for n, it in enumerate(items, 1):
        lines.append(
            P.PLAN_ITEM.format(
                n=n,
                activity=it["activity"].capitalize(),
                title=svc.topic_title(it["topic_id"]),
                topic_id=it["topic_id"],
                minutes=it["minutes"],
            )
        )
    if plan.get("rationale"):
        lines.append("\n" + str(plan["rationale"]))
    lines.append("\n" + P.PLAN_FOOTER)
    return "\n".join(lines)


def next_step(svc: Services, state: dict[str, Any], plan: dict[str, Any], step: int) -> Update:
    """The next plan item, skipping study items already mastered since the plan was made."""
    items = plan.get("items") or []
    mastery = svc.store.get_mastery(state.get("learner_id", ""))
    while (
        step < len(items)
        and items[step]["activity"] != "review"
        and mastery.get(items[step]["topic_id"], 0) >= MASTERED
    ):
        step += 1
    if step >= len(items):
        return {"reply": P.PLAN_DONE, "plan": plan, "plan_step": step}
    it = items[step]
    tid = it["topic_id"]
    lines = [
        P.PLAN_NEXT.format(
            n=step + 1,
            total=len(items),
            activity=it["activity"],
            title=svc.topic_title(tid),
            topic_id=tid,
            minutes=it["minutes"],
        )
    ]
    exs = [
        e for e in svc.exercises_for(tid) if e.id not in passed_exercises(svc, state.get("learner_id", ""))
    ]
    if it["activity"] == "study" or not exs:
        lines.append(P.PLAN_NEXT_STUDY.format(title=svc.topic_title(tid)))
    if exs:
        lines.append(P.PLAN_NEXT_EXERCISE.format(exercise_id=exs[0].id, title=exs[0].title))
    return {"reply": " ".join(lines), "plan": plan, "plan_step": step + 1, "current_topic": tid}
