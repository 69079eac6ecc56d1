"""``GET /api/cohort`` and ``/api/cohort.csv`` and the teacher role (``KEY:teacher``) through
FastAPI's TestClient, with the fakes of tests/ui_helpers.py behind a real store."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.test_api import make_client
from tutor.service import Tutor
from tutor.usecases.cohort import CSV_COLUMNS

KEYS = "tk:teacher,ak:admin,lk:ada,bk:bob"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(tmp_path: Path) -> tuple[TestClient, Tutor]:
    client, tutor = make_client(tmp_path, api_keys=KEYS)
    r = client.post("/api/grade", json={"exercise_id": "numpy-mean", "code": "pass", "learner_id": "ada"},
                    headers=auth("lk"))  # fmt: skip
    assert r.status_code == 200 and r.json()["passed"] is False
    client.post("/api/grade", json={"exercise_id": "numpy-mean", "code": "return 1", "learner_id": "bob"},
                headers=auth("bk"))  # fmt: skip
    return client, tutor


def test_teacher_and_admin_read_the_cohort_a_learner_gets_403(keyed: tuple[TestClient, Tutor]) -> None:
    client, _ = keyed
    for key in ("tk", "ak"):
        r = client.get("/api/cohort", headers=auth(key))
        assert r.status_code == 200, r.text
        body = r.json()
        assert {s["learner_id"] for s in body["learners"]} == {"ada", "bob"}
        ex = body["exercises"][0]
        assert (ex["item_id"], ex["attempts"], ex["passed"], ex["pass_rate"]) == ("numpy-mean", 2, 1, 0.5)
        # the failed tests of ada's attempt, kept with it by Tutor.grade
        assert {f["label"] for f in ex["failures"]} == {"returns the mean", "hidden edge case"}
    r = client.get("/api/cohort", headers=auth("lk"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.get("/api/cohort").status_code == 401
    assert client.get("/api/cohort.csv", headers=auth("bk")).status_code == 403


def test_cohort_csv_columns_and_sections(keyed: tuple[TestClient, Tutor]) -> None:
    client, _ = keyed
    r = client.get("/api/cohort.csv", headers=auth("tk"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="cohort.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert r.text.splitlines()[0].split(",") == CSV_COLUMNS
    assert {"learner", "mastery", "exercise"} <= {row["section"] for row in rows}
    only = list(
        csv.DictReader(io.StringIO(client.get("/api/cohort.csv?section=exercise", headers=auth("tk")).text))
    )
    assert [(row["section"], row["item_id"], row["pass_rate"]) for row in only] == [
        ("exercise", "numpy-mean", "0.5")
    ]
    assert client.get("/api/cohort.csv?section=nope", headers=auth("tk")).status_code == 422
    assert client.get("/api/cohort?min_failures=0", headers=auth("tk")).status_code == 422


def test_teacher_reads_any_learner_but_changes_nothing(keyed: tuple[TestClient, Tutor]) -> None:
    client, tutor = keyed
    assert client.get("/api/learners/ada/progress", headers=auth("tk")).status_code == 200
    assert client.get("/api/learners/bob/threads", headers=auth("tk")).status_code == 200
    assert client.get("/api/jobs", headers=auth("tk")).status_code == 200
    attempts_before = len(tutor.store.attempts("ada"))
    writes: list[tuple[str, dict[str, Any]]] = [
        ("/api/grade", {"exercise_id": "numpy-mean", "code": "return 1", "learner_id": "ada"}),
        ("/api/grade", {"exercise_id": "numpy-mean", "code": "return 1"}),
        ("/api/chat", {"learner_id": "ada", "message": "hi"}),
        ("/api/learners/ada/plan", {"hours": 1}),
        ("/api/run", {"code": "print(1)"}),
        ("/api/models/active", {"model_id": "m2"}),
        ("/api/practice/x/answer", {"learner_id": "ada", "answer": 1}),
        ("/v1/chat/completions", {"model": "tutor", "messages": [{"role": "user", "content": "hi"}]}),
        ("/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "grade"}}),
    ]
    for url, body in writes:
        r = client.post(url, json=body, headers=auth("tk"))
        assert r.status_code == 403, (url, r.status_code, r.text)
        assert "teacher key" in r.json()["error"]["message"]
    assert len(tutor.store.attempts("ada")) == attempts_before
    assert tutor.registry.active() == "tutor-gpt"
    # a learner key still reads only its own learner
    assert client.get("/api/learners/bob/progress", headers=auth("lk")).status_code == 403


def test_without_keys_the_cohort_is_open_on_loopback(tmp_path: Path) -> None:
    client, _ = make_client(tmp_path)
    client.post("/api/grade", json={"exercise_id": "numpy-mean", "code": "pass", "learner_id": "cy"})
    body = client.get("/api/cohort").json()
    assert [s["learner_id"] for s in body["learners"]] == ["cy"]
    assert body["mastery"] == {"cy": {"m1.numpy": 0.3}}


def test_teacher_keys_are_parsed_and_documented(tmp_path: Path) -> None:
    _, tutor = make_client(tmp_path, api_keys="t1:teacher")
    assert tutor.settings.api_key_map == {"t1": "teacher"}
