"""Training text comes only from <data dir>/datasets/ or the notes, for every caller: the rule
lives once, in the job manager the Tutor builds (tools/training/spec.py), so HTTP, the Train tab,
the chat agent's tool and the CLI are all refused the same way. The real JobManager is used; a
refused job never starts a worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.ui_helpers import fake_tutor
from tutor.errors import Forbidden
from tutor.service import Tutor
from tutor.web import api

OUTSIDE = ["/etc/passwd", "../tutor.db", "../../../../etc/shadow"]


def real_jobs_tutor(tmp_path: Path, **settings: Any) -> Tutor:
    tutor = fake_tutor(tmp_path / "var", **settings)
    tutor.__dict__.pop("jobs")  # the real JobManager, with the rule
    (tutor.settings.data_dir / "tutor.db").touch()
    return tutor


@pytest.mark.parametrize("data", OUTSIDE)
def test_http_refuses_files_outside_the_datasets_folder(tmp_path: Path, data: str) -> None:
    tutor = real_jobs_tutor(tmp_path)
    app = FastAPI()
    app.state.tutor = tutor
    api.install(app)
    r = TestClient(app).post("/api/jobs", json={"kind": "gpt", "params": {"data": data}})
    assert r.status_code == 403 and "datasets" in r.json()["error"]["message"]
    assert tutor.jobs.list() == []


@pytest.mark.parametrize("data", OUTSIDE)
def test_the_train_tab_refuses_files_outside_the_datasets_folder(tmp_path: Path, data: str) -> None:
    from tutor.web.ui.train import TrainHandlers

    tutor = real_jobs_tutor(tmp_path)
    job_id, message, _ = TrainHandlers(tutor).submit(
        "gpt", data, "scratch", 5, 2, 1, 32, None, "", "", "{}", "ada"
    )
    assert job_id is None and "datasets" in message
    assert tutor.jobs.list() == []


@pytest.mark.parametrize("data", OUTSIDE)
def test_the_agents_training_tool_refuses_files_outside_the_datasets_folder(
    tmp_path: Path, data: str
) -> None:
    from langchain_core.messages import AIMessage

    from tutor.agent.tools import tools_node

    tutor = real_jobs_tutor(tmp_path)

    class Svc:
        jobs = tutor.jobs

    call = {"name": "start_training", "args": {"kind": "gpt", "params": {"data": data}}, "id": "c1"}
    out = tools_node(Svc(), {"learner_id": "ada", "messages": [AIMessage(content="", tool_calls=[call])]})  # type: ignore[arg-type]
    (msg,) = out["messages"]
    assert msg.status == "error" and "datasets" in json.loads(msg.content)["error"]
    assert not out.get("pending_jobs") and out["tool_calls"][0]["status"] == "failed"
    assert tutor.jobs.list() == []


def test_the_cli_refuses_files_outside_the_datasets_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tutor import cli

    monkeypatch.setenv("TUTOR_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(cli.app, ["train", "gpt", "--data", "/etc/passwd", "--max-steps", "5"])
    assert result.exit_code == Forbidden.exit_code and "datasets" in result.output


def test_a_file_in_the_datasets_folder_and_the_notes_are_accepted(tmp_path: Path) -> None:
    from tools.training.spec import validate_job

    tutor = real_jobs_tutor(tmp_path)
    (tutor.settings.datasets_dir / "poems.txt").write_text("roses are red, violets are blue\n" * 20)
    roots = [tutor.settings.datasets_dir, tutor.settings.notes_dir]
    spec = validate_job(
        "gpt", {"data": "poems.txt", "base": "scratch"}, registry=tutor.jobs.registry, data_roots=roots
    )
    assert spec["resolved"]["data"]["paths"] == [str(tutor.settings.datasets_dir / "poems.txt")]
    note = sorted(tutor.settings.notes_dir.glob("*.md"))[0]
    validate_job(
        "gpt", {"data": str(note), "base": "scratch"}, registry=tutor.jobs.registry, data_roots=roots
    )
