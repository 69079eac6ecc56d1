"""Labs through the service, the HTTP API, the store, the planner, the intent rules, the chat node
and the Code tab's handlers, with an in-process stand-in kernel (``ExecKernels``: NOT a sandbox,
tests only; the real sandbox runs in tests/integration/test_labs_*.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from curriculum.labs import load_labs
from curriculum.labs.notebook import generate
from curriculum.labs.selfcheck import load_solution
from curriculum.planner import schedule_labs, validate_plan
from tests.ui_helpers import fake_tutor
from tests.unit.test_labs import ExecKernels
from tutor.agent.intent import rule_intent
from tutor.service import Tutor
from tutor.web import api

LAB = "gradient-descent-attention"


def make(tmp_path: Path, **settings: Any) -> tuple[TestClient, Tutor]:
    tutor = fake_tutor(tmp_path / "var", **settings)
    tutor.__dict__["kernels"] = ExecKernels(tmp_path)
    app = FastAPI()
    app.state.tutor = tutor
    api.install(app)
    return TestClient(app), tutor


@pytest.fixture
def client(tmp_path: Path) -> tuple[TestClient, Tutor]:
    return make(tmp_path)


def solved_notebook(lab_id: str = LAB, skip: str | None = None) -> bytes:
    sol = load_solution(lab_id)
    nb = generate(load_labs(strict=False)[lab_id])
    for cell in nb["cells"]:
        step = cell.get("metadata", {}).get("tutor", {}).get("step")
        if step and step != skip:
            cell["source"] = sol[step]
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "__LAB__{}"}] if step else []
    return json.dumps(nb).encode()


def test_list_and_show_labs(client: tuple[TestClient, Tutor]) -> None:
    c, _ = client
    labs = c.get("/api/labs").json()["labs"]
    assert {LAB, "pandas-passengers", "text-eda-tokens"} <= {x["id"] for x in labs}
    one = next(x for x in labs if x["id"] == LAB)
    assert {"id", "title", "module", "topics", "steps"} <= set(one)
    assert all(set(s) == {"id", "title"} for s in one["steps"])
    full = c.get(f"/api/labs/{LAB}").json()
    assert full["steps"][0]["text"] and "TODO" in full["steps"][0]["starter"]
    assert not any("probe" in s or "check" in s for s in full["steps"])
    r = c.get("/api/labs/no-such-lab")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert c.get("/api/labs/no-such-lab/notebook").status_code == 404


def test_notebook_download(client: tuple[TestClient, Tutor]) -> None:
    c, _ = client
    r = c.get(f"/api/labs/{LAB}/notebook")
    assert r.status_code == 200 and "ipynb" in r.headers["content-type"]
    assert f'filename="{LAB}.ipynb"' in r.headers["content-disposition"]
    nb = r.json()
    assert nb["nbformat"] == 4 and nb["metadata"]["tutor"]["lab"] == LAB


def test_submit_grades_step_by_step_and_records_progress(client: tuple[TestClient, Tutor]) -> None:
    c, tutor = client
    r = c.post(f"/api/labs/{LAB}/submit", files={"file": ("lab.ipynb", solved_notebook())},
               data={"learner_id": "ada"})  # fmt: skip
    assert r.status_code == 200, r.text
    report = r.json()
    assert set(report) == {"lab_id", "steps", "passed"} and report["passed"] is True
    assert all(set(s) == {"id", "passed", "message"} and s["passed"] for s in report["steps"])
    prog = c.get("/api/learners/ada/labs").json()["labs"][0]
    assert prog["lab_id"] == LAB and prog["done"] == prog["total"] == 6 and prog["next_step"] is None
    attempts = tutor.store.attempts("ada")
    assert {a["exercise_id"] for a in attempts} >= {f"lab:{LAB}/design-matrix", f"lab:{LAB}/causal-mask"}
    assert all(a["passed"] for a in attempts)
    again = c.post(f"/api/labs/{LAB}/submit", files={"file": ("lab.ipynb", solved_notebook())},
                   data={"learner_id": "ada"})  # fmt: skip
    assert again.json()["passed"] and len(tutor.store.attempts("ada")) == len(attempts)  # evidence once


def test_submit_starter_fails_the_first_step_with_a_message(client: tuple[TestClient, Tutor]) -> None:
    c, _ = client
    nb = c.get(f"/api/labs/{LAB}/notebook").content
    report = c.post(
        f"/api/labs/{LAB}/submit", files={"file": ("x.ipynb", nb)}, data={"learner_id": "bo"}
    ).json()
    first = report["steps"][0]
    assert not report["passed"] and not first["passed"] and "None" in first["message"]


@pytest.mark.parametrize(
    ("body", "what"), [(b"{oops", "JSON"), (b'{"cells": []}', "nbformat"), (b"", "empty")]
)
def test_bad_uploads_are_400(client: tuple[TestClient, Tutor], body: bytes, what: str) -> None:
    c, _ = client
    r = c.post(f"/api/labs/{LAB}/submit", files={"file": ("x.ipynb", body)}, data={"learner_id": "ada"})
    assert (
        r.status_code == 400
        and r.json()["error"]["code"] == "bad_input"
        and what in r.json()["error"]["message"]
    )


def test_check_one_step_in_the_learners_kernel(client: tuple[TestClient, Tutor]) -> None:
    c, _ = client
    sol = load_solution(LAB)
    url = f"/api/labs/{LAB}/steps/design-matrix/check"
    bad = c.post(url, json={"learner_id": "cy", "code": "y = None\nXb = None"}).json()
    assert not bad["passed"] and bad["hint"] and bad["next_step"] == "design-matrix"
    ok = c.post(url, json={"learner_id": "cy", "code": sol["design-matrix"]}).json()
    assert ok["passed"] and ok["next_step"] == "loss-and-gradient" and ok["progress"]["done"] == 1
    # the kernel keeps state: the next step uses Xb and y from the previous one
    nxt = c.post(f"/api/labs/{LAB}/steps/loss-and-gradient/check",
                 json={"learner_id": "cy", "code": sol["loss-and-gradient"]}).json()  # fmt: skip
    assert nxt["passed"], nxt["message"]
    assert (
        c.post(f"/api/labs/{LAB}/steps/nope/check", json={"learner_id": "cy", "code": "1"}).status_code == 404
    )


def test_learner_keys_act_only_as_their_learner(tmp_path: Path) -> None:
    c, _ = make(tmp_path, api_keys="ak:ada,root:admin")
    ada = {"Authorization": "Bearer ak"}
    assert c.get("/api/labs").status_code == 401
    assert c.get("/api/labs", headers=ada).status_code == 200
    r = c.post(f"/api/labs/{LAB}/submit", headers=ada, files={"file": ("x.ipynb", solved_notebook())},
               data={"learner_id": "bob"})  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert c.get("/api/learners/bob/labs", headers=ada).status_code == 403
    assert c.get("/api/learners/ada/labs", headers=ada).status_code == 200
    assert c.post(f"/api/labs/{LAB}/steps/design-matrix/check", headers=ada,
                  json={"learner_id": "bob", "code": "1"}).status_code == 403  # fmt: skip
    r = c.post(
        "/api/labs/nope/submit", headers=ada, files={"file": ("x.ipynb", b"{}")}, data={"learner_id": "ada"}
    )
    assert r.status_code == 404
    admin = c.get("/api/learners/bob/labs", headers={"Authorization": "Bearer root"})
    assert admin.status_code == 200 and admin.json() == {"labs": []}


def test_store_counts_the_first_pass_only(tmp_path: Path) -> None:
    from storage.store import Store

    s = Store(f"sqlite:///{tmp_path / 'x.db'}")
    assert [s.record_lab_step("a", "l", "one", p, "m") for p in (False, True, True, False)] == [
        False,
        True,
        False,
        False,
    ]
    (run,) = s.lab_progress("a")
    assert run["steps"]["one"] == {**run["steps"]["one"], "passed": False, "ever_passed": True, "attempts": 4}
    s.touch_lab("a", "l", current_step="two", job_id="gpt-1")
    assert s.lab_progress("a", "l")[0]["job_id"] == "gpt-1" and s.lab_progress("b") == []


def test_the_planner_schedules_unfinished_labs(tmp_path: Path) -> None:
    _, tutor = make(tmp_path)
    items = [{"topic_id": "m1.numpy", "activity": "study", "minutes": 30},
             {"topic_id": "m1.pandas", "activity": "practice", "minutes": 45}]  # fmt: skip
    labs = tutor.labs.open_by_topic("ada")
    assert labs["m1.pandas"] == "pandas-passengers"
    planned = schedule_labs(items, labs)
    assert planned[1] == {
        "topic_id": "m1.pandas",
        "activity": "lab",
        "minutes": 45,
        "lab_id": "pandas-passengers",
    }
    assert planned[0] == items[0]
    assert validate_plan(tutor.catalog, planned, {}, 2, practice_topics=["m1.pandas"]) == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [("start the pandas lab", "lab"), ("where was I?", "lab"), ("which labs are there?", "lab"),
     ("resume my lab", "lab"), ("label the axes of my plot", None), ("resume job gpt-0a1b2c3d", "train")],
)  # fmt: skip
def test_lab_intent_rules(text: str, intent: str | None) -> None:
    got = rule_intent(text)
    assert (got.intent if got else None) == intent


def test_chat_starts_resumes_and_lists_labs(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from langchain_core.messages import HumanMessage

    from tutor.agent.nodes.labs import lab_node

    _, tutor = make(tmp_path)
    svc: Any = SimpleNamespace(labs=tutor.labs)

    def say(text: str) -> dict[str, Any]:
        return lab_node(svc, {"learner_id": "dee", "messages": [HumanMessage(text)]})

    assert "not started a lab" in say("where was I?")["reply"]
    out = say("start the pandas lab")
    assert "Explore a passenger manifest" in out["reply"] and "Step 1 of 6: Load the manifest" in out["reply"]
    assert "```python" in out["reply"] and out["current_topic"] == "m1.pandas"
    tutor.labs.check_step("dee", "pandas-passengers", "load", load_solution("pandas-passengers")["load"], "k")
    back = say("where was I?")["reply"]
    assert "You were working on" in back and "Step 2 of 6" in back and "1 of 6 steps passed" in back
    assert "text-eda-tokens" in say("which labs are there?")["reply"]
    assert "Step 1 of 6" in say("open the module 3 lab")["reply"]


def test_code_tab_handlers_open_and_check_a_lab(tmp_path: Path) -> None:
    from tutor.web.ui.labs import LabHandlers

    _, tutor = make(tmp_path)
    h = LabHandlers(tutor)
    assert (f"m2 · {tutor.labs.get(LAB)['title']}", LAB) in h.choices()
    step, text, editor, progress, verdict = h.open_lab(LAB, "eve", "tab1")
    assert step["value"] == "design-matrix" and "Step 1 of 6" in text and "TODO" in editor["value"]
    assert "0/6" in progress and not verdict
    out = h.check(LAB, "design-matrix", load_solution(LAB)["design-matrix"], "eve", "tab1")
    assert out[0].startswith("✓") and "1/6" in out[2] and out[1]["choices"][0][0].startswith("✓")
    fail = h.check(LAB, "loss-and-gradient", "def mse(w, X, y):\n    return 0.0\n", "eve", "tab1")
    assert fail[0].startswith("✗") and "Hint" in fail[0]
    text2, editor2, _ = h.open_step(LAB, "attention")
    assert "Step 5 of 6" in text2 and "def attention" in editor2["value"]
    assert h.check(None, None, "", "eve", "tab1")[0].startswith("⚠")
