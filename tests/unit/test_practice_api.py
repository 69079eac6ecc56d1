"""Practice over HTTP and in the use case: shapes, no answers before an attempt, error codes,
API-key rules, choosing the next item, and mastery/reviews moving after answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from curriculum.learner import LearnerModel
from curriculum.planner import MASTERED, plan_lesson, validate_plan
from curriculum.practice import load_practice
from tests.ui_helpers import fake_tutor
from tutor.usecases.practice import Practice
from tutor.web import api

DATA = Path(__file__).resolve().parents[1] / "data" / "practice"
TOPIC = "m2.attention-math"


def word_embed(texts: Sequence[str]) -> np.ndarray:
    vocab = ["future", "later", "token", "see", "peek", "cheat", "predict", "faster", "softmax", "negative"]
    out = np.array([[float(w in t.lower()) for w in vocab] + [0.1] for t in texts])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def fake_grade(item_id: str, code: str) -> SimpleNamespace:
    passed = "np.exp" in code or 'else "neg"' in code
    return SimpleNamespace(passed=passed, feedback="All tests passed." if passed else "0 of 2 tests passed",
                           status="ok", score=float(passed))  # fmt: skip


def make(tmp_path: Path, **settings: Any) -> tuple[TestClient, Any]:
    tutor = fake_tutor(tmp_path / "var", **settings)
    learner = LearnerModel(tutor.store, tutor.catalog)
    tutor.__dict__["practice"] = Practice(load_practice(DATA), tutor.catalog, learner, embed=word_embed,
                                          grade_code=fake_grade)  # fmt: skip
    app = FastAPI()
    app.state.tutor = tutor
    api.install(app)
    return TestClient(app), tutor


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return make(tmp_path)[0]


RIGHT = {"fixture-softmax-rows": 0, "fixture-scale-variance": 1.0, "fixture-causal-mask-mc": "six",
         "fixture-explain-mask": "so a token cannot peek at the future token it must predict",
         "fixture-row-softmax-code": "import numpy as np\ndef row_softmax(s):\n    return np.exp(s)",
         "fixture-label-code": "def label(p):\n    return 'pos' if p >= 0.5 else \"neg\""}  # fmt: skip


def test_topic_items_have_no_answers(client: TestClient) -> None:
    body = client.get(f"/api/topics/{TOPIC}/practice").json()
    assert body["topic_id"] == TOPIC and len(body["items"]) == 6
    for item in body["items"]:
        assert {"id", "kind", "prompt", "difficulty"} <= item.keys()
        assert ("choices" in item) == (item["kind"] == "multiple_choice")
    text = json.dumps(body)
    for secret in ("correct", "feedback", "explanation", "model_answer", "solution", "tests", "1000.0",
                   "right_examples", "key_points", "tolerance", "e / e.sum"):  # fmt: skip
        assert secret not in text
    assert body["items"][0]["difficulty"] == 1
    rows = next(i for i in body["items"] if i["id"] == "fixture-softmax-rows")
    assert rows["choices"] == ["each row", "each column", "the whole matrix"]


def test_unknown_topic_is_404_and_topic_without_items_is_empty(client: TestClient) -> None:
    r = client.get("/api/topics/m2.atention-math/practice")
    assert r.status_code == 404 and "did you mean" in r.json()["error"]["message"]
    assert client.get("/api/topics/m1.numpy/practice").json() == {"topic_id": "m1.numpy", "items": []}


def test_answer_shape_and_mastery_moves(client: TestClient) -> None:
    r = client.post(
        "/api/practice/fixture-softmax-rows/answer", json={"learner_id": "ada", "answer": "each column"}
    )
    body = r.json()
    assert r.status_code == 200 and body["correct"] is False
    assert body["feedback"].startswith("A column is one key")
    assert body["explanation"].startswith("Softmax runs over the keys")
    assert body["mastery"]["topic_id"] == TOPIC and body["mastery"]["after"] <= body["mastery"]["before"]
    assert body["next_review"] and body["right_answer"] == "each row"
    r2 = client.post(
        "/api/practice/fixture-softmax-rows/answer", json={"learner_id": "ada", "answer": 0}
    ).json()
    assert (
        r2["correct"] is True and r2["mastery"]["after"] > r2["mastery"]["before"] == body["mastery"]["after"]
    )


@pytest.mark.parametrize(
    ("item", "payload", "status"),
    [
        ("nope", {"learner_id": "ada", "answer": "x"}, 404),
        ("fixture-softmax-rows", {"learner_id": "ada", "answer": "  "}, 400),
        ("fixture-softmax-rows", {"learner_id": "ada"}, 400),
        ("fixture-softmax-rows", {"learner_id": "ada", "answer": 7}, 400),
        ("fixture-scale-variance", {"learner_id": "ada", "answer": "lots"}, 400),
        ("fixture-softmax-rows", {"learner_id": "../x", "answer": 0}, 422),
    ],
)
def test_answer_errors_keep_the_error_shape(
    client: TestClient, item: str, payload: dict[str, Any], status: int
) -> None:
    r = client.post(f"/api/practice/{item}/answer", json=payload)
    assert r.status_code == status and set(r.json()["error"]) == {"code", "message"}


def test_unreadable_answers_are_not_counted(tmp_path: Path) -> None:
    client, tutor = make(tmp_path)
    client.post("/api/practice/fixture-scale-variance/answer", json={"learner_id": "ada", "answer": "lots"})
    assert tutor.store.practice_answers("ada") == [] and tutor.store.get_mastery("ada") == {}


def test_learner_key_acts_only_as_its_learner(tmp_path: Path) -> None:
    client, _ = make(tmp_path, api_keys="ak:ada,root:admin")
    ada = {"Authorization": "Bearer ak"}
    ok = client.post(
        "/api/practice/fixture-softmax-rows/answer", json={"learner_id": "ada", "answer": 0}, headers=ada
    )
    assert ok.status_code == 200
    other = client.post(
        "/api/practice/fixture-softmax-rows/answer", json={"learner_id": "bob", "answer": 0}, headers=ada
    )
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    assert client.get("/api/learners/bob/practice/next", headers=ada).status_code == 403
    assert (
        client.get("/api/learners/bob/practice/next", headers={"Authorization": "Bearer root"}).status_code
        == 200
    )
    assert client.get(f"/api/topics/{TOPIC}/practice").status_code == 401


def test_next_item_prefers_unanswered_then_due_reviews(tmp_path: Path) -> None:
    client, tutor = make(tmp_path)
    first = client.get("/api/learners/ada/practice/next", params={"topic_id": TOPIC}).json()
    assert first["topic_id"] == TOPIC and first["reason"] == "topic" and first["difficulty"] == 1
    assert "correct" not in json.dumps(first) and "explanation" not in first
    client.post(
        f"/api/practice/{first['id']}/answer", json={"learner_id": "ada", "answer": RIGHT[first["id"]]}
    )
    second = client.get("/api/learners/ada/practice/next", params={"topic_id": TOPIC}).json()
    assert second["id"] != first["id"]
    # without a topic: the only topic with items here is the weakest; a due review comes first
    assert client.get("/api/learners/ada/practice/next").json()["topic_id"] == TOPIC
    from datetime import UTC, datetime, timedelta

    card = tutor.store.get_card("ada", TOPIC)
    tutor.store.set_card("ada", TOPIC, card, datetime.now(UTC) - timedelta(days=1))
    assert client.get("/api/learners/ada/practice/next").json()["reason"] == "review"
    assert client.get("/api/learners/ada/practice/next", params={"topic_id": "m1.numpy"}).status_code == 404


def test_scripted_learner_reaches_mastery_and_gets_a_review(tmp_path: Path) -> None:
    client, tutor = make(tmp_path)
    afters = []
    for _ in range(10):
        item = client.get("/api/learners/ada/practice/next", params={"topic_id": TOPIC}).json()
        res = client.post(
            f"/api/practice/{item['id']}/answer", json={"learner_id": "ada", "answer": RIGHT[item["id"]]}
        )
        body = res.json()
        assert body["correct"] is True, (item["id"], body)
        afters.append(body["mastery"]["after"])
    assert afters == sorted(afters) and afters[-1] >= MASTERED
    assert body["next_review"] > "2000"
    assert (
        tutor.store.get_card("ada", TOPIC) is not None
        and len(tutor.store.practice_answers("ada", TOPIC)) == 10
    )
    # wrong answers now lower it
    wrong = client.post(
        "/api/practice/fixture-softmax-rows/answer", json={"learner_id": "ada", "answer": 2}
    ).json()
    assert wrong["mastery"]["after"] < wrong["mastery"]["before"]


def test_planner_schedules_practice_only_for_topics_with_items(tmp_path: Path) -> None:
    _, tutor = make(tmp_path)
    mastery = {t: 0.95 for t in tutor.catalog.ancestors(TOPIC)} | {TOPIC: 0.5}
    plan = plan_lesson(tutor.catalog, mastery, 2, goal_topics=[TOPIC], practice_topics={TOPIC})
    assert [(i.topic_id, i.activity) for i in plan.items] == [(TOPIC, "practice")]
    items = [{"topic_id": TOPIC, "activity": "practice", "minutes": 30}]
    assert validate_plan(tutor.catalog, items, mastery, 2, practice_topics={TOPIC}) == []
    problems = validate_plan(tutor.catalog, items, mastery, 2, practice_topics=set())
    assert any("no practice items" in p for p in problems)
    no_items = plan_lesson(tutor.catalog, mastery, 2, goal_topics=[TOPIC], practice_topics=set())
    assert [i.activity for i in no_items.items] == ["study"]
