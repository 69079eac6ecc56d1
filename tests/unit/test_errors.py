"""The error rule (tutor/errors.py, docs/contract.md "Errors"): a typed error keeps its status; any
other exception is a bug, so every face answers 500 ``internal`` with an id that is also in the
log with the traceback, never a 4xx that blames the caller."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer

from tests.unit.test_api import make_client
from tutor import cli
from tutor.errors import (
    BadInput,
    Conflict,
    Forbidden,
    Internal,
    NotFound,
    TutorError,
    Unavailable,
    translate_errors,
)

ID = re.compile(r"error id ([0-9a-f]{12})")


def logged_ids(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Ids of the internal errors logged with a traceback."""
    return [m.group(1) for r in caplog.records if r.exc_info and (m := ID.search(f"error id {r.args[0]}"))]  # type: ignore[index]


@pytest.mark.parametrize(
    "cls,builtin,status",
    [
        (BadInput, ValueError, 400),
        (NotFound, LookupError, 404),
        (Forbidden, PermissionError, 403),
        (Conflict, RuntimeError, 409),
        (Unavailable, RuntimeError, 503),
    ],
)
def test_typed_errors_are_also_the_builtin_they_resemble(
    cls: type[TutorError], builtin: type, status: int
) -> None:
    """Old ``except ValueError`` code keeps catching what now raises ``BadInput``."""
    with pytest.raises(builtin) as info:
        raise cls("the message")
    assert info.value.status == status and str(info.value) == "the message"


@pytest.mark.parametrize(
    "bug", [KeyError("key k"), ValueError("bad v"), LookupError("no l"), RuntimeError("died r")]
)
def test_translate_errors_turns_any_untyped_exception_into_a_logged_internal(
    bug: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="tutor.errors"), pytest.raises(Internal) as info:
        with translate_errors():
            raise bug
    err = info.value
    assert err.status == 500 and err.code == "internal" and err.__cause__ is bug
    assert f"error id {err.error_id}" in err.message and str(bug) not in err.message
    assert logged_ids(caplog) == [err.error_id]


def test_translate_errors_lets_typed_errors_through() -> None:
    with pytest.raises(NotFound):
        with translate_errors():
            raise NotFound("no such thing")


def _boom(exc: Exception) -> Any:
    def f(*_a: Any, **_k: Any) -> Any:
        raise exc

    return f


@pytest.mark.parametrize(
    "exc,status",
    [
        (KeyError("a dict key, deep inside"), 500),
        (ValueError("a bug, not the caller's input"), 500),
        (NotFound("learner 'ada' not found"), 404),
        (BadInput("hours must be > 0"), 400),
    ],
)
def test_api_maps_typed_errors_to_their_status_and_bugs_to_500_with_an_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, exc: Exception, status: int
) -> None:
    client, tutor = make_client(tmp_path)
    tutor.learner_model.progress = _boom(exc)  # deep inside the use case, under translate_errors
    with caplog.at_level(logging.ERROR, logger="tutor.errors"):
        r = client.get("/api/learners/ada/progress")
    assert r.status_code == status
    error = r.json()["error"]
    if status == 500:
        assert error["code"] == "internal" and logged_ids(caplog) == [error["id"]]
        assert error["id"] in error["message"] and str(exc) not in error["message"]
    else:
        assert error["message"] == str(exc) and "id" not in error


