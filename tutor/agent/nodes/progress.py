"""Progress and review nodes: mastery per topic, due reviews, and FSRS self-checks."""

from __future__ import annotations

from typing import Any

from tutor.agent import prompts as P
from tutor.agent.intent import find_rating
from tutor.agent.nodes import Services, Update, last_human_text, use_tool
from tutor.agent.nodes.teach import mentioned_topics
from tutor.usecases import learner_records

RATING_NAMES = {1: "again", 2: "hard", 3: "good", 4: "easy"}


def progress_node(svc: Services, state: dict[str, Any]) -> Update:
    learner_id = state.get("learner_id", "")
    calls: list[dict[str, Any]] = []
    prog, err = use_tool(calls, "get_progress", {}, lambda: svc.learner.progress(learner_id))
    if err:
        return {
            "reply": f"I couldn't load your progress just now: {err}. Try again in a moment.",
            "tool_calls": calls,
        }
    return {"reply": format_progress(svc, prog), "tool_calls": calls}


def format_progress(svc: Services, prog: dict[str, Any]) -> str:
    mastery, attempts, due = prog["mastery"], prog["attempts"], prog["due_reviews"]
    lines = []
    if not attempts and not mastery:
        lines.append(P.PROGRESS_NONE)
    else:
        order = {tid: n for n, tid in enumerate(svc.catalog.topological_order())}
        passed = sum(1 for a in attempts if a["passed"])
        lines.append(P.PROGRESS_HEADER.format(passed=passed, total=len(attempts)))
        for tid in sorted(mastery, key=lambda t: order.get(t, len(order))):
            lines.append(P.PROGRESS_ITEM.format(title=svc.topic_title(tid), topic_id=tid, p=mastery[tid]))
    if due:
        lines.append(P.PROGRESS_DUE.format(topics=", ".join(f"{svc.topic_title(t)} (`{t}`)" for t in due)))
    lines.append(P.PROGRESS_NEXT)
    return "\n".join(lines)


def review_node(svc: Services, state: dict[str, Any]) -> Update:
    """Answer a pending self-check with its rating, or ask the next one."""
    learner_id = state.get("learner_id", "")
    text = last_human_text(state)
    pending = state.get("review_topic")
    rating = find_rating(text)
    calls: list[dict[str, Any]] = []
    parts: list[str] = []
    if pending and rating is not None:
        rec, err = use_tool(
            calls,
            "self_check",
            {"topic_id": pending, "rating": rating},
            lambda: svc.learner.record_self_check(learner_id, pending, rating),
        )
        if err:
            return {
                "reply": f"I couldn't record that: {err}. Say again, hard, good or easy.",
                "tool_calls": calls,
            }
        parts.append(
            P.REVIEW_RECORDED.format(
                rating=RATING_NAMES[rating], title=svc.topic_title(pending), due=rec["due"][:10]
            )
        )
    due = [t for t in svc.learner.due_reviews(learner_id) if t != pending or rating is None]
    asked = mentioned_topics(svc, text) if not pending or rating is None else []
    topic = (asked or due or [None])[0]
    if topic is None:
        nxt = svc.learner.next_review(learner_id)
        when = (
            P.REVIEW_NEXT_DUE.format(title=svc.topic_title(nxt[0]), due=nxt[1].date().isoformat())
            if nxt
            else ""
        )
        parts.append(P.REVIEW_NONE.format(next=when))
        return {"reply": " ".join(parts), "review_topic": None, "tool_calls": calls}
    points = svc.catalog.topics[topic].must_cover or (svc.catalog.topics[topic].title,)
    point = points[learner_records.attempt_count(svc.store, learner_id) % len(points)]
    parts.append(P.REVIEW_ASK.format(title=svc.topic_title(topic), topic_id=topic, point=point))
    rest = [t for t in due if t != topic]
    if rest:
        parts.append(P.REVIEW_MORE.format(topics=", ".join(f"`{t}`" for t in rest[:5])))
    return {"reply": "\n\n".join(parts), "review_topic": topic, "current_topic": topic, "tool_calls": calls}
