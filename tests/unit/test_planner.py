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


# --- goal path, reasons, distance (curriculum/plan_reasons.py) ---
def test_beginner_plan_towards_gpt_stays_on_the_goal_path_in_order() -> None:
    from curriculum.plan_reasons import ReasonContext, distance, goal_path, practice_counts

    due = ["m1.visualization"]  # a due review off the path may come first; nothing else off it
    mastery = {"m1.visualization": 0.9}
    plan = plan_lesson(CAT, mastery, 3, goal_topics=["m8.gpt"], due_reviews=due)
    items = _items(plan)
    path = goal_path(CAT, mastery, ["m8.gpt"])
    assert len(path) == 21 and path[-1] == "m8.gpt" and "m1.visualization" not in path
    assert items[0] == {"topic_id": "m1.visualization", "activity": "review", "minutes": 15,
                        "reason": "review: due today"}  # fmt: skip
    studied = [i["topic_id"] for i in items[1:]]
    assert studied == path[: len(studied)] and len(studied) >= 3  # the path's first topics, in order
    assert all(i["reason"] for i in items)
    ctx = ReasonContext(CAT, mastery, ["m8.gpt"], due, practice_counts(CAT))
    sentence, rows = distance(ctx, items)
    assert sentence == f"GPT models is 20 topics away; this plan covers the first {len(studied)}."
    assert rows[0]["topics_away"] == 20 and rows[0]["covered"] == len(studied)
    assert validate_plan(CAT, items, mastery, 3, goal_topics=["m8.gpt"], due_reviews=due) == []


def test_validate_plan_with_a_goal_refuses_topics_off_its_path_and_reviews_not_due() -> None:
    items = [{"topic_id": "m1.numpy", "activity": "study", "minutes": 30},
             {"topic_id": "m1.pandas", "activity": "study", "minutes": 30},
             {"topic_id": "m1.visualization", "activity": "study", "minutes": 30},
             {"topic_id": "m2.calculus", "activity": "review", "minutes": 15}]  # fmt: skip
    problems = validate_plan(CAT, items, {}, 2, goal_topics=["m8.gpt"], due_reviews=[])
    assert len(problems) == 2, problems
    assert any("m1.visualization is not on the path" in p for p in problems)
    assert any("m2.calculus is not due" in p for p in problems)
    assert validate_plan(CAT, items, {}, 2) == []  # without a goal or due list: as before


def test_reasons_are_checked_against_the_learner_state() -> None:
    from curriculum.plan_reasons import ReasonContext, annotate, reason_for, reason_is_true

    mastery = {"m1.numpy": 0.5, "m1.pandas": 0.4}
    ctx = ReasonContext(CAT, mastery, (), ["m2.calculus"], {"m1.numpy": 8})
    practice = {"topic_id": "m1.numpy", "activity": "practice", "minutes": 30}
    assert reason_for(ctx, practice) == "practice: 8 questions on NumPy; 50% mastered, not yet 80%"
    pandas = {"topic_id": "m1.pandas", "activity": "study", "minutes": 30}
    assert reason_for(ctx, pandas) == "weakest topic in module 1 (40% mastered)"
    assert reason_is_true(ctx, practice, "Practice: 8 questions on numpy")
    assert not reason_is_true(ctx, practice, "practice: 9 questions on NumPy")
    assert not reason_is_true(ctx, practice, "weakest topic in module 1 (50% mastered)")  # pandas is
    assert not reason_is_true(ctx, practice, "because it is fun")  # nothing checkable: not trusted
    review = {"topic_id": "m2.calculus", "activity": "review", "minutes": 15, "reason": "review: due today"}
    wrong = {"topic_id": "m1.pandas", "activity": "review", "minutes": 15, "reason": "review: due today"}
    out, replaced = annotate(ctx, [review, wrong, pandas])
    assert replaced == 1 and out[0]["reason"] == "review: due today"
    assert out[1]["reason"] == "review: not due yet"  # the false claim is replaced by the truth
    assert out[2]["reason"] == "weakest topic in module 1 (40% mastered)"  # filled in, not counted


def test_random_states_with_due_reviews_and_goals_give_plans_valid_on_the_goal_path() -> None:
    rng = random.Random(1)
    for _ in range(200):
        mastery = {t: rng.random() for t in CAT.topics if rng.random() < 0.5}
        due = [t for t in mastery if rng.random() < 0.2]  # due reviews may be of unmastered topics
        goal = [rng.choice(list(CAT.topics))] if rng.random() < 0.7 else []
        hours = rng.choice([0.5, 1, 2, 3, 6])
        items = _items(plan_lesson(CAT, mastery, hours, goal_topics=goal, due_reviews=due))
        assert validate_plan(CAT, items, mastery, hours, goal_topics=goal, due_reviews=due) == []
    twice = [{"topic_id": "m1.numpy", "activity": "review", "minutes": 15}] * 2
    assert any("twice" in p for p in validate_plan(CAT, twice, {"m1.numpy": 0.9}, 1))


def test_the_planners_items_after_reviews_are_a_prefix_of_the_study_path() -> None:
    # the plan prompt shows this path to the model: copying its start, timed, is the planner's plan
    from curriculum.plan_reasons import goal_path, study_path

    rng = random.Random(2)
    for _ in range(300):
        mastery = {t: rng.random() for t in CAT.topics if rng.random() < 0.5}
        goal = [rng.choice(list(CAT.topics))] if rng.random() < 0.5 else []
        items = _items(plan_lesson(CAT, mastery, rng.choice([0.5, 2, 6]), goal_topics=goal))
        path = study_path(CAT, mastery, goal)
        studied = [i["topic_id"] for i in items if i["activity"] != "review"]
        assert studied == path[: len(studied)]
        assert path == (goal_path(CAT, mastery, goal) if goal else
                        [t for t in CAT.topological_order() if mastery.get(t, 0.0) < MASTERED])  # fmt: skip
