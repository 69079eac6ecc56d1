"""Practise: list a topic's items, pick the next one for a learner, check an answer and record it.

Every face (HTTP API, CLI, chat node, Learn tab) calls this class. What leaves it before an
attempt is ``PracticeItem.to_public`` (no answers, feedback, solutions or tests); the result of an
attempt adds the feedback, the explanation and the right answer (never a code item's solution).

Choosing the next item (``next_item``): with a topic, that topic; without, the first due review
topic that has items, else the weakest topic on the learner's frontier (topics whose
prerequisites are mastered, or already started), lowest mastery first. Within a topic: items not
yet answered right first, then the least recently answered, nearest the learner's level
(difficulty 1 below 0.4 mastery, 2 below 0.7, else 3).
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curriculum.catalog import Catalog
from curriculum.learner import LearnerModel
from curriculum.planner import MASTERED
from curriculum.practice import PracticeItem, by_topic
from curriculum.practice_check import AnswerError, Verdict, check_answer
from curriculum.practice_progress import record_answer
from tutor.errors import BadInput, NotFound, Unavailable

log = logging.getLogger(__name__)
MAX_ANSWER_CHARS = 20_000


@dataclass
class Attempt:
    """The outcome of one answer, as every face shows it."""

    item_id: str
    topic_id: str
    correct: bool
    feedback: str
    explanation: str
    right_answer: str | None
    mastery: dict[str, Any]
    next_review: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "topic_id": self.topic_id, "correct": self.correct,
                "feedback": self.feedback, "explanation": self.explanation, "right_answer": self.right_answer,
                "mastery": self.mastery, "next_review": self.next_review}  # fmt: skip


class Practice:
    """The practice use case over the items, the learner model and the two checkers that need
    heavy parts (``embed`` for short answers, ``grade_code`` for code), both built on first use."""

    def __init__(
        self,
        items: dict[str, PracticeItem],
        catalog: Catalog,
        learner: LearnerModel,
        *,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        grade_code: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.items = items
        self.catalog = catalog
        self.learner = learner
        self._by_topic = by_topic(items)
        self._embed = embed
        self._grade_code = grade_code
        self._lock = threading.Lock()

    # --- reading ---
    def topics_with_items(self) -> set[str]:
        return set(self._by_topic)

    def item(self, item_id: str) -> PracticeItem:
        try:
            return self.items[item_id]
        except (KeyError, TypeError):
            close = difflib.get_close_matches(str(item_id), list(self.items), n=1)
            maybe = f"; did you mean {close[0]!r}?" if close else ""
            raise NotFound(f"practice item {item_id!r} not found{maybe}") from None

    def topic_items(self, topic_id: str) -> dict[str, Any]:
        """``{"topic_id", "items": [public item]}``, easiest first; NotFound for an unknown topic."""
        self._topic(topic_id)
        items = sorted(self._by_topic.get(topic_id, []), key=lambda i: (i.difficulty, i.id))
        return {"topic_id": topic_id, "items": [i.to_public() for i in items]}

    def hint(self, item_id: str) -> str:
        """The item's own hint, else one that narrows the search without giving the answer."""
        item = self.item(item_id)
        if item.hint:
            return item.hint
        if item.kind == "multiple_choice":
            wrong = next(c for c in item.choices if not c.correct)
            return f"It is not “{wrong.text}”. Rule out the others the same way."  # its feedback may name the answer
        if item.kind == "numeric":
            return "Write the quantity as a formula first, then put the numbers in; one number is the answer."
        if item.kind == "short_answer":
            return f"A good answer makes {item.min_points} key point(s) in a sentence or two: say what happens and why."
        return (
            f"Start from the starter code and write `{item.function}({item.signature})`; return, don't print."
        )

    # --- choosing ---
    def next_item(
        self, learner_id: str, topic_id: str | None = None, *, exclude: Sequence[str] = ()
    ) -> dict[str, Any]:
        """The next item for ``learner_id`` (public shape plus ``reason`` and ``mastery``);
        items in ``exclude`` (asked already in this quiz) come last."""
        mastery = self.learner.store.get_mastery(learner_id)
        if topic_id:
            self._topic(topic_id)
            if not self._by_topic.get(topic_id):
                raise NotFound(f"topic {topic_id!r} has no practice items yet")
            due = set(self.learner.due_reviews(learner_id))
            reason = "review" if topic_id in due else "topic"
        else:
            due_with_items = [t for t in self.learner.due_reviews(learner_id) if t in self._by_topic]
            if due_with_items:
                topic_id, reason = due_with_items[0], "review"
            else:
                topic_id, reason = self._weakest(mastery), "weakest"
        item = self._pick(learner_id, topic_id, mastery.get(topic_id), set(exclude))
        p = mastery.get(topic_id)
        return {**item.to_public(), "reason": reason, "mastery": None if p is None else round(p, 4)}

    def due_queue(self, learner_id: str) -> list[str]:
        """Due review topics that have practice items, most overdue first."""
        return [t for t in self.learner.due_reviews(learner_id) if t in self._by_topic]

    def _weakest(self, mastery: dict[str, float]) -> str:
        order = [t for t in self.catalog.topological_order() if t in self._by_topic]
        if not order:
            raise NotFound("there are no practice items yet")
        frontier = [t for t in order if t in mastery or all(
            mastery.get(p, 0.0) >= MASTERED for p in self.catalog.topics[t].prerequisites)]  # fmt: skip
        open_ = [t for t in frontier if mastery.get(t, 0.0) < MASTERED] or frontier or order
        return min(open_, key=lambda t: (mastery.get(t, 0.0), order.index(t)))

    def _pick(self, learner_id: str, topic_id: str, p: float | None, exclude: set[str]) -> PracticeItem:
        items = self._by_topic[topic_id]
        history = self.learner.store.practice_answers(learner_id, topic_id)
        right = {h["item_id"] for h in history if h["correct"]}
        last = {h["item_id"]: n for n, h in enumerate(history)}
        level = 1 if (p or 0.0) < 0.4 else 2 if p is not None and p < 0.7 else 3
        order = {item.id: n for n, item in enumerate(items)}  # ties: the order the author wrote them
        return min(items, key=lambda i: (i.id in exclude, i.id in right, last.get(i.id, -1),
                                         abs(i.difficulty - level), order[i.id]))  # fmt: skip

    # --- answering ---
    def answer(self, learner_id: str, item_id: str, answer: Any, *, hinted: bool = False) -> Attempt:
        """Check and record one answer. BadInput for an empty or unreadable answer (not counted)."""
        item = self.item(item_id)
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            raise BadInput("the answer is empty; send the option, number, words or code you mean")
        if isinstance(answer, str) and len(answer) > MAX_ANSWER_CHARS:
            raise BadInput(f"the answer is {len(answer)} characters; the limit is {MAX_ANSWER_CHARS}")
        try:
            verdict = check_answer(item, answer, embed=self._embedder(item), grade_code=self._grader(item))
        except AnswerError as e:
            raise BadInput(str(e)) from None
        return self._record(learner_id, item, verdict, str(answer), hinted=hinted)

    def give_up(self, learner_id: str, item_id: str) -> Attempt:
        """ "I don't know": counted as a wrong answer, and the explanation is shown."""
        item = self.item(item_id)
        return self._record(
            learner_id, item, Verdict(False, "No problem: here is how it goes."), "I don't know"
        )

    def _record(
        self, learner_id: str, item: PracticeItem, verdict: Verdict, answer: str, *, hinted: bool = False
    ) -> Attempt:
        mastery = record_answer(self.learner, learner_id, item, verdict.correct, answer, hinted=hinted,
                                details={k: v for k, v in verdict.details.items() if k != "misses"})  # fmt: skip
        return Attempt(
            item_id=item.id, topic_id=item.topic_id, correct=verdict.correct, feedback=verdict.feedback,
            explanation=item.explanation, right_answer=right_answer(item),
            mastery={k: mastery[k] for k in ("topic_id", "before", "after")}, next_review=mastery["next_review"],
        )  # fmt: skip

    def _embedder(self, item: PracticeItem) -> Callable[[Sequence[str]], np.ndarray] | None:
        if item.kind != "short_answer":
            return None
        with self._lock:
            if self._embed is None:
                from knowledge.embedding import get_embedder

                self._embed = get_embedder().embed
            return self._embed

    def _grader(self, item: PracticeItem) -> Callable[[str, str], Any] | None:
        if item.kind != "code":
            return None
        if self._grade_code is None:
            raise Unavailable("code items need the sandbox grader, which this tutor was built without")
        return self._grade_code

    def _topic(self, topic_id: str) -> None:
        if topic_id not in self.catalog.topics:
            close = difflib.get_close_matches(topic_id, list(self.catalog.topics), n=1)
            maybe = f"; did you mean {close[0]!r}?" if close else ""
            raise NotFound(f"topic {topic_id!r} not found{maybe} (`tutor` GET /api/curriculum lists them)")


