"""A real ``tutor serve`` (scripted chat model, sample notes, temporary data dir) driven by the
official ``openai`` client, by ``gradio_client`` through the UI's named endpoints, and by a
shape check of every endpoint of docs/contract.md (the contract's smoke test, run by CI)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.served import ServedTutor, served_tutor  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def need(obj: dict[str, Any], fields: list[str], where: str) -> None:
    missing = [f for f in fields if f not in obj]
    assert not missing, f"{where} lacks {missing} (has {sorted(obj)[:12]})"


@pytest.fixture(scope="module")
def http(served_tutor: ServedTutor) -> Iterator[httpx.Client]:  # noqa: F811
    with httpx.Client(base_url=served_tutor.url, timeout=180) as client:
        yield client


def test_openai_client_plain_and_streaming(served_tutor: ServedTutor) -> None:  # noqa: F811
    from openai import OpenAI

    client = OpenAI(base_url=served_tutor.url + "/v1", api_key="not-needed", max_retries=0, timeout=180)
    assert "tutor" in [m.id for m in client.models.list()]
    question = [{"role": "user", "content": "What are the broadcasting rules?"}]
    out = client.chat.completions.create(model="tutor", messages=question, user="oa-learner")  # type: ignore[arg-type]
    text = out.choices[0].message.content or ""
    assert text.strip() and out.choices[0].finish_reason == "stop"
    chunks = client.chat.completions.create(model="tutor", messages=question, user="oa-learner", stream=True)  # type: ignore[arg-type]
    pieces, finish = [], None
    for chunk in chunks:
        pieces.append(chunk.choices[0].delta.content or "")  # type: ignore[union-attr]
        finish = chunk.choices[0].finish_reason or finish  # type: ignore[union-attr]
    assert "".join(pieces).strip() and finish == "stop"


def test_gradio_client_uses_the_ui_api(served_tutor: ServedTutor) -> None:  # noqa: F811
    from gradio_client import Client

    client = Client(served_tutor.url + "/", verbose=False)
    api = client.view_api(print_info=False, return_format="dict")
    assert {"/ask", "/search"} <= set(api["named_endpoints"])
    assert not any(name.startswith("/respond") for name in api["named_endpoints"])  # UI events stay private
    out = client.predict("gc-learner", "What are the broadcasting rules?", "", api_name="/ask")
    assert out["reply"].strip() and out["citations"] and out["citations"][0]["topic_id"].startswith("t1.")
    again = client.predict("gc-learner", "And shapes?", out["thread_id"], api_name="/ask")
    assert again["thread_id"] == out["thread_id"]
    hits = client.predict("broadcasting", 2, api_name="/search")
    assert 0 < len(hits) <= 2 and {"topic_id", "source", "text", "score"} <= set(hits[0])
    with pytest.raises(Exception, match="name"):
        client.predict("bad name!", "hi", "", api_name="/ask")


def test_note_links_resolve(http: httpx.Client) -> None:
    cited = http.post(
        "/api/chat", json={"learner_id": "notes-learner", "message": "What are the broadcasting rules?"}
    )
    citation = cited.json()["citations"][0]
    anchor = citation["source"].partition("#")[2]
    page = http.get(f"/notes/{citation['topic_id']}")
    assert page.status_code == 200 and f'id="{anchor}"' in page.text
    assert http.get("/notes/nope").status_code == 404


# --- the contract (docs/contract.md), shape by shape ---
def test_contract_shapes(http: httpx.Client) -> None:
    assert http.get("/healthz").status_code == 200
    cur = http.get("/api/curriculum").json()
    assert len(cur["modules"]) == 11
    for m in cur["modules"]:
        need(m, ["id", "title", "phase", "topics"], "module")
        for t in m["topics"]:
            need(t, ["id", "title", "prerequisites", "practicals"], "topic")
    hits = http.get("/api/search", params={"q": "what is broadcasting", "k": 5}).json()
    assert 0 < len(hits) <= 5 and all(
        {"topic_id", "title", "source", "text", "score"} <= set(h) for h in hits
    )
    bad = http.get("/api/search", params={"q": "", "k": 5})
    assert 400 <= bad.status_code < 500 and set(bad.json()["error"]) == {"code", "message"}
    exs = http.get("/api/exercises").json()
    assert {"pca", "kmeans"} <= {e["id"] for e in exs} and all(
        {"id", "topic_id", "title"} <= set(e) for e in exs
    )
    pca = http.get("/api/exercises/pca").json()  # hidden tests: at most their count, never their content
    assert isinstance(pca.get("hidden_tests", 0), int) and not any(
        t.get("hidden") for t in pca["public_tests"]
    )

    run = http.post("/api/run", json={"code": "print(1)"}).json()
    need(run, ["status", "stdout", "stderr", "outputs", "error", "duration_s"], "run result")
    assert run["status"] == "ok" and run["stdout"].strip() == "1"
    wrong = "def pca(X, n_components):\n    return None, None\n"
    g = http.post("/api/grade", json={"exercise_id": "pca", "code": wrong, "learner_id": "shape"}).json()
    need(g, ["exercise_id", "passed", "score", "tests", "feedback", "status", "duration_s"], "grade report")
    assert g["passed"] is False and all({"name", "passed", "hidden", "message"} <= set(t) for t in g["tests"])

    c = http.post("/api/chat", json={"learner_id": "shape", "message": "What is broadcasting?"}).json()
    need(c, ["thread_id", "reply", "citations", "tool_calls"], "chat reply")
    assert c["reply"].strip() and all({"topic_id", "source"} <= set(x) for x in c["citations"])
    th = http.get(f"/api/threads/{c['thread_id']}").json()
    need(th, ["thread_id", "learner_id", "messages"], "thread")
    assert any(m.get("content") == c["reply"] for m in th["messages"])
    with http.stream(
        "POST", "/api/chat/stream", json={"learner_id": "shape", "message": "What are tables?"}
    ) as r:
        assert "text/event-stream" in r.headers["content-type"]
        events = {ln.split(":", 1)[1].strip() for ln in r.iter_lines() if ln.startswith("event:")}
    assert {"token", "done"} <= events

    p = http.get("/api/learners/shape/progress").json()
    need(p, ["learner_id", "mastery", "attempts", "due_reviews"], "progress")
    assert any(a["exercise_id"] == "pca" for a in p["attempts"])
    plan = http.post("/api/learners/shape/plan", json={"hours": 3}).json()
    need(plan, ["learner_id", "items", "rationale", "model"], "plan")
    saved = http.get("/api/learners/shape/plan").json()
    assert [i["topic_id"] for i in saved["items"]] == [i["topic_id"] for i in plan["items"]]

    models = http.get("/api/models").json()
    assert models and all("id" in m for m in models) and http.get("/v1/models").json()["data"]
    assert isinstance(http.get("/api/jobs").json(), list)
    assert 400 <= http.post("/api/jobs", json={"kind": "no-such-kind", "params": {}}).status_code < 500
    assert http.get("/api/jobs/no-such-job").status_code == 404
    raw = http.post("/api/grade", content=b"{nope", headers={"content-type": "application/json"})
    assert 400 <= raw.status_code < 500
