"""How an answered practice item moves mastery (BKT) and the topic's review (FSRS).

An item is weaker evidence than an exercise, and how much weaker depends on how easy it is to be
right without knowing (BKT's guess) or wrong while knowing (slip). Starting from the topic's
exercise parameters (``curriculum.learner.default_params``):

=================  ===========================  ======  =========================================
kind               p_guess                      p_slip  why
=================  ===========================  ======  =========================================
multiple_choice    1 / options, at least 0.25   0.10    a blind pick is right that often
numeric            0.20                         0.10    hard to hit blindly, but a half-right
                                                        method often lands within the tolerance
short_answer       0.25                         0.15    the checker can accept a vague answer and
                                                        reject a right one in unusual words
code               0.25                         0.10    a few lines against a few fixed tests
exercise (ref.)    0.20                         0.10    ``BKTParams`` defaults
=================  ===========================  ======  =========================================

The learning transition is HALF the topic's (``PRACTICE_TRANSIT``): an item takes a minute, an
exercise a quarter of an hour. With a guess at least the exercise's, a right exercise always
moves mastery more than a right item (tests/unit/test_practice_check.py checks it); a wrong
multiple-choice answer is strong evidence of not knowing (slip 0.1). From the default 0.1 on a
150-minute topic, right multiple-choice answers (3 options) give 0.29, 0.56, 0.79, 0.92, ...:
the fourth passes ``MASTERED`` (0.8). Mastery from items is capped at ``MAX_MASTERY`` (0.99) so
a later miss always shows (BKT at 0.9999 would barely move).

A wrong answer never raises mastery: plain BKT applies the learning transition after a miss
too, which lifts a low mastery (0.10 -> 0.16 on a 90-minute topic) and reads as a bug to a learner.
A right answer after a hint counts with p_guess raised to 0.5 (the hint did part of the work).

Limits: none of these numbers is fitted. Fitting guess/slip/transit per item needs many learners'
answer sequences (EM or a grid search on logged ``practice_answers``), which a new tutor does not
have; the table is a stated prior, to be replaced by fitted values when the data exists.

FSRS: every answer rates the topic's one review card (right 3 good, right with a hint 2 hard,
wrong or "I don't know" 1 again), so the next review of the topic is scheduled from it. A skipped
item is no evidence and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from curriculum.learner import BKTParams, LearnerModel, bkt_update
from curriculum.practice import PracticeItem

log = logging.getLogger(__name__)
PRACTICE_TRANSIT = 0.5  # share of the topic's learning transition one item is worth
HINT_GUESS = 0.5
MAX_MASTERY = 0.99
_GUESS = {"numeric": 0.2, "short_answer": 0.25, "code": 0.25}
_SLIP = {"short_answer": 0.15}


def item_params(item: PracticeItem, topic: BKTParams, *, hinted: bool = False) -> BKTParams:
    """BKT parameters of one answer to ``item`` (see the module docstring)."""
    guess = max(0.25, 1.0 / len(item.choices)) if item.kind == "multiple_choice" else _GUESS[item.kind]
    if hinted:
        guess = max(guess, HINT_GUESS)
    slip = _SLIP.get(item.kind, 0.1)
    return replace(topic, p_guess=guess, p_slip=slip, p_transit=topic.p_transit * PRACTICE_TRANSIT)


def rating(correct: bool, hinted: bool) -> int:
    """FSRS rating of an answer: 3 good, 2 hard (right after a hint), 1 again (wrong)."""
    if not correct:
        return 1
    return 2 if hinted else 3


def record_answer(
    learner: LearnerModel,
    learner_id: str,
    item: PracticeItem,
    correct: bool,
    answer: str,
    *,
    hinted: bool = False,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store the answer, update the topic's mastery and reschedule its review.
    Returns ``{"topic_id", "before", "after", "next_review"}`` (ISO date-time)."""
    topic_params = learner.params(item.topic_id)  # LookupError for an unknown topic, before any write
    store = learner.store
    store.add_practice_answer(learner_id, item.id, item.topic_id, correct, answer,
                              {**(details or {}), "hinted": hinted})  # fmt: skip
    before = float(store.get_mastery(learner_id).get(item.topic_id, topic_params.p_init))
    after = bkt_update(before, correct, item_params(item, topic_params, hinted=hinted))
    if not correct:  # plain BKT adds the learning transition even after a miss; a miss never raises
        after = min(before, after)
    after = min(after, max(before, MAX_MASTERY))
    store.set_mastery(learner_id, item.topic_id, after)
    due = learner.record_self_check(learner_id, item.topic_id, rating(correct, hinted))["due"]
    log.info("learner %s item %s %s: mastery %.2f -> %.2f", learner_id, item.id, correct, before, after)
    return {
        "topic_id": item.topic_id,
        "before": round(before, 4),
        "after": round(after, 4),
        "next_review": due,
    }
