"""The learner-record reads (tutor/usecases/learner_records.py) the chat's nodes and the facade use
instead of the store: mastery, passed exercises, attempt count, the saved plan with the defaults
of plans saved before ``model``/``constraint`` existed, chat threads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.store import Store
from tutor.usecases import learner_records as records


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'tutor.db'}")
    yield s
    s.close()


def test_mastery_and_topic_mastery(store: Store) -> None:
    assert records.mastery(store, "ann") == {}
    assert records.topic_mastery(store, "ann", "m1.python") == 0.0
    store.ensure_learner("ann")
    store.set_mastery("ann", "m1.python", 0.7)
    assert records.mastery(store, "ann") == {"m1.python": pytest.approx(0.7)}
    assert records.topic_mastery(store, "ann", "m1.python") == pytest.approx(0.7)
    assert records.mastery(store, "bob") == {}


def test_passed_exercises_and_attempt_count(store: Store) -> None:
    store.add_attempt("ann", "ex1", "m1.python", False, 0.2)
    store.add_attempt("ann", "ex1", "m1.python", True, 1.0)
    store.add_attempt("ann", "ex2", "m1.python", False, 0.0)
    store.add_attempt("bob", "ex3", "m1.python", True, 1.0)
    assert records.passed_exercises(store, "ann") == {"ex1"}
    assert records.attempt_count(store, "ann") == 3
    assert records.attempt_count(store, "cy") == 0


def test_saved_plan_fills_the_fields_older_plans_lack(store: Store) -> None:
    assert records.saved_plan(store, "ann") is None
    store.ensure_learner("ann")
    store.save_plan("ann", {"plan_id": "p1", "items": []})  # saved before model/constraint
    assert records.saved_plan(store, "ann") == {
        "plan_id": "p1", "items": [], "model": "rules", "constraint": "none"
    }  # fmt: skip
    store.save_plan("ann", {"plan_id": "p2", "items": [], "model": "gpt-1"})
    assert records.saved_plan(store, "ann")["constraint"] == "unknown"  # type: ignore[index]
    store.save_plan("ann", {"plan_id": "p3", "items": [], "model": "gpt-1", "constraint": "grammar"})
    assert records.saved_plan(store, "ann")["constraint"] == "grammar"  # type: ignore[index]


def test_threads_are_the_learners_own(store: Store) -> None:
    store.add_thread("t1", "ann", "about loops")
    store.add_thread("t2", "bob", "about trees")
    assert [t["thread_id"] for t in records.threads(store, "ann")] == ["t1"]
    assert records.threads(store, "cy") == []
