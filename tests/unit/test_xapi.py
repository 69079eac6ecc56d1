"""xAPI learning records (``tutor/usecases/xapi.py``): statements written to the outbox in the record's own
transaction, their shape, and the sender's delivery, retries and backoff against a scripted LRS
(httpx.MockTransport; the real LRS is in tests/integration/test_xapi_ralph.py)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, select

from storage.store import xapi_outbox
from tests.ui_helpers import fake_tutor
from tutor.service import Tutor
from tutor.usecases.xapi import VERBS, Outbox, Statements, XapiSender

LRS = "http://lrs.test/xAPI/"
BASE = "https://tutor.example.org/xapi"


@pytest.fixture
def tutor(tmp_path: Path) -> Tutor:
    t = fake_tutor(
        tmp_path / "var", xapi_url=LRS, xapi_username="U", xapi_password="P", xapi_activity_base=BASE
    )
    t.__dict__.pop("learner_model")  # the real learner model (practice answers need it)
    return t


def statements(t: Tutor) -> list[dict[str, Any]]:
    return Outbox(t.store).statements()


def test_graded_attempt_becomes_a_failed_or_passed_statement(tutor: Tutor) -> None:
    tutor.grade("numpy-mean", "def mean(xs): pass", learner_id="ada")
    tutor.grade("numpy-mean", "def mean(xs): return 2.0", learner_id="ada")
    failed, passed = statements(tutor)
    assert failed["verb"]["id"] == VERBS["failed"] and passed["verb"]["id"] == VERBS["passed"]
    assert failed["actor"] == {"objectType": "Agent", "account": {"homePage": BASE, "name": "ada"}}
    assert failed["object"]["id"] == f"{BASE}/exercises/numpy-mean"
    assert failed["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/assessment"
    assert failed["result"] == {"success": False, "completion": True,
                                "score": {"scaled": 0.0, "raw": 0.0, "min": 0, "max": 1}}  # fmt: skip
    assert passed["result"]["success"] is True and passed["result"]["score"]["scaled"] == 1.0
    assert passed["context"]["contextActivities"]["parent"][0]["id"] == f"{BASE}/topics/m1.numpy"
    assert failed["id"] != passed["id"] and failed["timestamp"].endswith("+00:00")


def test_practice_answer_plan_and_lab_become_statements(tutor: Tutor) -> None:
    item = next(i for i in tutor.practice.items.values() if i.kind == "multiple_choice")
    tutor.practice.answer("bea", item.id, item.right_choice)
    tutor.store.save_plan("bea", {"items": [{"topic_id": "m1.numpy", "minutes": 30},
                                            {"topic_id": "m1.pandas", "minutes": 20}], "goal": "arrays"})  # fmt: skip
    answered, plan = statements(tutor)
    assert answered["verb"]["id"] == VERBS["answered"]
    assert answered["object"]["id"] == f"{BASE}/practice/{item.id}"
    assert answered["object"]["definition"]["interactionType"] == "choice"
    assert answered["result"] == {"success": True, "completion": True, "response": str(item.right_choice)}
    assert "correctResponsesPattern" not in json.dumps(answered)  # no right answers in the LRS
    assert (
        plan["verb"]["id"] == VERBS["registered"]
        and "arrays" in plan["object"]["definition"]["name"]["en-US"]
    )
    assert [a["id"] for a in plan["context"]["contextActivities"]["other"]] == [
        f"{BASE}/topics/m1.numpy", f"{BASE}/topics/m1.pandas"]  # fmt: skip


def test_lab_steps_and_one_completion(tutor: Tutor) -> None:
    lab = tutor.labs.labs["pandas-passengers"]
    steps = [s.id for s in lab.steps]
    tutor.store.record_lab_step("cy", lab.id, steps[0], False, "not yet")
    for s in steps:
        tutor.store.record_lab_step("cy", lab.id, s, True, "ok")
    tutor.store.record_lab_step("cy", lab.id, steps[0], True, "ok again")  # no second completion
    tutor.learner_model.record_attempt("cy", f"lab:{lab.id}/{steps[0]}", "m1.pandas", True, 1.0)  # evidence
    sts = statements(tutor)
    verbs = [s["verb"]["display"]["en-US"] for s in sts]
    assert verbs == ["failed"] + ["passed"] * len(steps) + ["completed", "passed"]
    first = sts[0]
    assert first["object"]["id"] == f"{BASE}/labs/pandas-passengers/steps/{steps[0]}"
    assert first["context"]["contextActivities"]["parent"][0]["id"] == f"{BASE}/labs/pandas-passengers"
    done = sts[len(steps) + 1]
    assert done["object"]["id"] == f"{BASE}/labs/pandas-passengers" and done["result"]["completion"] is True


def test_no_statement_without_its_record_and_a_broken_builder_keeps_the_record(
    tutor: Tutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_a: Any) -> None:
        raise RuntimeError("disk full")

    tutor.store.listeners.append(boom)  # a later failure in the same transaction...
    with pytest.raises(RuntimeError):
        tutor.store.add_attempt("dee", "numpy-mean", "m1.numpy", True, 1.0)
    assert tutor.store.attempts("dee") == [] and statements(tutor) == []  # ...rolls back both
    tutor.store.listeners.remove(boom)
    monkeypatch.setattr(Statements, "attempt", lambda self, row: boom())
    tutor.store.add_attempt("dee", "numpy-mean", "m1.numpy", True, 1.0)
    assert len(tutor.store.attempts("dee")) == 1 and statements(tutor) == []


def test_without_an_lrs_nothing_is_queued(tmp_path: Path) -> None:
    t = fake_tutor(tmp_path / "var")
    t.grade("numpy-mean", "pass", learner_id="ada")
    assert t.xapi is None and t.store.listeners == [] and statements(t) == []
    assert "xapi_outbox" in inspect(t.store.engine).get_table_names()


# --- sending ---
def sender(tutor: Tutor, handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> XapiSender:
    return XapiSender(Outbox(tutor.store), LRS, "U", "P", transport=httpx.MockTransport(handler), **kw)


def queue(tutor: Tutor, n: int) -> None:
    for i in range(n):
        tutor.store.add_attempt(f"l{i}", "numpy-mean", "m1.numpy", i % 2 == 0, 1.0 if i % 2 == 0 else 0.0)


def test_delivery_posts_a_batch_with_basic_auth_and_empties_the_outbox(tutor: Tutor) -> None:
    seen: list[httpx.Request] = []

    def lrs(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json=[s["id"] for s in json.loads(req.content)])

    queue(tutor, 3)
    ids = [s["id"] for s in statements(tutor)]
    assert sender(tutor, lrs).send_due() == 3
    (req,) = seen
    assert str(req.url) == "http://lrs.test/xAPI/statements" and req.method == "POST"
    assert req.headers["X-Experience-API-Version"] == "1.0.3"
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"U:P").decode()
    assert [s["id"] for s in json.loads(req.content)] == ids
    assert Outbox(tutor.store).count() == 0


@pytest.mark.parametrize("failure", ["503", "connect"])
def test_a_down_lrs_keeps_statements_and_backs_off(tutor: Tutor, failure: str) -> None:
    def lrs(req: httpx.Request) -> httpx.Response:
        if failure == "connect":
            raise httpx.ConnectError("connection refused", request=req)
        return httpx.Response(503, text="maintenance")

    queue(tutor, 2)
    s = sender(tutor, lrs, base_delay_s=60.0)
    assert s.send_due() == 0
    out = Outbox(tutor.store)
    assert out.count() == 2 and out.due() == []  # waiting for their next try
    soon, later = datetime.now(UTC) + timedelta(seconds=30), datetime.now(UTC) + timedelta(seconds=61)
    assert out.due(now=soon) == [] and len(out.due(now=later)) == 2
    with tutor.store.engine.connect() as conn:
        rows = conn.execute(select(xapi_outbox.c.tries, xapi_outbox.c.last_error)).all()
    assert {r.tries for r in rows} == {1}
    assert all(("503" if failure == "503" else "ConnectError") in r.last_error for r in rows)


def test_backoff_doubles_up_to_the_cap(tutor: Tutor) -> None:
    s = sender(tutor, lambda r: httpx.Response(200), base_delay_s=2.0, max_delay_s=30.0)
    delays = [s.delay_s(n) for n in (1, 2, 3, 4, 10)]
    assert 1.6 <= delays[0] <= 2.0 and 3.2 <= delays[1] <= 4.0 and 6.4 <= delays[2] <= 8.0
    assert 24.0 <= delays[4] <= 30.0


def test_conflicts_and_bad_statements_are_sorted_out_one_by_one(tutor: Tutor) -> None:
    queue(tutor, 3)
    known, bad = (s["id"] for s in statements(tutor)[:2])

    def lrs(req: httpx.Request) -> httpx.Response:
        batch = json.loads(req.content)
        ids = [st["id"] for st in batch]
        if known in ids:
            return httpx.Response(409, json={"detail": "already exists"})  # stored by an earlier try
        if bad in ids:
            return httpx.Response(400, json={"detail": "invalid"})
        return httpx.Response(200, json=ids)

    assert sender(tutor, lrs).send_due() == 2  # the known one (409) and the third
    (left,) = statements(tutor)
    assert left["id"] == bad  # kept, with its error, for a person to look at: never dropped


def test_the_background_thread_delivers_soon_after_a_record(tutor: Tutor) -> None:
    got: list[str] = []

    def lrs(req: httpx.Request) -> httpx.Response:
        got.extend(st["id"] for st in json.loads(req.content))
        return httpx.Response(200)

    s = sender(tutor, lrs, poll_s=30.0)  # woken by the record, not by the poll
    tutor.__dict__["xapi"] = s
    s.start()
    try:
        t0 = time.monotonic()
        tutor.grade("numpy-mean", "pass", learner_id="eve")
        while not got and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        assert len(got) == 1 and Outbox(tutor.store).count() == 0
    finally:
        s.close()


def test_the_app_starts_the_sender_and_stops_it(tutor: Tutor) -> None:
    from fastapi.testclient import TestClient

    from app import create_app

    got: list[dict[str, Any]] = []

    def lrs(req: httpx.Request) -> httpx.Response:
        got.extend(json.loads(req.content))
        return httpx.Response(200)

    s = sender(tutor, lrs, poll_s=30.0)
    tutor.__dict__["xapi"] = s
    with TestClient(create_app(tutor.settings, tutor, warm_up=False)) as client:
        r = client.post("/api/grade", json={"exercise_id": "numpy-mean", "code": "pass", "learner_id": "fay"})
        assert r.status_code == 200  # answered without waiting for the LRS
        t0 = time.monotonic()
        while not got and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        assert [st["actor"]["account"]["name"] for st in got] == ["fay"]
    assert s._thread is not None and not s._thread.is_alive()  # closed with the app
