"""The Learn tab's practice panel: it builds, asks without answers, checks, hints, and the
mastery colours the tab shows move after an answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from curriculum.learner import LearnerModel
from curriculum.practice import load_practice
from tests.ui_helpers import fake_tutor
from tests.unit.test_practice_api import DATA, fake_grade, word_embed
from tutor.service import Tutor
from tutor.usecases.practice import Practice
from tutor.web.ui import build_ui
from tutor.web.ui.learn import LearnHandlers
from tutor.web.ui.practice import PracticeHandlers

TOPIC = "m2.attention-math"


@pytest.fixture
def tutor(tmp_path: Path) -> Tutor:
    t = fake_tutor(tmp_path / "var")
    learner = LearnerModel(t.store, t.catalog)
    t.__dict__["learner_model"] = learner
    t.__dict__["practice"] = Practice(
        load_practice(DATA), t.catalog, learner, embed=word_embed, grade_code=fake_grade
    )
    return t


def test_ui_builds_with_the_practice_panel(tutor: Tutor) -> None:
    ui = build_ui(tutor)
    names = {getattr(f.fn, "__name__", "") for f in ui.fns.values()}
    assert {"start", "check", "hint", "give_up", "review"} <= names


def test_practice_asks_checks_and_the_colours_move(tutor: Tutor) -> None:
    h = PracticeHandlers(tutor)
    assert h.topic_choices() == [("m2 · The mathematics of attention", TOPIC)]
    before = LearnHandlers(tutor).view("ann")[0]
    item, question, radio, text, code, result = h.start("ann", TOPIC)
    assert item and item["id"] == "fixture-softmax-rows" and radio["visible"] and not text["visible"]
    assert "each row" in radio["choices"] and "Right" not in question and "correct" not in str(item)
    item, hint = h.hint(item)
    assert item is not None and item["hinted"] and hint == "💡 Softmax normalises over the keys of one query."
    left, shown = h.check("ann", item, "each row", "", "")
    assert left is None and "Right!" in shown and "Mastery: 10% →" in shown
    after = LearnHandlers(tutor).view("ann")[0]
    assert after != before and "The mathematics of attention: started (" in after


def test_empty_and_unreadable_answers_keep_the_question(tutor: Tutor) -> None:
    h = PracticeHandlers(tutor)
    item = h.start("ann", TOPIC)[0]
    assert h.check("ann", item, None, "", "")[0] == item
    num = h.show(
        tutor.practice.next_item("ann", TOPIC) | {"kind": "numeric", "id": "fixture-scale-variance"}
    )[0]
    kept, msg = h.check("ann", num, None, "lots", "")
    assert kept == num and msg.startswith("⚠")


def test_review_now_takes_the_due_topic(tutor: Tutor) -> None:
    h = PracticeHandlers(tutor)
    assert "No reviews due" in h.review("ann")[1]
    tutor.practice.answer("ann", "fixture-softmax-rows", 0)
    card = tutor.store.get_card("ann", TOPIC)
    assert card is not None
    tutor.store.set_card("ann", TOPIC, card, datetime.now(UTC) - timedelta(days=1))
    assert "The mathematics of attention" in h.queue_md("ann")
    item = h.review("ann")[0]
    assert item and item["reason"] == "review"
