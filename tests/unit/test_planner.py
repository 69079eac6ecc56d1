import random

import pytest

from curriculum.catalog import load_catalog
from curriculum.planner import MASTERED, plan_lesson, validate_plan

CAT = load_catalog()


def _items(plan):  # type: ignore[no-untyped-def]
    return plan.to_dict()["items"]


def test_new_learner_starts_at_the_roots_and_fills_the_hours() -> None:
    plan = plan_lesson(CAT, {}, 3)
    items = _items(plan)
    assert items[0]["topic_id"] == "m1.numpy"
    assert sum(i["minutes"] for i in items) <= 180
    assert sum(i["minutes"] for i in items) >= 180 - 15
    assert validate_plan(CAT, items, {}, 3) == []


def test_goal_directed_plan_puts_unmet_prerequisites_first() -> None:
    mastery = {t: 0.95 for t in CAT.ancestors("m8.transformer-architecture")}
    plan = plan_lesson(CAT, mastery, 4, goal_topics=["m8.gpt"])
    ids = [i["topic_id"] for i in _items(plan)]
    assert ids[:2] == ["m8.transformer-architecture", "m8.gpt"]
    assert all(t in CAT.ancestors("m8.gpt") | {"m8.gpt"} for t in ids)


def test_due_reviews_come_first_and_are_capped() -> None:
    due = ["m1.numpy", "m1.pandas", "m2.calculus", "m2.probability", "m3.eda"]
    plan = plan_lesson(CAT, {t: 0.9 for t in due}, 1, due_reviews=due)
    reviews = [i for i in _items(plan) if i["activity"] == "review"]
    assert reviews and sum(i["minutes"] for i in reviews) <= 15
    assert _items(plan)[0]["activity"] == "review"


def test_everything_mastered_gives_an_empty_plan_that_says_so() -> None:
    plan = plan_lesson(CAT, {t: 1.0 for t in CAT.topics}, 2)
    assert plan.items == [] and "mastered" in plan.rationale


@pytest.mark.parametrize("hours", [0, -1, 100])
def test_absurd_hours_are_refused(hours: float) -> None:
    with pytest.raises(ValueError, match="hours"):
        plan_lesson(CAT, {}, hours)


def test_random_learner_states_always_give_valid_plans() -> None:
    rng = random.Random(0)
    for _ in range(200):
        mastery = {t: rng.random() for t in CAT.topics if rng.random() < 0.5}
        hours = rng.choice([0.5, 1, 2, 3, 6])
        goal = [rng.choice(list(CAT.topics))] if rng.random() < 0.5 else []
        plan = plan_lesson(CAT, mastery, hours, goal_topics=goal)
        assert validate_plan(CAT, _items(plan), mastery, hours) == []


@pytest.mark.parametrize(
    "items,problem",
    [
        ([{"topic_id": "m9.nope", "activity": "study", "minutes": 30}], "unknown topic"),
        ([{"topic_id": "m8.gpt", "activity": "study", "minutes": 30}], "before its prerequisites"),
        ([{"topic_id": "m1.numpy", "activity": "dance", "minutes": 30}], "activity"),
        ([{"topic_id": "m1.numpy", "activity": "study", "minutes": 0}], "minutes"),
        ([{"topic_id": "m1.numpy", "activity": "study", "minutes": 500}], "learner has"),
        ([{"topic_id": "m1.numpy", "activity": "study", "minutes": 20}] * 2, "twice"),
    ],
)
def test_validate_plan_names_each_problem(items, problem: str) -> None:  # type: ignore[no-untyped-def]
    problems = validate_plan(CAT, items, {}, 2)
    assert any(problem in p for p in problems), problems


def test_mastered_prerequisites_unlock_a_topic() -> None:
    mastery = {p: MASTERED for p in CAT.ancestors("m8.gpt")}
    assert validate_plan(CAT, [{"topic_id": "m8.gpt", "activity": "study", "minutes": 30}], mastery, 1) == []
