"""The lesson-plan use case, one code path for the chat (``tutor/agent/nodes/teach.py``), the HTTP API
and the Learn tab (``Tutor.plan``): the same learner state, hours and goal give the same plan.

- ``make_plan``: the goal text is matched to topics (named ids or titles, else retrieval), the
  GPT writes the plan (``gpt_plan``), which is checked against the curriculum, the goal's path
  and the due reviews and repaired by the rule planner when wrong; practice items become labs
  where the learner has an unfinished one; every item gets a reason checked against the
  learner's state (a false one is replaced and counted in ``reasons_replaced``); the distance
  to the goal is stated; the plan is saved.
- ``next_item``: "what's next?" walks the saved plan: the next item that is not done, with a
  cursor kept in the store so it continues across threads; None when the plan is finished.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from curriculum.catalog import Catalog
from curriculum.plan_reasons import ReasonContext, annotate, distance, practice_counts, reason_for
from curriculum.planner import MASTERED, plan_lesson, schedule_labs, validate_plan
from storage.store import Store
from tutor.errors import BadInput

log = logging.getLogger(__name__)

_PLAN_WORDS = re.compile(
    r"\b(make|create|build|give|get|plan\w*|study|studies|schedule|lesson|session|path|roadmap|road|map|learning|learn|"
    r"want|would|like|need|please|pls|can|could|you|me|my|for|i|i'd|i'm|im|to|a|an|the|of|on|in|and|with|have|got|"
    r"hours?|hrs?|minutes?|mins?|today|tonight|week|weekend|day|towards?|get|reach|understand|focus|about|do|what|"
    r"should|next|start|where|now|some|time|it|this|that|toward|up|be|is|are|by|\d+(\.\d+)?h?)\b",
    re.I,
)
CURSOR_KEY = "plan_cursor:{learner_id}"  # store kv: {"plan_id", "next"} (the item to give next)


def goal_text(text: str) -> str:
    """What is left of a plan request once the planning words are gone ("plan 2h towards attention" -> "attention")."""
    rest = _PLAN_WORDS.sub(" ", re.sub(r"[^\w\s.'-]", " ", text))
    return " ".join(w for w in rest.split() if len(w) > 2)


def named_topics(catalog: Catalog, text: str) -> list[str]:
    """Topics the text names by id or full title, else by the id's name part ("gpt" -> m8.gpt)."""
    low = text.lower()
    named = [
        t.id
        for t in catalog.topics.values()
        if re.search(r"(?<![\w.])" + re.escape(t.id) + r"(?![\w])", low)
        or re.search(r"\b" + re.escape(t.title.lower()) + r"\b", low)
    ]
    words = set(re.findall(r"[\w-]+", low))
    return named or [t for t in catalog.topics if t.split(".", 1)[-1] in words]


def goal_topics(catalog: Catalog, retriever: Any, goal: str | None) -> list[str]:
    """The goal's topics: at most two the text names, else the best retrieval hit; none without
    a goal. The text is cleaned of planning words first, so "towards GPT" and "GPT" agree."""
    if not goal or not goal.strip():
        return []
    text = goal_text(goal) or goal.strip()
    named = named_topics(catalog, text)[:2]
    if named:
        return named
    hits = retriever.search(text, k=3)
    tid = getattr(hits[0], "topic_id", None) if hits else None
    return [tid] if tid in catalog.topics else []


def _default_gpt_plan() -> Callable[..., dict[str, Any]]:
    from tutor.usecases.tasks import load_tasks

    return load_tasks().gpt_plan


