"""A scripted learner against the real service over HTTP (real store, learner model, sandbox
grader for code items, MiniLM for short answers): ten right answers on one topic take its mastery
past the planner's MASTERED and schedule a review; a wrong answer lowers it; the planner then
sees the new mastery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from curriculum.planner import MASTERED
from curriculum.practice import PracticeItem, bundled_practice, by_topic
from tests.agent_helpers import real_tutor
from tools.sandbox import find_bwrap
from tutor.web import api

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed (make installs it)"),
]


def right_answer(item: PracticeItem) -> Any:
    if item.kind == "multiple_choice":
        return item.right_choice
    if item.kind == "numeric":
        return item.answer
    if item.kind == "short_answer":
        return item.right_examples[0]
    return item.solution


def wrong_answer(item: PracticeItem) -> Any:
    if item.kind == "multiple_choice":
        return next(i for i, c in enumerate(item.choices) if not c.correct)
    if item.kind == "numeric":
        return (item.answer or 0) + 10 * (item.tolerance + 1)
    if item.kind == "short_answer":
        return item.wrong_examples[0]
    return item.starter


def test_scripted_learner_masters_a_topic(tmp_path: Path) -> None:
    items = bundled_practice()
    topics = by_topic(items)
    topic = max(topics, key=lambda t: (len({i.kind for i in topics[t]}), len(topics[t])))
    tutor = real_tutor(tmp_path / "var")
    app = FastAPI()
    app.state.tutor = tutor
    api.install(app)
    client = TestClient(app)
    try:
        listed = client.get(f"/api/topics/{topic}/practice").json()["items"]
        assert len(listed) == len(topics[topic])
        seen, afters = [], []
        for _ in range(10):
            nxt = client.get("/api/learners/sam/practice/next", params={"topic_id": topic}).json()
            item = items[nxt["id"]]
            seen.append(item.kind)
            r = client.post(
                f"/api/practice/{item.id}/answer", json={"learner_id": "sam", "answer": right_answer(item)}
            )
            body = r.json()
            assert r.status_code == 200 and body["correct"] is True, (item.id, body)
            afters.append(body["mastery"]["after"])
        assert afters[-1] > MASTERED and afters == sorted(afters)
        assert body["next_review"] and tutor.store.get_card("sam", topic) is not None
        assert len(set(seen)) >= 2
        progress = client.get("/api/learners/sam/progress").json()
        assert progress["mastery"][topic] == pytest.approx(afters[-1])

        before = afters[-1]
        for item in topics[topic][:2]:
            body = client.post(f"/api/practice/{item.id}/answer",
                               json={"learner_id": "sam", "answer": wrong_answer(item)}).json()  # fmt: skip
            assert body["correct"] is False and body["mastery"]["after"] <= body["mastery"]["before"]
        assert tutor.store.get_mastery("sam")[topic] < before
    finally:
        tutor.close()
