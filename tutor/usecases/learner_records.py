"""Reads of what the tutor has kept about one learner: mastery per topic, attempts, passed
exercises, the saved plan and chat threads.

The chat's nodes (``tutor/agent/nodes``) and the facade (``Tutor``) read these through here, not
through the store, so a read that needs a rule (a plan saved before some fields existed gets their
defaults) has it in one place, and the store stays behind the use-case layer
(``tests/unit/test_layers.py``). Writes stay where their rules are: attempts and reviews in
``curriculum.learner.LearnerModel``, plans in ``tutor.usecases.planning``.
"""

from __future__ import annotations

from typing import Any

from storage.store import Store


def mastery(store: Store, learner_id: str) -> dict[str, float]:
    """The learner's mastery (BKT ``p``) per topic they have any record in; ``{}`` for none."""
    return dict(store.get_mastery(learner_id))


def topic_mastery(store: Store, learner_id: str, topic_id: str) -> float:
    """The learner's mastery of one topic, 0.0 before any record."""
    return float(mastery(store, learner_id).get(topic_id, 0.0))


def passed_exercises(store: Store, learner_id: str) -> set[str]:
    """The ids of the exercises the learner has passed at least once."""
    return {a["exercise_id"] for a in store.attempts(learner_id) if a["passed"]}


def attempt_count(store: Store, learner_id: str) -> int:
    """How many graded attempts the learner has made, passed or not."""
    return len(store.attempts(learner_id))


def saved_plan(store: Store, learner_id: str) -> dict[str, Any] | None:
    """The learner's newest saved plan (the plan shape of docs/contract.md), or None. A plan saved
    before ``model``/``constraint`` existed was written by the rule planner, so it gets
    ``model="rules"`` and ``constraint="none"`` (``"unknown"`` for a model's plan)."""
    plan = store.get_plan(learner_id)
    if plan is None:
        return None
    plan.setdefault("model", "rules")
    plan.setdefault("constraint", "none" if plan["model"] == "rules" else "unknown")
    return plan


def threads(store: Store, learner_id: str) -> list[dict[str, Any]]:
    """The learner's chat threads, newest first: ``[{"thread_id", "title", "created"}]``."""
    return list(store.list_threads(learner_id))