def build_plan(
    llm: Any,
    catalog: Catalog,
    mastery: Mapping[str, float],
    due: list[str],
    hours: float,
    goals: list[str],
    *,
    gpt_plan: Callable[..., dict[str, Any]] | None = None,
    labs: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The plan for this learner state (not saved): the GPT's when valid, else the planner's."""
    if not 0 < hours <= 40:
        raise BadInput(f"hours must be between 0 and 40, got {hours}")
    write = gpt_plan or _default_gpt_plan()
    try:
        plan = dict(write(llm, catalog, mastery, hours, goals, due))
        problems = validate_plan(
            catalog, plan.get("items") or [], mastery, hours, goal_topics=goals, due_reviews=due
        )
    except Exception as e:  # the model failed: the rule planner still gives a valid plan
        log.warning("gpt_plan failed (%s); using the rule planner", e)
        plan, problems = {}, [f"model failed: {e}"]
    if problems:
        log.info("plan repaired by the rule planner: %s", problems)
        tried = plan.get("model_tried") or plan.get("model")
        plan = {
            **plan_lesson(catalog, mastery, hours, goal_topics=goals, due_reviews=due).to_dict(),
            "model": "rules",
            "model_tried": tried,
            "constraint": plan.get("constraint", "none"),
            "repaired": True,
            "repairs": [*(plan.get("repairs") or []), *problems],
        }
    plan.setdefault("constraint", "none")  # a rule-based writer has no decoder to hold
    ctx = ReasonContext(catalog, mastery, goals, due, practice_counts(catalog))
    items, replaced = annotate(ctx, plan.get("items") or [])  # the writer's reasons, checked
    if labs:  # a practice item that became a lab gets the lab's reason
        items = [
            {**i, "reason": reason_for(ctx, i)} if i.get("activity") == "lab" else i
            for i in schedule_labs(items, labs)
        ]
    sentence, progress = distance(ctx, items)
    plan.update(
        items=items,
        reasons_replaced=replaced,
        goal_topics=goals,
        goal_progress=progress,
        distance=sentence,
    )
    return plan


def make_plan(
    llm: Any,
    retriever: Any,
    store: Store,
    catalog: Catalog,
    learner_model: Any,
    learner_id: str,
    hours: float,
    goal: str | None = None,
    labs: Mapping[str, str] | None = None,
    *,
    gpt_plan: Callable[..., dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Make, save and return the learner's plan (``build_plan`` on the learner's progress).
    ``labs`` ({topic_id: lab_id} of labs the learner has not finished) turns a practice item on
    such a topic into a ``"lab"`` item (``curriculum.planner.schedule_labs``); ``gpt_plan``
    defaults to the graph's model task (``tutor.usecases.tasks.load_tasks``)."""
    if not 0 < hours <= 40:
        raise BadInput(f"hours must be between 0 and 40, got {hours}")
    progress = learner_model.progress(learner_id)
    goals = goal_topics(catalog, retriever, goal)
    plan = build_plan(
        llm, catalog, progress["mastery"], list(progress["due_reviews"]), hours, goals,
        gpt_plan=gpt_plan, labs=labs,
    )  # fmt: skip
    plan.update(plan_id=uuid.uuid4().hex[:12], learner_id=learner_id, hours=hours)
    if goal:
        plan["goal"] = goal_text(goal) or goal.strip()
    store.save_plan(learner_id, plan)
    store.set_kv(CURSOR_KEY.format(learner_id=learner_id), {"plan_id": plan["plan_id"], "next": 0})
    return plan


def item_done(item: Mapping[str, Any], mastery: Mapping[str, float], due: list[str]) -> bool:
    """A review is done once it is no longer due; any other item once its topic is mastered."""
    tid = str(item.get("topic_id"))
    if item.get("activity") == "review":
        return tid not in due
    return mastery.get(tid, 0.0) >= MASTERED


def next_item(store: Store, learner_model: Any, learner_id: str, plan: dict[str, Any]) -> int | None:
    """Index of the saved plan's next item that is not done, after the one given last time, or
    None when the plan is finished; moves the stored cursor past it."""
    key = CURSOR_KEY.format(learner_id=learner_id)
    cursor = store.get_kv(key) or {}
    start = int(cursor.get("next", 0)) if cursor.get("plan_id") == plan.get("plan_id") else 0
    progress = learner_model.progress(learner_id)
    mastery, due = progress["mastery"], list(progress["due_reviews"])
    items = plan.get("items") or []
    step = start
    while step < len(items) and item_done(items[step], mastery, due):
        step += 1
    store.set_kv(key, {"plan_id": plan.get("plan_id"), "next": step + 1 if step < len(items) else step})
    return step if step < len(items) else None
