"""Every /api and /v1 endpoint through FastAPI's TestClient, with fakes behind the service:
shapes, error codes, size limits and the API-key rules. (The real parts are exercised by the
integration tests, e.g. tests/integration/test_served_api.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.ui_helpers import fake_tutor
from tutor.service import Tutor
from tutor.web import api


def make_client(tmp_path: Path, **settings: Any) -> tuple[TestClient, Tutor]:
    tutor = fake_tutor(tmp_path / "var", **settings)
    app = FastAPI()
    app.state.tutor = tutor
    api.install(app)
    return TestClient(app), tutor


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return make_client(tmp_path)[0]


def test_healthz_and_curriculum(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    mods = client.get("/api/curriculum").json()["modules"]
    assert len(mods) == 11 and sum(len(m["topics"]) for m in mods) == 43


@pytest.mark.parametrize(
    "url,status",
    [
        ("/api/search?q=", 400),
        ("/api/search?q=x&k=0", 422),
        ("/api/search?q=x&k=51", 422),
        ("/api/search?q=" + "x" * 2001, 422),
    ],
)
def test_search_bad_input_is_4xx_with_error_shape(client: TestClient, url: str, status: int) -> None:
    r = client.get(url)
    assert r.status_code == status and set(r.json()["error"]) == {"code", "message"}


def test_search_returns_passages(client: TestClient) -> None:
    hits = client.get("/api/search", params={"q": "broadcasting", "k": 2}).json()
    assert len(hits) == 2 and {"topic_id", "title", "source", "text", "score"} <= hits[0].keys()


def test_exercises_and_unknown_exercise(client: TestClient) -> None:
    assert [e["id"] for e in client.get("/api/exercises").json()] == ["numpy-mean"]
    assert client.get("/api/exercises/numpy-mean").json()["id"] == "numpy-mean"
    assert client.get("/api/exercises/nope").status_code == 404


def test_run_and_code_limits(tmp_path: Path) -> None:
    client, tutor = make_client(tmp_path, max_code_chars=50)
    assert client.post("/api/run", json={"code": "print(1)"}).json()["status"] == "ok"
    assert client.post("/api/run", json={"code": "x" * 51}).status_code == 400
    assert client.post("/api/run", json={"code": "  "}).status_code == 400
    assert client.post("/api/run", json={"code": "1", "session_id": "../etc"}).status_code == 422
    assert client.post("/api/run", json={"code": "1", "timeout_s": -1}).status_code == 422


def test_body_size_cap(tmp_path: Path) -> None:
    client, _ = make_client(tmp_path, max_body_bytes=2_000)
    r = client.post("/api/run", json={"code": "x" * 5_000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_grade_records_the_attempt_for_progress(client: TestClient) -> None:
    r = client.post("/api/grade", json={"exercise_id": "numpy-mean", "code": "pass", "learner_id": "ada"})
    assert r.status_code == 200 and r.json()["passed"] is False
    attempts = client.get("/api/learners/ada/progress").json()["attempts"]
    assert [a["exercise_id"] for a in attempts] == ["numpy-mean"]
    assert client.post("/api/grade", json={"exercise_id": "numpy-meen", "code": "x"}).status_code == 404
    assert (
        client.post("/api/grade", content=b"{nope", headers={"content-type": "application/json"}).status_code
        == 400
    )


def test_chat_thread_and_stream(client: TestClient) -> None:
    out = client.post("/api/chat", json={"learner_id": "ada", "message": "hi"}).json()
    th = client.get(f"/api/threads/{out['thread_id']}").json()
    assert any(m["content"] == out["reply"] for m in th["messages"])
    assert client.get("/api/threads/nope").status_code == 404
    assert client.post("/api/chat", json={"learner_id": "ada", "message": ""}).status_code == 422
    assert client.post("/api/chat", json={"learner_id": "a d a", "message": "x"}).status_code == 422
    with client.stream("POST", "/api/chat/stream", json={"learner_id": "ada", "message": "hello there"}) as r:
        text = "".join(r.iter_text())
    events = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("event:")]
    assert "token" in events and events[-1] == "done"


def test_plan_round_trip(client: TestClient) -> None:
    assert client.get("/api/learners/ada/plan").status_code == 404
    made = client.post("/api/learners/ada/plan", json={"hours": 2}).json()
    assert client.get("/api/learners/ada/plan").json()["items"] == made["items"]
    assert client.post("/api/learners/ada/plan", json={"hours": 0}).status_code == 422


def test_jobs_endpoints(client: TestClient) -> None:
    assert client.get("/api/jobs").json() == []
    assert client.post("/api/jobs", json={"kind": "nope", "params": {}}).status_code == 400
    job = client.post("/api/jobs", json={"kind": "sklearn", "params": {"dataset": "iris"}}).json()
    assert client.get(f"/api/jobs/{job['job_id']}").json()["status"] == "running"
    refused = client.post(f"/api/jobs/{job['job_id']}/resume")  # still running: a state conflict
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert client.post(f"/api/jobs/{job['job_id']}/cancel").json()["status"] == "cancelled"
    assert client.post(f"/api/jobs/{job['job_id']}/resume").json()["status"] == "running"
    assert client.get("/api/jobs/no-such-job").status_code == 404


def test_gpt_job_data_file_in_the_datasets_folder_is_accepted(tmp_path: Path) -> None:
    client, tutor = make_client(tmp_path)
    (tutor.settings.datasets_dir / "poems.txt").write_text("roses are red")
    r = client.post("/api/jobs", json={"kind": "gpt", "params": {"data": "poems.txt"}})
    assert r.status_code == 200


def test_models_and_switching(client: TestClient) -> None:
    models = client.get("/api/models").json()
    assert [m["active"] for m in models] == [True, False]
    assert client.post("/api/models/active", json={"model_id": "m2"}).json()["active"] == "m2"
    assert client.post("/api/models/active", json={"model_id": "zz"}).status_code == 404
    assert client.get("/v1/models").json()["data"][0]["id"] == "tutor"


def test_openai_compatible_chat_plain_and_streaming(client: TestClient) -> None:
    body = {"model": "tutor", "user": "ada", "messages": [{"role": "user", "content": "What is dropout?"}]}
    out = client.post("/v1/chat/completions", json=body).json()
    assert out["choices"][0]["message"]["content"].startswith("echo for ada: What is dropout?")
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
        lines = [ln for ln in "".join(r.iter_text()).splitlines() if ln.startswith("data:")]
    assert lines[-1] == "data: [DONE]"
    deltas = [json.loads(ln[5:])["choices"][0]["delta"].get("content", "") for ln in lines[:-1]]
    assert "What is dropout?" in "".join(deltas)
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 422
    no_user = {"messages": [{"role": "system", "content": "x"}]}
    assert client.post("/v1/chat/completions", json=no_user).status_code == 400


class TestApiKeys:
    @pytest.fixture
    def client(self, tmp_path: Path) -> TestClient:
        return make_client(tmp_path, api_keys="ak:ada,bk:bob,root:admin")[0]

    @staticmethod
    def h(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def test_no_key_is_401_but_healthz_is_open(self, client: TestClient) -> None:
        assert client.get("/healthz").status_code == 200
        for method, url in [("GET", "/api/curriculum"), ("GET", "/v1/models"), ("POST", "/api/run")]:
            r = client.request(method, url, json={"code": "1"})
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert client.get("/api/curriculum", headers=self.h("wrong")).status_code == 401

    def test_learner_key_acts_only_as_its_learner(self, client: TestClient) -> None:
        ada = self.h("ak")
        assert client.get("/api/learners/ada/progress", headers=ada).status_code == 200
        assert client.get("/api/learners/bob/progress", headers=ada).status_code == 403
        assert (
            client.post("/api/chat", json={"learner_id": "bob", "message": "x"}, headers=ada).status_code
            == 403
        )
        bob_thread = client.post(
            "/api/chat", json={"learner_id": "bob", "message": "x"}, headers=self.h("bk")
        ).json()
        assert client.get(f"/api/threads/{bob_thread['thread_id']}", headers=ada).status_code == 403
        assert (
            client.post(
                "/api/grade",
                json={"exercise_id": "numpy-mean", "code": "x", "learner_id": "bob"},
                headers=ada,
            ).status_code
            == 403
        )
        assert client.post("/api/models/active", json={"model_id": "m2"}, headers=ada).status_code == 403

    def test_learner_keys_see_only_their_jobs(self, client: TestClient) -> None:
        job = client.post("/api/jobs", json={"kind": "sklearn", "params": {}}, headers=self.h("bk")).json()
        assert job["learner_id"] == "bob"
        assert client.get("/api/jobs", headers=self.h("ak")).json() == []
        assert client.get(f"/api/jobs/{job['job_id']}", headers=self.h("ak")).status_code == 403
        assert client.post(f"/api/jobs/{job['job_id']}/cancel", headers=self.h("ak")).status_code == 403
        assert len(client.get("/api/jobs", headers=self.h("root")).json()) == 1

    def test_admin_acts_for_anyone_and_v1_key_decides_the_learner(self, client: TestClient) -> None:
        assert client.get("/api/learners/bob/progress", headers=self.h("root")).status_code == 200
        body = {"user": "bob", "messages": [{"role": "user", "content": "hi"}]}
        out = client.post("/v1/chat/completions", json=body, headers=self.h("ak")).json()
        assert (
            client.get(f"/api/threads/{out['tutor']['thread_id']}", headers=self.h("ak")).json()["learner_id"]
            == "ada"
        )


@pytest.mark.parametrize("url", ["/api/chat/stream", "/v1/chat/completions"])
def test_streams_refuse_bad_input_before_streaming(client: TestClient, url: str) -> None:
    body = (
        {"learner_id": "ada", "message": " "}
        if url.startswith("/api")
        else {"stream": True, "messages": [{"role": "user", "content": " "}]}
    )
    r = client.post(url, json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_input"


def test_readyz_is_503_until_every_part_is_loaded(tmp_path: Path) -> None:
    client, tutor = make_client(tmp_path)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "loading"  # nothing warmed yet
    tutor.readiness.update({"embedding model and notes index": "ready", "kernel pool": "loading"})
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["parts"]["kernel pool"] == "loading"
    tutor.readiness["kernel pool"] = "ready"
    assert client.get("/readyz").json() == {"status": "ready", "parts": dict(tutor.readiness)}
    tutor.readiness["kernel pool"] = "failed: no bubblewrap"
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200  # liveness is not readiness
