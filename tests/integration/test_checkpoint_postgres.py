"""Conversation threads in a real PostgreSQL server: ``make_checkpointer`` picks PostgresSaver for a
Postgres URL, and a thread survives re-creating the checkpointer and graph (a restart)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from curriculum.catalog import load_catalog
from storage.store import Store
from tests.agent_helpers import (
    EXERCISES,
    RULE_TASKS,
    FakeGrader,
    FakeJobs,
    FakeKernels,
    FakeRetriever,
    fake_llm,
)
from tests.pg_helpers import postgres_or_skip
from tutor.agent.checkpoint import close_checkpointer, make_checkpointer
from tutor.agent.graph import build_graph
from tutor.agent.threads import Conversations

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_or_skip() as pg:
        yield pg.url


class _Settings:
    """The two Settings fields make_checkpointer reads."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.database_url = database_url
        self.checkpoints_path = data_dir / "checkpoints.sqlite"


def _conversations(saver, store: Store) -> Conversations:  # type: ignore[no-untyped-def]
    catalog = load_catalog()
    graph = build_graph(
        fake_llm(),
        FakeRetriever(),
        FakeKernels(),
        FakeGrader(EXERCISES),
        FakeJobs(),
        store,
        saver,
        catalog=catalog,
        exercises=EXERCISES,
        tasks=RULE_TASKS,
    )
    return Conversations(graph, store)


def test_threads_persist_in_postgres(pg_url: str, tmp_path: Path) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver

    sa_url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    store = Store(sa_url)  # the learner store in the same database, as with TUTOR_DATABASE_URL
    saver = make_checkpointer(_Settings(sa_url, tmp_path))
    assert isinstance(saver, PostgresSaver)
    assert not (tmp_path / "checkpoints.sqlite").exists()
    conv = _conversations(saver, store)
    first = conv.chat("ann", "give me numpy-double")
    tid = first["thread_id"]
    close_checkpointer(saver)

    saver2 = make_checkpointer(_Settings(sa_url, tmp_path))  # setup() again on existing tables is fine
    conv2 = _conversations(saver2, store)
    reply = conv2.chat("ann", "grade this\n```python\ndef double(x):\n    return 2 * x\n```", tid)["reply"]
    assert "All tests of `numpy-double` pass" in reply  # current exercise restored from Postgres
    assert [m["role"] for m in conv2.thread(tid, "ann")["messages"]] == ["user", "assistant"] * 2
    with pytest.raises(PermissionError):
        conv2.thread(tid, "bob")
    close_checkpointer(saver2)
    store.close()


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="cannot connect to the Postgres checkpoint database"):
        make_checkpointer(_Settings("postgresql://postgres@127.0.0.1:1/none", tmp_path))
