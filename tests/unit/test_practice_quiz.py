"""The quiz loop in chat over the real graph (fakes for the model, retrieval and code grading):
start, answer, hint, skip, "I don't know", a new request dropping the question, review walks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from curriculum.catalog import load_catalog
from curriculum.learner import LearnerModel
from curriculum.practice import load_practice
from storage.store import Store
from tests.agent_helpers import EXERCISES, Rig
from tests.unit.test_practice_api import DATA, fake_grade, word_embed
from tutor.agent.checkpoint import sqlite_checkpointer
from tutor.agent.graph import build_graph
from tutor.agent.intent import rule_intent
from tutor.agent.nodes.quiz import takes_answer
from tutor.agent.threads import Conversations
from tutor.usecases.practice import Practice

TOPIC = "m2.attention-math"


@dataclass
class QuizRig(Rig):
    practice: Any = None

    def reopen(self) -> Conversations:
        self.store = Store(f"sqlite:///{self.data_dir / 'tutor.db'}")
        saver = sqlite_checkpointer(self.data_dir / "checkpoints.sqlite")
        self.savers.append(saver)
        catalog = load_catalog()
        learner = LearnerModel(self.store, catalog)
        self.practice = Practice(
            load_practice(DATA), catalog, learner, embed=word_embed, grade_code=fake_grade
        )
        graph = build_graph(self.llm, self.retriever, self.kernels, self.grader, self.jobs, self.store, saver,
                            catalog=catalog, exercises=EXERCISES, learner=learner, tasks=self.tasks,
                            practice=self.practice)  # fmt: skip
        self.conv = Conversations(graph, self.store)
        return self.conv


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[QuizRig]:
    r = QuizRig(tmp_path)
    yield r
    r.close()


def turn(rig: QuizRig, message: str) -> str:
    return str(rig.conv.chat("ann", message, "t1")["reply"])


def pending(rig: QuizRig) -> Any:
    return rig.conv.graph.get_state({"configurable": {"thread_id": "t1"}}).values.get("pending_item")


@pytest.mark.parametrize("text", ["quiz me on attention", "test me", "check me", "give me a practice question",
                                  "Quiz me on the mathematics of attention please"])  # fmt: skip
def test_quiz_words_are_a_rule(text: str) -> None:
    res = rule_intent(text)
    assert res is not None and res.intent == "quiz"


def test_quiz_asks_then_takes_the_next_message_as_the_answer(rig: QuizRig) -> None:
    ask = turn(rig, "quiz me on attention")
    p = pending(rig)
    assert p and p["topic_id"] == TOPIC and p["kind"] == "multiple_choice"
    item = rig.practice.item(p["item_id"])
    assert "**A.**" in ask and item.prompt in ask
    for secret in (item.explanation, *(c.feedback for c in item.choices)):
        assert secret not in ask  # never the answer before an attempt
    wrong = next(i for i, c in enumerate(item.choices) if not c.correct)
    reply = turn(rig, "ABCDE"[wrong])
    assert "Not quite" in reply and item.choices[wrong].feedback in reply and item.explanation in reply
    assert "Mastery of The mathematics of attention: 10% → " in reply
    assert rig.store.practice_answers("ann")[0]["correct"] is False
    assert pending(rig)["item_id"] != item.id  # the quiz goes on with the next question


def test_right_answer_by_text_raises_mastery(rig: QuizRig) -> None:
    turn(rig, "quiz me on attention")
    item = rig.practice.item(pending(rig)["item_id"])
    reply = turn(rig, item.choices[item.right_choice].text)
    assert "Right!" in reply and rig.store.get_mastery("ann")[TOPIC] > 0.1


def test_hint_skip_and_i_dont_know(rig: QuizRig) -> None:
    turn(rig, "quiz me on attention")
    first = pending(rig)["item_id"]
    hint = turn(rig, "hint")
    assert hint.startswith("Hint:") and pending(rig)["hinted"] is True and pending(rig)["item_id"] == first
    assert "Skipped" in turn(rig, "skip") and pending(rig)["item_id"] != first
    assert rig.store.practice_answers("ann") == []  # hint and skip are not answers
    second = rig.practice.item(pending(rig)["item_id"])
    reply = turn(rig, "I don't know")
    assert second.explanation in reply and rig.store.practice_answers("ann")[0]["correct"] is False


def test_a_new_request_drops_the_question(rig: QuizRig) -> None:
    turn(rig, "quiz me on attention")
    assert pending(rig)
    turn(rig, "explain broadcasting in numpy")
    assert pending(rig) is None and rig.store.practice_answers("ann") == []


def test_stop_ends_the_quiz(rig: QuizRig) -> None:
    turn(rig, "quiz me on attention")
    assert "Stopped" in turn(rig, "stop") and pending(rig) is None


def test_quiz_uses_the_explanations_check_item(rig: QuizRig) -> None:
    rig.conv.graph.update_state(
        {"configurable": {"thread_id": "t1"}}, {"check_item": "fixture-scale-variance"}
    )
    ask = turn(rig, "test me")
    assert pending(rig)["item_id"] == "fixture-scale-variance" and "Reply with a number" in ask
    assert "Right!" in turn(rig, "1")


def test_unreadable_answer_keeps_the_question(rig: QuizRig) -> None:
    rig.conv.graph.update_state(
        {"configurable": {"thread_id": "t1"}}, {"check_item": "fixture-scale-variance"}
    )
    turn(rig, "check me")
    reply = turn(rig, "hmm, not sure, maybe big")
    assert "couldn't take that as an answer" in reply and pending(rig)["item_id"] == "fixture-scale-variance"


def test_review_walks_due_topics_items(rig: QuizRig) -> None:
    rig.practice.answer("ann", "fixture-softmax-rows", 0)
    card = rig.store.get_card("ann", TOPIC)
    rig.store.set_card("ann", TOPIC, card, datetime.now(UTC) - timedelta(days=1))
    ask = turn(rig, "review")
    assert ask.startswith("Review time") and pending(rig)["mode"] == "review"
    item = rig.practice.item(pending(rig)["item_id"])
    assert item.id != "fixture-softmax-rows"
    answer = {"multiple_choice": "six", "numeric": "1", "short_answer": item.model_answer}.get(item.kind, "x")
    reply = turn(rig, answer)
    assert "Review done" in reply and pending(rig) is None


@pytest.mark.parametrize(
    ("text", "kind", "answer"),
    [("B", "multiple_choice", True), ("each row", "multiple_choice", True), ("hint", "numeric", True),
     ("explain attention", "numeric", False), ("what is softmax?", "short_answer", False),
     ("```python\ndef f(x): return x\n```", "code", True), ("```python\nprint(1)\n```", "numeric", False),
     ("it stops tokens peeking at the future", "short_answer", True), ("make me a plan", "numeric", False)],
)  # fmt: skip
def test_takes_answer(text: str, kind: str, answer: bool) -> None:
    assert takes_answer(text, {"kind": kind}) is answer
