"""The learner model: BKT mastery updates and FSRS review scheduling, kept in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from curriculum.catalog import load_catalog
from curriculum.learner import BKTParams, LearnerModel, bkt_update, default_params, rating_for
from storage.store import Store


@pytest.fixture
def model(tmp_path: Path) -> LearnerModel:
    store = Store(f"sqlite:///{tmp_path / 'tutor.db'}")
    yield LearnerModel(store, load_catalog())
    store.close()


def test_bkt_worked_example() -> None:
    # docstring example: prior 0.1, correct, T 0.15, s 0.1, g 0.2 -> 0.333 posterior -> 0.433
    p = bkt_update(0.1, True, BKTParams(p_init=0.1, p_transit=0.15, p_slip=0.1, p_guess=0.2))
    assert p == pytest.approx(0.4333, abs=1e-4)


def test_bkt_incorrect_lowers_and_correct_raises() -> None:
    params = BKTParams(p_transit=0.0)
    assert bkt_update(0.5, False, params) < 0.5 < bkt_update(0.5, True, params)


def test_bkt_params_are_validated() -> None:
    with pytest.raises(ValueError, match="p_slip \\+ p_guess < 1"):
        BKTParams(p_slip=0.6, p_guess=0.5)
    with pytest.raises(ValueError, match="p_init must be in 0..1"):
        BKTParams(p_init=1.5)


def test_longer_topics_learn_more_slowly() -> None:
    assert default_params(300).p_transit < default_params(60).p_transit


def test_rating_for_attempts() -> None:
    assert [rating_for(True, 1.0), rating_for(False, 0.5), rating_for(False, 0.2)] == [3, 2, 1]


def test_record_attempt_updates_store_mastery_and_card(model: LearnerModel) -> None:
    out = model.record_attempt("ann", "numpy-double", "m1.numpy", False, 0.0)
    p_fail = out["mastery"]
    assert p_fail == model.store.get_mastery("ann")["m1.numpy"]
    out2 = model.record_attempt("ann", "numpy-double", "m1.numpy", True, 1.0)
    assert out2["mastery"] > p_fail
    prog = model.progress("ann")
    assert set(prog) == {"learner_id", "mastery", "attempts", "due_reviews"}
    assert [a["passed"] for a in prog["attempts"]] == [False, True]
    card = model.store.get_card("ann", "m1.numpy")
    assert card is not None and card["last_review"]


def test_failed_attempt_is_due_for_review_sooner_than_a_pass(model: LearnerModel) -> None:
    fail = datetime.fromisoformat(model.record_attempt("ann", "x", "m1.numpy", False, 0.0)["due"])
    ok = datetime.fromisoformat(model.record_attempt("bob", "x", "m1.numpy", True, 1.0)["due"])
    assert fail < ok
    assert model.due_reviews("ann") == []  # not due yet: reviews are day-granular
    assert model.due_reviews("ann", datetime.now(UTC) + timedelta(days=2)) == ["m1.numpy"]


def test_self_check_reschedules_without_changing_mastery(model: LearnerModel) -> None:
    model.record_attempt("ann", "x", "m1.numpy", True, 1.0)
    before_p = model.store.get_mastery("ann")["m1.numpy"]
    before_due = model.store.get_card("ann", "m1.numpy")["due"]
    out = model.record_self_check("ann", "m1.numpy", 4)
    assert out["due"] > before_due
    assert model.store.get_mastery("ann")["m1.numpy"] == before_p
    with pytest.raises(ValueError, match="rating must be 1"):
        model.record_self_check("ann", "m1.numpy", 5)


def test_bad_input_is_refused_before_anything_is_written(model: LearnerModel) -> None:
    with pytest.raises(LookupError, match="m1.numpyy"):
        model.record_attempt("ann", "x", "m1.numpyy", True, 1.0)
    with pytest.raises(ValueError, match="score must be in 0..1"):
        model.record_attempt("ann", "x", "m1.numpy", True, 1.5)
    assert model.store.attempts("ann") == []


def test_per_topic_parameters_are_used(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    fast = LearnerModel(store, load_catalog(), params={"m1.numpy": BKTParams(p_init=0.5, p_transit=0.5)})
    assert fast.record_attempt("ann", "x", "m1.numpy", True, 1.0)["mastery"] > 0.9
    assert fast.record_attempt("ann", "x", "m1.pandas", True, 1.0)["mastery"] < 0.6
    store.close()


def test_learners_do_not_share_progress(model: LearnerModel) -> None:
    model.record_attempt("ann", "x", "m1.numpy", True, 1.0)
    assert model.progress("bob") == {"learner_id": "bob", "mastery": {}, "attempts": [], "due_reviews": []}


def test_next_review(model: LearnerModel) -> None:
    assert model.next_review("ann") is None
    model.record_attempt("ann", "x", "m1.pandas", True, 1.0)
    model.record_attempt("ann", "x", "m1.numpy", False, 0.0)
    topic, when = model.next_review("ann")
    assert topic == "m1.numpy" and when > datetime.now(UTC)
