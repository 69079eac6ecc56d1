"""docs/contract.md against the app: every route in the app's OpenAPI schema is a row of the
contract's route table and every row is a route; every CLI command is a row of its CLI table and
every row a command; every /api and /v1 JSON route declares a response model (so /docs shows it).

A new route or command fails here until docs/contract.md lists it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tests.ui_helpers import fake_tutor
from tutor.web import api

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
METHODS = {"get", "post", "put", "patch", "delete"}
# a route row: | `METHOD /path` | ...   a CLI row: | `tutor words [ARGS...]` | ...
ROUTE_ROW = re.compile(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`\s*\|", re.M)
CLI_ROW = re.compile(r"^\|\s*`tutor ([^`]*)`", re.M)
# streams, files and CSV: documented in the route table and in `responses`, not by a JSON model
NOT_JSON = {
    ("post", "/api/chat/stream"),
    ("get", "/api/labs/{lab_id}/notebook"),
    ("get", "/api/cohort.csv"),
    ("post", "/v1/chat/completions"),  # a plain reply or a stream: the model is in `responses`
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = FastAPI()
    app.state.tutor = fake_tutor(tmp_path_factory.mktemp("contract") / "var")
    api.install(app)
    return app.openapi()


def app_routes(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops if m in METHODS}


def doc_routes() -> set[tuple[str, str]]:
    return set(ROUTE_ROW.findall(DOC.read_text(encoding="utf-8")))


def test_the_doc_lists_every_route_and_only_routes(schema: dict[str, Any]) -> None:
    app, doc = app_routes(schema), doc_routes()
    assert len(app) > 30 and len(doc) > 30  # both sides were really read
    missing = sorted(app - doc)
    stale = sorted(doc - app)
    assert not missing, f"routes the app serves that docs/contract.md does not list: {missing}"
    assert not stale, f"routes docs/contract.md lists that the app does not serve: {stale}"


def cli_commands() -> set[str]:
    import typer.main

    from tutor.cli import app

    found: set[str] = set()

    def walk(cmd: Any, prefix: list[str]) -> None:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(None):
                walk(cmd.get_command(None, name), [*prefix, name])
        else:
            found.add(" ".join(prefix))

    walk(typer.main.get_command(app), [])
    return found


def command_of(usage: str) -> str:
    """The command words of a usage line: ``lab submit LAB_ID FILE [--json]`` -> ``lab submit``."""
    words = []
    for word in usage.split():
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        words.append(word)
    return " ".join(words)


def doc_commands(text: str | None = None) -> set[str]:
    return {command_of(u) for u in CLI_ROW.findall(text or DOC.read_text(encoding="utf-8"))}


def test_the_doc_lists_every_cli_command_and_only_commands() -> None:
    real, doc = cli_commands(), doc_commands()
    assert {"serve", "grade", "model use", "lab submit"} <= real
    missing, stale = sorted(real - doc), sorted(doc - real)
    assert not missing, f"CLI commands docs/contract.md does not list: {missing}"
    assert not stale, f"CLI commands docs/contract.md lists that do not exist: {stale}"


def test_every_json_route_declares_its_response_shape(schema: dict[str, Any]) -> None:
    """/docs shows every shape: a JSON success response refers to a named model (or a list of
    them), never to a bare object."""
    bare = []
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if method not in METHODS or (method, path) in NOT_JSON:
                continue
            body = op["responses"].get("200", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {})
            ref = ref.get("items", ref)
            if "$ref" not in ref:
                bare.append(f"{method.upper()} {path}")
    assert not bare, f"routes without a response model (add one in tutor/web/api/schemas.py): {bare}"


def test_errors_are_documented_with_their_shape(schema: dict[str, Any]) -> None:
    op = schema["paths"]["/api/grade"]["post"]
    assert op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert {"code", "message"} <= set(detail["required"])


def test_the_patterns_read_rows() -> None:
    """The parsers catch the rows they are meant to, and nothing else."""
    text = (
        "| `GET /api/x/{id}` | - | y |\n| `tutor lab submit LAB FILE [--json]` | z |\n| `tutor jobs [ID]` |\n"
    )
    text += "| `tutor exercises` | list |\n| `tutor model use MODEL_ID` | |\nsee `GET /api/y` in prose\n"
    assert ROUTE_ROW.findall(text) == [("GET", "/api/x/{id}")]
    assert doc_commands(text) == {"lab submit", "jobs", "exercises", "model use"}
