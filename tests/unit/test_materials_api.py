"""``/api/materials`` (tutor/web/api/materials.py) and ``tutor materials`` (tutor/cli/materials.py):
uploads with per-file errors, who may add and remove (teacher or admin; a learner key gets 403),
listing, reading and removing, over real Chroma with the hashing embedder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.embedding import HashingEmbedder
from knowledge.index import NoteIndex
from tests.unit.test_api import make_client
from tutor.service import Tutor

FILES = Path(__file__).resolve().parents[1] / "data" / "materials"
NOTES = Path(__file__).resolve().parents[1] / "data" / "sample_notes"
KEYS = "tk:teacher,ak:admin,lk:ada"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def upload(*names: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (n, (FILES / n).read_bytes(), "application/octet-stream")) for n in names]


def hashing_notes(tutor: Tutor) -> None:
    """The notes index the materials sit next to, with the hashing embedder (no model load)."""
    s = tutor.settings
    tutor.__dict__["index"] = NoteIndex(NOTES, chroma_dir=s.chroma_dir, embedder=HashingEmbedder())
    tutor.index.build()


@pytest.fixture
def keyed(tmp_path: Path) -> tuple[TestClient, Tutor]:
    client, tutor = make_client(tmp_path, api_keys=KEYS)
    hashing_notes(tutor)
    return client, tutor


def test_teacher_adds_files_and_everyone_reads_them(keyed: tuple[TestClient, Tutor]) -> None:
    client, _ = keyed
    r = client.post("/api/materials", files=upload("kalman.md", "bloom.pdf"), headers=auth("tk"))
    assert r.status_code == 200, r.text
    added = r.json()["added"]
    assert [(a["source_name"], a["kind"], a["uploader"]) for a in added] == [
        ("kalman.md", "markdown", "teacher"),
        ("bloom.pdf", "pdf", "teacher"),
    ]
    assert r.json()["errors"] == []
    kalman = added[0]
    assert kalman["link"] == f"/api/materials/{kalman['id']}" and len(kalman["content_hash"]) == 64
    listed = client.get("/api/materials", headers=auth("lk")).json()  # learners read: answers cite it
    assert sorted(m["id"] for m in listed) == sorted(a["id"] for a in added)
    one = client.get(kalman["link"], headers=auth("lk"))
    assert one.status_code == 200 and one.json()["text"].startswith("# Kalman filters")
    assert client.get("/api/materials/nope", headers=auth("lk")).status_code == 404


def test_a_learner_key_may_not_add_or_remove_and_no_key_is_401(keyed: tuple[TestClient, Tutor]) -> None:
    client, tutor = keyed
    r = client.post("/api/materials", files=upload("kalman.md"), headers=auth("lk"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.post("/api/materials", files=upload("kalman.md")).status_code == 401
    assert client.post("/api/materials", files=upload("kalman.md"), headers=auth("nope")).status_code == 401
    assert tutor.materials.list() == []
    mid = client.post("/api/materials", files=upload("kalman.md"), headers=auth("ak")).json()["added"][0][
        "id"
    ]
    assert client.delete(f"/api/materials/{mid}", headers=auth("lk")).status_code == 403
    assert client.get("/api/materials", headers=auth("lk")).json()[0]["uploader"] == "admin"
    r = client.delete(f"/api/materials/{mid}", headers=auth("tk"))
    assert r.status_code == 200 and r.json()["id"] == mid
    assert client.get(f"/api/materials/{mid}", headers=auth("tk")).status_code == 404
    assert client.delete(f"/api/materials/{mid}", headers=auth("tk")).status_code == 404
    assert client.get("/api/materials", headers=auth("tk")).json() == []


def test_bad_files_are_named_one_by_one_and_nothing_of_them_is_indexed(
    keyed: tuple[TestClient, Tutor],
) -> None:
    client, tutor = keyed
    files = upload("kalman.md", "corrupt.pdf") + [("files", ("notes.docx", b"PK\x03\x04", "x"))]
    r = client.post("/api/materials", files=files, headers=auth("tk"))
    assert r.status_code == 200
    body = r.json()
    assert [a["source_name"] for a in body["added"]] == ["kalman.md"]
    assert [e["file"] for e in body["errors"]] == ["corrupt.pdf", "notes.docx"]
    assert body["errors"][0]["error"].startswith("corrupt.pdf: not a readable PDF")
    assert [m["source_name"] for m in tutor.materials.list()] == ["kalman.md"]
    assert {c.metadata["material"] for c in tutor.materials.index.stored_chunks()} == {body["added"][0]["id"]}
    r = client.post("/api/materials", files=upload("corrupt.pdf"), headers=auth("tk"))  # all bad: 400
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "bad_input" and "corrupt.pdf: not a readable PDF" in err["message"]
    assert err["details"]["errors"][0]["file"] == "corrupt.pdf"


def test_too_big_per_file_and_re_adding_replaces(tmp_path: Path) -> None:
    client, tutor = make_client(tmp_path, max_material_bytes=5_000, max_body_bytes=1_000)
    hashing_notes(tutor)
    r = client.post("/api/materials", files=upload("bloom.pdf"))  # no keys: loopback, uploader "local"
    assert (
        r.status_code == 400
        and "bloom.pdf: 13.6 KB is over the limit of 5.0 KB" in r.json()["error"]["message"]
    )
    big = [("files", ("big.md", b"# Big\n\n" + b"word " * 5_000, "text/markdown"))]  # over 4 x 5 KB
    assert client.post("/api/materials", files=big).status_code == 413
    assert client.post("/api/chat", json={"learner_id": "ada", "message": "x" * 2_000}).status_code == 413
    first = client.post("/api/materials", files=upload("kalman.md")).json()["added"][0]
    again = client.post("/api/materials", files=upload("kalman.md")).json()["added"][0]
    assert (again["id"], again["uploader"]) == (first["id"], "local")
    assert len(client.get("/api/materials").json()) == 1


def test_the_cli_adds_lists_shows_and_removes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from tutor import cli

    runner = CliRunner()
    made: list[Tutor] = []

    class HashingTutor(Tutor):
        def __init__(self, settings: Any, **kw: Any) -> None:
            super().__init__(settings, **kw)
            hashing_notes(self)
            made.append(self)

    monkeypatch.setattr("tutor.service.Tutor", HashingTutor)
    monkeypatch.setenv("TUTOR_DATA_DIR", str(tmp_path / "var"))
    res = runner.invoke(
        cli.app, ["materials", "add", str(FILES / "kalman.md"), str(FILES / "corrupt.pdf"), "--json"]
    )
    assert res.exit_code == 2, res.output  # one file failed
    out = json.loads(res.stdout)
    assert [a["source_name"] for a in out["added"]] == ["kalman.md"]
    assert out["added"][0]["uploader"] == "cli" and out["errors"][0]["file"] == "corrupt.pdf"
    mid = out["added"][0]["id"]
    res = runner.invoke(cli.app, ["materials", "list"])
    assert res.exit_code == 0 and mid in res.stdout and "Kalman filters" in res.stdout
    res = runner.invoke(cli.app, ["materials", "show", mid])
    assert res.exit_code == 0 and "## Predict step" in res.stdout
    res = runner.invoke(cli.app, ["materials", "add", str(tmp_path / "missing.md")])
    assert res.exit_code == 2 and "missing.md: cannot be read" in res.output
    assert runner.invoke(cli.app, ["materials", "remove", mid]).exit_code == 0
    res = runner.invoke(cli.app, ["materials", "remove", mid])
    assert res.exit_code == 2 and "not found" in res.output
    assert runner.invoke(cli.app, ["materials", "list"]).stdout.strip() == "no materials yet"


def test_a_chat_turn_answers_from_the_material_with_its_citation(tmp_path: Path) -> None:
    """The wiring: Tutor.materials -> the graph's Services -> Explainer.materials, over the real
    notes (hashing embedder, so a lower similarity floor than the real model's)."""
    from knowledge.materials import MaterialSearch
    from tests.agent_helpers import real_tutor
    from tutor.agent.nodes import NoCards

    tutor = real_tutor(tmp_path / "var")
    tutor.__dict__["cards"] = NoCards()  # no card matches (and no model load to embed them)
    try:
        tutor.materials.__dict__["search"] = MaterialSearch(tutor.materials.index, min_similarity=0.2)
        mid = tutor.materials.add([("kalman.md", (FILES / "kalman.md").read_bytes())], "teacher")["added"][0][
            "id"
        ]
        out = tutor.chat("ada", "In a Kalman filter, what does the predict step do to the state estimate?")
        assert out["reply"].startswith("From your teacher's material **Kalman filters › Predict step**"), out[
            "reply"
        ]
        assert {"topic_id": "material", "source": f"/api/materials/{mid}", "section": "Predict step"} in out[
            "citations"
        ]
        plain = tutor.explain("In a Kalman filter, what does the predict step do to the state estimate?")
        assert plain["kind"] == "material"
    finally:
        tutor.close()