def right_answer(item: PracticeItem) -> str | None:
    """What is shown as the right answer AFTER an attempt; a code item's solution never is."""
    if item.kind == "multiple_choice":
        return item.choices[item.right_choice].text
    if item.kind == "numeric":
        return f"{item.answer:g}" + (f" (± {item.tolerance:g})" if item.tolerance else "")
    if item.kind == "short_answer":
        return item.model_answer
    return None


def build_practice(tutor: Any) -> Practice:
    """The use case for a ``tutor.service.Tutor``: bundled items, its learner model, the shared
    embedder and a sandbox grader under the data dir."""
    from curriculum.practice import bundled_practice
    from tools.practice_grader import PracticeGrader

    s = tutor.settings
    items = bundled_practice()
    holder: dict[str, PracticeGrader] = {}
    lock = threading.Lock()

    def grade_code(item_id: str, code: str) -> Any:
        with lock:
            if "grader" not in holder:
                holder["grader"] = PracticeGrader(items, s.kernels_dir / "practice", sandbox=not s.unsafe_no_sandbox,
                                                  memory_mb=s.kernel_memory_mb, max_busy=s.max_busy_kernels)  # fmt: skip
        return holder["grader"].grade(item_id, code)

    return Practice(items, tutor.catalog, tutor.learner_model, grade_code=grade_code)
