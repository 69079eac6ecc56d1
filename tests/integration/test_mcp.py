"""The tutor's MCP server through the official ``mcp`` SDK's own client, over both transports:
streamable HTTP at ``/mcp`` of a real ``tutor serve`` (with API keys), and stdio by spawning
``.venv/bin/tutor mcp``. Both index the sample notes (``tests/data/sample_notes``, topics t1.*)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.served import DEFAULT_ENV, REPO, TUTOR_BIN, ServedTutor, served_tutor  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN, ADA, BOB = "mcp-admin-key", "mcp-ada-key", "mcp-bob-key"
TOOLS = {
    "search_notes", "explain", "list_exercises", "get_exercise", "run_code", "grade", "list_practice",
    "next_practice", "answer_practice", "progress", "plan", "start_training_job", "check_training_job",
}  # fmt: skip
WRONG_PCA = "def pca(X, n_components):\n    return None, None\n"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedTutor]:
    """A served tutor with an admin key and two learner keys (its own, not the shared keyless one)."""
    env = {"TUTOR_API_KEYS": f"{ADMIN}:admin,{ADA}:mcp-ada,{BOB}:mcp-bob"}
    with ServedTutor(tmp_path_factory.mktemp("mcp-served"), env=env) as srv:
        yield srv


@asynccontextmanager
async def http_client(srv: ServedTutor, key: str, mode: str = "auto") -> AsyncIterator[Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(300)) as hc:
        async with Client(streamable_http_client(srv.url + "/mcp", http_client=hc), mode=mode) as client:
            yield client


def stdio_params(data_dir: Path, *args: str) -> Any:
    from mcp import StdioServerParameters

    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    env.update(DEFAULT_ENV, TUTOR_DATA_DIR=str(data_dir))
    if shutil.which("bwrap") is None:
        env["TUTOR_UNSAFE_NO_SANDBOX"] = "1"
    cmd = [str(TUTOR_BIN)] if TUTOR_BIN.exists() else [sys.executable, "-m", "tutor.cli"]
    return StdioServerParameters(command=cmd[0], args=[*cmd[1:], "mcp", *args], env=env, cwd=REPO)


def data(result: Any) -> Any:
    """A tool result's structured content (lists come wrapped as {"result": [...]})."""
    assert not result.is_error, result.content
    out = result.structured_content
    return out["result"] if isinstance(out, dict) and set(out) == {"result"} else out


def error_text(result: Any) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(c, "text", "") for c in result.content)