def test_api_bug_outside_translate_errors_is_still_500_with_the_logged_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``GET /api/threads/{id}`` reads the store directly: a KeyError there is not a 404."""
    client, tutor = make_client(tmp_path)
    tutor.store.thread_owner = _boom(KeyError("thread_id"))  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="tutor.errors"):
        r = client.get("/api/threads/t1")
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "internal" and logged_ids(caplog) == [error["id"]]


class _FakeTutor:
    def __init__(self, *_a: Any) -> None:
        pass

    def close(self) -> None:
        pass


def test_cli_exits_non_zero_with_the_error_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("tutor.service.Tutor", _FakeTutor)
    monkeypatch.setattr(cli, "_settings", lambda: None)
    with caplog.at_level(logging.ERROR, logger="tutor.errors"), pytest.raises(typer.Exit) as info:
        with cli._tutor():
            raise KeyError("deep")
    assert info.value.exit_code == 1
    [shown] = ID.findall(capsys.readouterr().err)
    assert logged_ids(caplog) == [shown]


def test_cli_typed_error_keeps_its_exit_code_and_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("tutor.service.Tutor", _FakeTutor)
    monkeypatch.setattr(cli, "_settings", lambda: None)
    with pytest.raises(typer.Exit) as info:
        with cli._tutor():
            raise NotFound("no learner 'ada'")
    assert info.value.exit_code == 2 and "no learner 'ada'" in capsys.readouterr().err


def test_cli_main_reports_a_bug_by_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "app", _boom(KeyError("x")))
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 1 and ID.search(capsys.readouterr().err)


def test_mcp_tool_reports_a_bug_as_internal_with_an_id() -> None:
    from mcp.server.mcpserver.exceptions import ToolError

    from tutor.web.mcp import _tool_errors

    with pytest.raises(ToolError, match=r"^internal: .*error id [0-9a-f]{12}"):
        _tool_errors(_boom(KeyError("x")))()
    with pytest.raises(ToolError, match=r"^not_found: no such topic$"):
        _tool_errors(_boom(NotFound("no such topic")))()


def test_ui_shows_a_typed_message_but_only_the_id_of_a_bug() -> None:
    from tutor.web.ui.common import error_text

    assert error_text(BadInput("code is empty")) == "code is empty"
    shown = error_text(KeyError("secret internals"))
    assert ID.search(shown) and "secret" not in shown


def _threads(owner: str | None) -> Any:
    from tutor.agent.threads import Conversations

    return Conversations(graph=None, store=SimpleNamespace(thread_owner=lambda _t: owner))


def _lower_layer_calls(tmp_path: Path) -> list[tuple[str, Any, type[TutorError]]]:
    """(where, a call that is the caller's fault, the typed error it must raise): one per module
    whose raises were made typed. Lazy imports keep the collection cheap."""
    from curriculum.catalog import load_catalog
    from curriculum.exercises import get_exercise
    from curriculum.labs import get_lab
    from knowledge.retriever import _check_query
    from storage.store import Store
    from tools.kernel import KernelManager
    from tools.training.jobs import JobManager
    from tools.training.spec import validate_job

    no_jobs = SimpleNamespace(store=SimpleNamespace(get_job=lambda _j: None))
    kernels = SimpleNamespace(default_timeout_s=5.0, max_timeout_s=10.0)
    return [
        (
            "storage.store",
            lambda: Store(f"sqlite:///{tmp_path / 't.db'}").rename_learner("nobody", "x"),
            NotFound,
        ),
        ("knowledge.retriever", lambda: _check_query("   "), BadInput),
        ("curriculum.catalog", lambda: load_catalog().module("m99"), NotFound),
        ("curriculum.exercises", lambda: get_exercise({}, "nope"), NotFound),
        ("curriculum.labs", lambda: get_lab({}, "nope"), NotFound),
        ("tools.training.spec", lambda: validate_job("nope", {}), BadInput),
        ("tools.training.jobs", lambda: JobManager.get(no_jobs, "j1"), NotFound),  # type: ignore[arg-type]
        ("tools.kernel", lambda: KernelManager._timeout(kernels, -1), BadInput),  # type: ignore[arg-type]
        ("tutor.agent.threads", lambda: _threads("bob").thread("t1", learner_id="ada"), Forbidden),
        ("tutor.agent.threads", lambda: _threads(None).thread("t1"), NotFound),
    ]


def test_lower_layers_raise_the_typed_error_they_mean(tmp_path: Path) -> None:
    """Each raises its typed error itself, so no type guess at the top is needed (a plain
    ValueError here would now be a 500)."""
    for where, call, expected in _lower_layer_calls(tmp_path):
        with pytest.raises(TutorError) as info:
            call()
        assert type(info.value) is expected, where


@pytest.mark.parametrize(
    "cls,typed",
    [
        ("tools.sandbox.SandboxUnavailable", Unavailable),
        ("knowledge.index.IndexUnavailable", Unavailable),
        ("knowledge.material_loaders.MaterialError", BadInput),
        ("curriculum.practice_check.AnswerError", BadInput),
        ("curriculum.labs.notebook.NotebookError", BadInput),
    ],
)
def test_lower_layer_error_classes_are_typed(cls: str, typed: type[TutorError]) -> None:
    import importlib

    module, name = cls.rsplit(".", 1)
    assert issubclass(getattr(importlib.import_module(module), name), typed)
