"""The teacher view's computation (``tutor.usecases.cohort``) on a real SQLite store with three
learners: mastery grid, per-exercise and per-item pass rates with their most common failures,
stuck learners, due reviews, and the CSV table."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from curriculum.catalog import load_catalog
from curriculum.practice import bundled_practice
from storage.store import Store
from tutor.usecases.cohort import CSV_COLUMNS, cohort


def _item(items: dict[str, Any], kind: str) -> Any:
    return next(i for i in items.values() if i.kind == kind and i.topic_id == "m1.numpy")


@pytest.fixture(scope="module")
def items() -> dict[str, Any]:
    return bundled_practice()


@pytest.fixture
def tutor(tmp_path: Path, items: dict[str, Any]) -> Any:
    store = Store(f"sqlite:///{tmp_path / 'tutor.db'}")
    exercises = {"numpy-mean": SimpleNamespace(title="Mean of an array")}
    t = SimpleNamespace(store=store, catalog=load_catalog(), exercises=exercises,
                        practice=SimpleNamespace(items=items))  # fmt: skip
    mc, num = _item(items, "multiple_choice"), _item(items, "numeric")
    wrong = next(n for n, c in enumerate(mc.choices) if not c.correct)
    # ada: two failed attempts, then a pass; one lab step (evidence, not an exercise)
    store.add_attempt("ada", "numpy-mean", "m1.numpy", False, 0.0, {"tests": 2, "failed": ["mean", "edge"]})
    store.add_attempt("ada", "numpy-mean", "m1.numpy", False, 0.5, {"tests": 2, "failed": ["mean"]})
    store.add_attempt("ada", "numpy-mean", "m1.numpy", True, 1.0, {"tests": 2, "failed": []})
    store.add_attempt("ada", "lab:pandas-passengers/load", "m1.pandas", True, 1.0)
    store.set_mastery("ada", "m1.numpy", 0.9)
    store.set_mastery("ada", "m1.pandas", 0.4)
    # bob: three failed attempts, two wrong choices, a wrong number: stuck on m1.numpy
    for _ in range(3):
        store.add_attempt("bob", "numpy-mean", "m1.numpy", False, 0.0, {"tests": 2, "failed": ["mean"]})
    for _ in range(2):
        store.add_practice_answer("bob", mc.id, mc.topic_id, False, str(wrong), {"choice": wrong})
    store.add_practice_answer("bob", num.id, num.topic_id, False, "7", {"value": 7.0})
    store.set_mastery("bob", "m1.numpy", 0.2)
    store.set_card("bob", "m1.numpy", {"due": "x"}, datetime.now(UTC) - timedelta(days=1))
    store.set_card("bob", "m1.pandas", {"due": "x"}, datetime.now(UTC) + timedelta(days=3))
    # cy: one right answer
    store.add_practice_answer(
        "cy", mc.id, mc.topic_id, True, str(mc.right_choice), {"choice": mc.right_choice}
    )
    t.mc, t.num, t.wrong = mc, num, wrong
    return t


def test_mastery_grid_topics_in_curriculum_order_and_learners(tutor: Any) -> None:
    c = cohort(tutor)
    assert [t.id for t in c.topics] == ["m1.numpy", "m1.pandas"]  # the catalog's order, only topics with data
    assert c.mastery == {"ada": {"m1.numpy": 0.9, "m1.pandas": 0.4}, "bob": {"m1.numpy": 0.2}}
    by = {s.learner_id: s for s in c.learners}
    assert set(by) == {"ada", "bob", "cy"}
    assert (by["ada"].attempts, by["ada"].passed, by["ada"].topics_mastered) == (4, 2, 1)
    assert (by["bob"].answers, by["bob"].correct, by["cy"].correct) == (3, 0, 1)
    assert by["ada"].mean_mastery == 0.65 and by["cy"].mean_mastery is None


def test_exercise_pass_rate_and_most_common_failing_tests(tutor: Any) -> None:
    c = cohort(tutor)
    assert [e.item_id for e in c.exercises] == ["numpy-mean"]  # the lab step is not an exercise
    ex = c.exercises[0]
    assert (ex.attempts, ex.learners, ex.passed, ex.title) == (6, 2, 1, "Mean of an array")
    assert ex.pass_rate == round(1 / 6, 4)
    assert [(f.label, f.count) for f in ex.failures] == [("mean", 5), ("edge", 1)]


def test_practice_items_count_wrong_options_and_numbers(tutor: Any) -> None:
    c = cohort(tutor)
    by = {p.item_id: p for p in c.practice}
    mc = by[tutor.mc.id]
    assert (mc.attempts, mc.learners, mc.passed, mc.kind) == (3, 2, 1, "multiple_choice")
    assert [(f.label, f.count) for f in mc.failures] == [
        (f"option {tutor.wrong + 1}: {tutor.mc.choices[tutor.wrong].text}", 2)
    ]
    assert [(f.label, f.count) for f in by[tutor.num.id].failures] == [("7", 1)]
    assert c.practice[0].pass_rate <= c.practice[-1].pass_rate  # hardest first


def test_stuck_needs_failures_in_a_row_and_days_without_progress(tutor: Any) -> None:
    assert cohort(tutor).stuck == []  # bob started today: not N days without progress yet
    later = datetime.now(UTC) + timedelta(days=8)
    stuck = cohort(tutor, now=later).stuck
    assert [(s.learner_id, s.topic_id, s.failures, s.last_success) for s in stuck] == [
        ("bob", "m1.numpy", 6, None)  # 3 attempts + 3 wrong answers; ada passed, so she is not stuck
    ]
    assert cohort(tutor, stuck_days=0, min_failures=7).stuck == []
    assert [s.learner_id for s in cohort(tutor, stuck_days=0).stuck] == ["bob"]
    with pytest.raises(ValueError):
        cohort(tutor, min_failures=0)


def test_due_reviews_per_learner(tutor: Any) -> None:
    by = {s.learner_id: s for s in cohort(tutor).learners}
    assert [d.topic_id for d in by["bob"].due] == ["m1.numpy"]  # m1.pandas is due in 3 days
    assert by["ada"].due == []


def test_json_and_csv_have_all_sections(tutor: Any) -> None:
    c = cohort(tutor)
    json.dumps(c.to_dict())
    rows = list(csv.DictReader(io.StringIO(c.to_csv())))
    assert list(rows[0].keys()) == CSV_COLUMNS
    sections = [r["section"] for r in rows]
    assert {s: sections.count(s) for s in set(sections)} == {
        "learner": 3, "mastery": 3, "exercise": 1, "practice": 2, "due": 1,
    }  # fmt: skip
    ex = next(r for r in rows if r["section"] == "exercise")
    assert (ex["item_id"], ex["attempts"], ex["passed"], ex["detail"]) == (
        "numpy-mean",
        "6",
        "1",
        "mean (5); edge (1)",
    )
    only = list(csv.DictReader(io.StringIO(c.to_csv("due"))))
    assert [(r["learner_id"], r["topic_id"]) for r in only] == [("bob", "m1.numpy")]


def test_csv_cells_never_start_a_formula(tutor: Any) -> None:
    tutor.store.add_attempt("=cmd()", "numpy-mean", "m1.numpy", False, 0.0, {"failed": []})
    text = cohort(tutor).to_csv()
    assert "'=cmd()" in text and ",=cmd()" not in text and "\n=cmd()" not in text