async def check_everything(client: Any) -> None:
    """The same checks over either transport: list, search, run, grade, read a note."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert TOOLS <= set(tools), sorted(tools)
    schema = tools["grade"].input_schema
    assert {"exercise_id", "code"} <= set(schema["required"]) and "learner_id" in schema["properties"]
    assert "tutor://curriculum" in [str(r.uri) for r in (await client.list_resources()).resources]
    templates = (await client.list_resource_templates()).resource_templates
    assert "note://{topic_id}" in [t.uri_template for t in templates]
    assert {"explain_topic", "review_due_topics"} <= {p.name for p in (await client.list_prompts()).prompts}

    hits = data(await client.call_tool("search_notes", {"query": "broadcasting rules", "k": 2}))
    assert 0 < len(hits) <= 2 and hits[0]["topic_id"] == "t1.arrays" and hits[0]["source"]
    run = data(await client.call_tool("run_code", {"code": "print(6 * 7)"}))
    assert run["status"] == "ok" and run["stdout"].strip() == "42"
    report = data(await client.call_tool("grade", {"exercise_id": "pca", "code": WRONG_PCA}))
    assert report["passed"] is False and report["tests"]
    note = (await client.read_resource("note://t1.arrays")).contents[0]
    assert note.text.startswith("# Arrays") and "Broadcasting" in note.text
    curriculum = json.loads((await client.read_resource("tutor://curriculum")).contents[0].text)
    assert len(curriculum["modules"]) == 11
    missing = await client.call_tool("get_exercise", {"exercise_id": "no-such-exercise"})
    assert "not_found" in error_text(missing)


# --- streamable HTTP ---
def test_http_tools_resources_and_prompts(keyed: ServedTutor) -> None:
    async def main() -> None:
        async with http_client(keyed, ADMIN) as client:
            await check_everything(client)
            explained = data(
                await client.call_tool("explain", {"question": "What are the broadcasting rules?"})
            )
            assert explained["topic_id"] == "t1.arrays" and explained["citations"]
            prompt = await client.get_prompt("explain_topic", {"topic_id": "m1.numpy"})
            assert "note://m1.numpy" in prompt.messages[0].content.text

    anyio.run(main)


def test_http_needs_a_key(keyed: ServedTutor) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    assert httpx.post(keyed.url + "/mcp", json=hello).status_code == 401
    bad = httpx.post(keyed.url + "/mcp", json=hello, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"


def test_http_session_is_bound_to_its_key(keyed: ServedTutor) -> None:
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    opened = httpx.post(keyed.url + "/mcp", json=hello, headers={**accept, "Authorization": f"Bearer {ADA}"})
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    for key, status in ((BOB, 404), (ADA, 200)):
        headers = {**accept, "Authorization": f"Bearer {key}", "Mcp-Session-Id": session}
        headers["MCP-Protocol-Version"] = "2025-06-18"
        assert httpx.post(keyed.url + "/mcp", json=listing, headers=headers).status_code == status, key


def test_keyless_http_only_answers_loopback_names(served_tutor: ServedTutor) -> None:  # noqa: F811
    """Without keys a web page must not reach the local tutor through a DNS name it controls."""
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}  # fmt: skip
    url = served_tutor.url + "/mcp"
    assert httpx.post(url, json=hello, headers=accept).status_code == 200
    foreign = httpx.post(url, json=hello, headers={**accept, "Host": f"evil.example:{served_tutor.port}"})
    assert foreign.status_code == 421


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # the 2026 protocol and the session handshake
def test_http_learner_key_acts_only_as_its_learner(keyed: ServedTutor, mode: str) -> None:
    async def main() -> None:
        async with http_client(keyed, ADA, mode) as client:
            other = await client.call_tool("progress", {"learner_id": "mcp-bob"})
            assert "forbidden" in error_text(other)
            graded = await client.call_tool(
                "grade", {"exercise_id": "pca", "code": WRONG_PCA, "learner_id": "mcp-bob"}
            )
            assert "forbidden" in error_text(graded)
            mine = data(await client.call_tool("progress", {}))  # no id: the key's own learner
            assert mine["learner_id"] == "mcp-ada"
            planned = await client.call_tool("plan", {"learner_id": "mcp-bob", "hours": 1})
            assert "forbidden" in error_text(planned)
        async with http_client(keyed, BOB, mode) as client:
            assert (
                data(await client.call_tool("progress", {"learner_id": "mcp-bob"}))["learner_id"] == "mcp-bob"
            )

    anyio.run(main)


# --- stdio ---
@pytest.fixture(scope="module")
def stdio_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-stdio") / "var"


def test_stdio_tools_resources_and_prompts(stdio_data: Path) -> None:
    from mcp import Client

    async def main() -> None:
        async with Client(stdio_params(stdio_data)) as client:
            await check_everything(client)
            progress = data(
                await client.call_tool("progress", {"learner_id": "anyone"})
            )  # the owner: any learner
            assert progress["learner_id"] == "anyone"

    anyio.run(main)


def test_stdio_pinned_to_a_learner(stdio_data: Path) -> None:
    from mcp import Client

    async def main() -> None:
        async with Client(stdio_params(stdio_data, "--learner", "mcp-ada")) as client:
            assert "forbidden" in error_text(await client.call_tool("progress", {"learner_id": "mcp-bob"}))
            assert data(await client.call_tool("progress", {}))["learner_id"] == "mcp-ada"

    anyio.run(main)
