"""Making a learner's lesson plan: the goal text is matched to topics by retrieval, the GPT
writes the plan (validated and, where wrong, repaired by the rule-based planner), and the plan is
saved. Shared by the service and the agent's plan node."""

from __future__ import annotations

from typing import Any

from curriculum.catalog import Catalog
from curriculum.store import Store


def goal_topics(retriever: Any, goal: str | None, k: int = 5) -> list[str]:
    """The topic the goal text is most about (by hybrid retrieval), or none without a goal."""
    if not goal or not goal.strip():
        return []
    hits = retriever.search(goal, k=k)
    return [hits[0].topic_id] if hits else []


def make_plan(
    llm: Any,
    retriever: Any,
    store: Store,
    catalog: Catalog,
    learner_model: Any,
    learner_id: str,
    hours: float,
    goal: str | None = None,
    labs: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``labs`` ({topic_id: lab_id} of labs the learner has not finished) turns a practice item on
    such a topic into a ``"lab"`` item (``curriculum.planner.schedule_labs``)."""
    from curriculum.planner import schedule_labs
    from tutor.llm.tasks import gpt_plan

    if not 0 < hours <= 40:
        raise ValueError(f"hours must be between 0 and 40, got {hours}")
    progress = learner_model.progress(learner_id)
    plan = dict(
        gpt_plan(
            llm, catalog, progress["mastery"], hours, goal_topics(retriever, goal), progress["due_reviews"]
        )
    )
    if labs:
        plan["items"] = schedule_labs(plan.get("items") or [], labs)
    plan["learner_id"] = learner_id
    plan["hours"] = hours
    if goal:
        plan["goal"] = goal
    store.save_plan(learner_id, plan)
    return plan
