"""What each learner knows: mastery by Bayesian Knowledge Tracing, reviews scheduled by FSRS.

BKT (Corbett & Anderson, 1995) keeps, per learner and topic, the probability ``p`` that the
topic is known. A graded attempt is an observation (correct = the submission passed); with
slip ``s`` and guess ``g``::

    correct:   p' = p(1-s) / (p(1-s) + (1-p)g)
    incorrect: p' = p s / (p s + (1-p)(1-g))
    then learning between opportunities: p'' = p' + (1-p') T

Example with the defaults (p_init 0.1, T 0.15 on a 150-minute topic, s 0.1, g 0.2): a first
correct attempt gives 0.1*0.9 / (0.09 + 0.18) = 0.333, then 0.333 + 0.667*0.15 = 0.433.

Limits: parameters are sensible defaults scaled by the topic's study time, not fitted to data
(fitting per topic needs many learners' attempts; ``BKTParams`` per topic can be passed in once
there are). Partial scores count as incorrect unless the attempt passed.

FSRS (the ``fsrs`` package) keeps one review card per learner and topic, rated after each graded
attempt or self-check; topic reviews are day-granular (no minute-long learning steps).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from curriculum.catalog import Catalog
from storage.store import Store
from tutor.errors import BadInput

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BKTParams:
    """The four BKT parameters of one topic."""

    p_init: float = 0.1  # known before any practice
    p_transit: float = 0.15  # learned at each practice opportunity
    p_slip: float = 0.1  # knows it but fails
    p_guess: float = 0.2  # does not know it but passes

    def __post_init__(self) -> None:
        for name in ("p_init", "p_transit", "p_slip", "p_guess"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"BKT {name} must be in 0..1, got {v}")
        if self.p_slip + self.p_guess >= 1.0:
            raise ValueError(  # our own parameters: a bug, not the caller's input
                f"BKT needs p_slip + p_guess < 1 (else a pass is no evidence of knowing), got "
                f"{self.p_slip} + {self.p_guess}"
            )


def bkt_update(p: float, correct: bool, params: BKTParams) -> float:
    """Posterior mastery after one observation, then the learning transition."""
    s, g = params.p_slip, params.p_guess
    if correct:
        post = p * (1 - s) / (p * (1 - s) + (1 - p) * g)
    else:
        post = p * s / (p * s + (1 - p) * (1 - g))
    return min(1.0, max(0.0, post + (1 - post) * params.p_transit))


def default_params(minutes: int) -> BKTParams:
    """Longer topics are learned more slowly per attempt: T = 0.15 at 150 minutes, in 0.08..0.3."""
    return BKTParams(p_transit=min(0.3, max(0.08, 0.15 * 150 / max(minutes, 1))))


def rating_for(passed: bool, score: float) -> int:
    """FSRS rating of a graded attempt: 4 easy (never used: a grade can't tell), 3 good = passed,
    2 hard = failed with at least half the tests, 1 again = failed."""
    if passed:
        return 3
    return 2 if score >= 0.5 else 1


class LearnerModel:
    """Mastery and review schedule per learner and topic, kept in the learner store."""

    def __init__(self, store: Store, catalog: Catalog, params: Mapping[str, BKTParams] | None = None) -> None:
        from fsrs import Scheduler

        self.store = store
        self.catalog = catalog
        self._params = dict(params or {})
        # no fuzzing: the same history gives the same schedule (tests, support questions)
        self.scheduler = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)

    def params(self, topic_id: str) -> BKTParams:
        return self._params.get(topic_id) or default_params(self.catalog.topic(topic_id).minutes)

    def record_attempt(
        self, learner_id: str, exercise_id: str, topic_id: str, passed: bool, score: float,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Store a graded attempt, update mastery (BKT) and reschedule the topic's review (FSRS).
        ``details`` (e.g. the failed tests' names, ``tests_summary``) is kept with the attempt for
        the teacher view. Returns ``{"topic_id", "mastery", "due"}``."""
        params = self.params(topic_id)  # LookupError for an unknown topic, before anything is written
        if not 0.0 <= score <= 1.0:
            raise BadInput(f"score must be in 0..1, got {score}")
        self.store.add_attempt(learner_id, exercise_id, topic_id, bool(passed), float(score), details)
        p = self.store.get_mastery(learner_id).get(topic_id, params.p_init)
        new_p = bkt_update(p, bool(passed), params)
        self.store.set_mastery(learner_id, topic_id, new_p)
        due = self._review(learner_id, topic_id, rating_for(bool(passed), float(score)))
        log.info("learner %s %s %s: mastery %.2f -> %.2f", learner_id, exercise_id, passed, p, new_p)
        return {"topic_id": topic_id, "mastery": new_p, "due": due.isoformat(timespec="seconds")}

    def record_self_check(self, learner_id: str, topic_id: str, rating: int) -> dict[str, Any]:
        """A self-check (1 again .. 4 easy) reschedules the review; it does not change mastery,
        which only graded work moves. Returns ``{"topic_id", "rating", "due"}``."""
        self.catalog.topic(topic_id)
        if rating not in (1, 2, 3, 4):
            raise BadInput(f"rating must be 1 (again), 2 (hard), 3 (good) or 4 (easy), got {rating!r}")
        self.store.ensure_learner(learner_id)
        due = self._review(learner_id, topic_id, rating)
        return {"topic_id": topic_id, "rating": rating, "due": due.isoformat(timespec="seconds")}

    def _review(self, learner_id: str, topic_id: str, rating: int, now: datetime | None = None) -> datetime:
        from fsrs import Card, Rating

        stored = self.store.get_card(learner_id, topic_id)
        card = Card.from_dict(stored) if stored else Card(card_id=_card_id(learner_id, topic_id))  # type: ignore[arg-type]
        card, _ = self.scheduler.review_card(card, Rating(rating), now or datetime.now(UTC))
        self.store.set_card(learner_id, topic_id, dict(card.to_dict()), card.due)
        return card.due

    def due_reviews(self, learner_id: str, now: datetime | None = None) -> list[str]:
        return self.store.due_topics(learner_id, now)

    def next_review(self, learner_id: str) -> tuple[str, datetime] | None:
        """The topic whose review comes next (due or not) and when, or None without cards."""
        far = datetime(9999, 1, 1, tzinfo=UTC)
        for topic_id in self.store.due_topics(learner_id, far):
            card = self.store.get_card(learner_id, topic_id)
            if card:
                return topic_id, datetime.fromisoformat(card["due"])
        return None

    def progress(self, learner_id: str) -> dict[str, Any]:
        """The progress shape of docs/contract.md; ``mastery`` lists only topics with graded attempts."""
        return {
            "learner_id": learner_id,
            "mastery": self.store.get_mastery(learner_id),
            "attempts": self.store.attempts(learner_id),
            "due_reviews": self.due_reviews(learner_id),
        }


def _card_id(learner_id: str, topic_id: str) -> int:
    """A stable card id (fsrs' default is a timestamp that sleeps 1 ms per card to stay unique)."""
    import zlib

    return zlib.crc32(f"{learner_id}\0{topic_id}".encode())


def tests_summary(tests: Any) -> dict[str, Any]:
    """What an attempt keeps of a grade report's tests (dicts or objects with ``name`` and
    ``passed``): ``{"tests": n, "failed": [names of the failed tests]}``."""

    def get(t: Any, key: str) -> Any:
        return t.get(key) if isinstance(t, Mapping) else getattr(t, key, None)

    tests = list(tests or [])
    return {"tests": len(tests), "failed": [str(get(t, "name")) for t in tests if not get(t, "passed")]}
