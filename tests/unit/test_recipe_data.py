"""tutor/llm/recipe_data.py: the learner states the plan task is trained and evaluated on."""

from __future__ import annotations

import random

import pytest

from curriculum.catalog import load_catalog
from tutor.llm.recipe_data import DUE_SHARE, GOAL_SHARE, plan_examples, random_learner

CAT = load_catalog()


def _shares(states: list[dict]) -> tuple[float, float]:
    return (
        sum(bool(s["goal_topics"]) for s in states) / len(states),
        sum(bool(s["due"]) for s in states) / len(states),
    )


def test_learners_have_goals_and_due_reviews_in_the_evaluations_mix_by_default() -> None:
    rng = random.Random(1)
    goals, due = _shares([random_learner(CAT, rng) for _ in range(2000)])
    # a goal needs an open topic and reviews a mastered one, so the shares are at most the odds
    assert GOAL_SHARE - 0.05 < goals <= GOAL_SHARE + 0.03
    assert 0.1 < due <= DUE_SHARE + 0.03


def test_the_training_mix_can_lean_on_goals_and_reviews() -> None:
    rng = random.Random(2)
    goals, due = _shares([random_learner(CAT, rng, goal_share=0.6, due_share=0.5) for _ in range(2000)])
    assert goals > 0.5 and due > 0.2  # reviews need a mastered topic, which many beginners lack
    none = [random_learner(CAT, rng, goal_share=0.0, due_share=0.0) for _ in range(200)]
    assert _shares(none) == (0.0, 0.0)


@pytest.mark.parametrize("goal_share", [0.0, 1.0])
def test_plan_examples_show_the_goals_path_exactly_when_there_is_a_goal(goal_share: float) -> None:
    examples = plan_examples(CAT, 30, random.Random(3), goal_share=goal_share, due_share=0.0)
    with_goal = [e for e in examples if "goal: -" not in e.user]
    assert len(with_goal) == (0 if goal_share == 0.0 else 30)
    for e in with_goal:
        path = next(line for line in e.user.splitlines() if line.startswith("path: "))[6:].split()
        first = e.assistant.splitlines()[0].split()[0]
        assert first in path  # the planner's first item for a goal is on its path
