"""``POST /api/chat/stream`` when the tutor fails after the stream began: its 200 is already sent,
so the stream ends with one ``error`` event in the API's error shape (a bug: ``internal`` with a
logged id, never the exception's text) instead of stopping short like a dropped connection."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.ui_helpers import fake_tutor
from tutor.errors import Unavailable
from tutor.web import api

SECRET = "password=hunter2 in /srv/secret/path"


def client_with(tmp_path: Path, fail: Callable[[], Exception]) -> TestClient:
    """A tutor whose chat stream sends one token, then raises ``fail()``."""
    tutor = fake_tutor(tmp_path / "var")

    def chat_stream(learner_id: str, message: str, thread_id: str | None = None) -> Generator[dict[str, Any]]:
        yield {"event": "token", "data": "Hel"}
        raise fail()

    tutor.chat_stream = chat_stream  # type: ignore[method-assign]
    app = FastAPI()
    app.state.tutor = tutor
    api.install(app)
    return TestClient(app)


def events_of(client: TestClient) -> tuple[int, list[tuple[str, Any]]]:
    with client.stream("POST", "/api/chat/stream", json={"learner_id": "ada", "message": "hello"}) as r:
        text = "".join(r.iter_text())
    out = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        out.append((fields["event"], json.loads(fields["data"])))
    return r.status_code, out


def test_a_bug_mid_stream_ends_it_with_an_internal_error_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_with(tmp_path, lambda: RuntimeError(SECRET))
    with caplog.at_level(logging.ERROR, logger="tutor.errors"):
        status, events = events_of(client)
    assert status == 200
    assert [name for name, _ in events] == ["token", "error"]  # the token, then one error, then the end
    err = events[-1][1]["error"]
    assert set(err) == {"code", "message", "id"} and err["code"] == "internal"
    assert err["id"] in err["message"] and "hunter2" not in json.dumps(events)
    logged = [r for r in caplog.records if err["id"] in r.getMessage()]
    assert logged and SECRET in logged[0].getMessage() and logged[0].exc_info  # the operator sees it


def test_a_typed_error_mid_stream_keeps_its_code_and_message(tmp_path: Path) -> None:
    client = client_with(tmp_path, lambda: Unavailable("the model went away; try again in a minute"))
    status, events = events_of(client)
    assert status == 200 and [name for name, _ in events] == ["token", "error"]
    assert events[-1][1] == {
        "error": {"code": "unavailable", "message": "the model went away; try again in a minute"}
    }


def test_an_error_before_the_first_event_is_still_a_plain_json_error(tmp_path: Path) -> None:
    tutor = fake_tutor(tmp_path / "var")

    def chat_stream(learner_id: str, message: str, thread_id: str | None = None) -> Generator[dict[str, Any]]:
        raise Unavailable("no model yet")
        yield {}  # a generator, as the real one

    tutor.chat_stream = chat_stream  # type: ignore[method-assign]
    app = FastAPI()
    app.state.tutor = tutor
    api.install(app)
    r = TestClient(app).post("/api/chat/stream", json={"learner_id": "ada", "message": "hello"})
    assert r.status_code == 503 and r.json() == {"error": {"code": "unavailable", "message": "no model yet"}}


def test_v1_stream_ends_with_an_openai_style_error_chunk(tmp_path: Path) -> None:
    """``/v1/chat/completions`` streaming: a bug after the first chunk ends the stream with one
    ``data: {"error": {...}}`` (OpenAI's clients raise it as an APIError), no ``[DONE]``."""
    client = client_with(tmp_path, lambda: RuntimeError(SECRET))
    body = {"model": "tutor", "stream": True, "user": "ada", "messages": [{"role": "user", "content": "hi"}]}
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        text = "".join(r.iter_text())
    datas = [
        line[len("data: ") :] for line in text.replace("\r\n", "\n").splitlines() if line.startswith("data: ")
    ]
    assert r.status_code == 200 and "[DONE]" not in datas
    assert json.loads(datas[1])["choices"][0]["delta"] == {"content": "Hel"}
    err = json.loads(datas[-1])["error"]
    assert err["code"] == "internal" and err["id"] and "hunter2" not in text
