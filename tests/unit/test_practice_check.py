"""Checking answers (``curriculum/practice_check.py``) and what an answer does to mastery
(``curriculum/practice_progress.py``). Short answers use a fake embedder here; the measured
threshold is exercised with the real model in tests/integration/test_practice_loop.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from curriculum.learner import BKTParams, bkt_update
from curriculum.practice import load_file
from curriculum.practice_check import AnswerError, check_answer, choice_index, measure, read_number
from curriculum.practice_progress import item_params, rating

ITEMS = {
    i.id: i
    for i in load_file(Path(__file__).resolve().parents[1] / "data" / "practice" / "m2.attention-math.yaml")
}
MC, NUM, SHORT, CODE = (ITEMS[k] for k in ("fixture-softmax-rows", "fixture-scale-variance",
                                            "fixture-explain-mask", "fixture-row-softmax-code"))  # fmt: skip


def word_embed(texts: Sequence[str]) -> np.ndarray:
    """Bag of words over a tiny vocabulary: answers sharing the model answer's words are close."""
    vocab = ["future", "later", "token", "see", "peek", "cheat", "predict", "faster", "softmax", "negative"]
    out = np.array([[float(w in t.lower()) for w in vocab] + [0.1] for t in texts])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.mark.parametrize(("answer", "index"), [(0, 0), ("2", 2), ("each row", 0), ("  Each   ROW. ", 0),
                                               ("column", 1), ("the whole matrix", 2)])  # fmt: skip
def test_choice_by_index_or_text(answer: object, index: int) -> None:
    assert choice_index(MC, answer) == index


@pytest.mark.parametrize("answer", [3, -1, "each diagonal", True, 1.5])
def test_unreadable_choice_is_an_answer_error(answer: object) -> None:
    with pytest.raises(AnswerError):
        choice_index(MC, answer)


def test_wrong_choice_gets_that_options_feedback() -> None:
    v = check_answer(MC, "each column")
    assert not v.correct and v.feedback == MC.choices[1].feedback
    assert check_answer(MC, 0).correct


@pytest.mark.parametrize(("answer", "ok"), [(1, True), ("1.0", True), (1.009, True), ("1.02", False),
                                            ("4/4", True), ("100%", True), ("the variance is 1", True),
                                            (16, False), ("0.25", False)])  # fmt: skip
def test_numeric_within_tolerance(answer: object, ok: bool) -> None:
    assert check_answer(NUM, answer).correct is ok


@pytest.mark.parametrize("answer", ["", "  ", "one", "1 or 2", float("nan"), None, [1]])
def test_unreadable_numbers_are_refused(answer: object) -> None:
    with pytest.raises(AnswerError):
        check_answer(NUM, answer)


def test_read_number_of_a_percentage_tries_both_readings() -> None:
    assert read_number("25%") == [25.0, 0.25] and read_number("1e-3") == [0.001]


def test_short_answer_needs_key_points_and_meaning() -> None:
    ok = check_answer(SHORT, "so a token cannot peek at the future token it must predict", embed=word_embed)
    assert ok.correct and ok.details["points"] == 2
    missing = check_answer(SHORT, "to make training faster", embed=word_embed)
    assert not missing.correct and "key point" in missing.feedback
    # the key words alone, in an answer that means something else, are not enough
    words_only = check_answer(SHORT, "look after the negative softmax numbers", embed=word_embed)
    assert not words_only.correct


def test_exact_string_is_not_required() -> None:
    assert check_answer(SHORT, SHORT.model_answer.upper(), embed=word_embed).correct


def test_code_answers_go_to_the_grader() -> None:
    seen = []

    def grade(item_id: str, code: str) -> SimpleNamespace:
        seen.append((item_id, code))
        return SimpleNamespace(passed=False, feedback="1 of 2 tests passed", status="ok", score=0.5)

    v = check_answer(CODE, "def row_softmax(s): return s", grade_code=grade)
    assert (
        not v.correct
        and v.feedback == "1 of 2 tests passed"
        and seen == [(CODE.id, "def row_softmax(s): return s")]
    )
    with pytest.raises(RuntimeError, match="sandbox"):
        check_answer(CODE, "x = 1")


def test_measure_separates_right_from_wrong_examples() -> None:
    result = measure(list(ITEMS.values()), word_embed)
    assert result["examples"] == 4 and result["right"] == 2 and result["wrong"] == 2
    assert result["balanced_accuracy"] == 1.0 and 0.0 <= result["threshold"] < 1.0


# --- evidence weights ---
TOPIC = BKTParams(p_transit=0.15)


def test_item_evidence_is_weaker_than_an_exercise_and_depends_on_kind() -> None:
    mc, num = item_params(MC, TOPIC), item_params(NUM, TOPIC)
    assert mc.p_guess == pytest.approx(1 / 3) and num.p_guess == 0.2
    assert mc.p_transit == num.p_transit == pytest.approx(0.075)
    p = 0.3
    assert bkt_update(p, True, TOPIC) > bkt_update(p, True, mc)  # an exercise moves more than an MC item
    assert bkt_update(p, True, num) > bkt_update(p, True, mc)  # a number is harder to guess
    for item in ITEMS.values():  # an exercise always counts more than any item
        for q in (0.1, 0.3, 0.6, 0.9):
            assert bkt_update(q, True, TOPIC) > bkt_update(q, True, item_params(item, TOPIC))
    assert bkt_update(p, True, item_params(MC, TOPIC, hinted=True)) < bkt_update(p, True, mc)


def test_plain_bkt_would_raise_a_low_mastery_after_a_miss() -> None:
    """Why record_answer clamps: on a short topic the learning transition outweighs the miss."""
    short_topic = BKTParams(p_transit=0.25)
    assert bkt_update(0.1, False, item_params(NUM, short_topic)) > 0.1


def test_ratings() -> None:
    assert (rating(True, False), rating(True, True), rating(False, False)) == (3, 2, 1)
    assert replace(TOPIC).p_slip == 0.1
