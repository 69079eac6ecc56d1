"""The learner store on SQLite (the Postgres run of the same checks is in
tests/integration/test_store_postgres.py)."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.store import SCHEMA_VERSION, Store
from tests.store_checks import STORE_CHECKS


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'tutor.db'}")
    yield s
    s.close()


@pytest.mark.parametrize("check", STORE_CHECKS, ids=lambda f: f.__name__)
def test_store_behaviour(store: Store, check) -> None:  # type: ignore[no-untyped-def]
    check(store)


def test_committed_writes_survive_a_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tutor.db'}"
    s = Store(url)
    s.add_attempt("ada", "pca", "m5.dimensionality-reduction", True, 1.0)
    s.save_plan("ada", {"items": [{"topic_id": "m1.numpy", "activity": "study", "minutes": 30}]})
    del s  # no close: as if the process died after committing
    s2 = Store(url)
    assert len(s2.attempts("ada")) == 1 and s2.get_plan("ada") is not None


def test_failed_transaction_leaves_nothing_half_written(store: Store) -> None:
    with pytest.raises(ValueError):
        store.set_mastery("ada", "m1.numpy", 1.5)
    assert store.get_mastery("ada") == {}
    with pytest.raises(RuntimeError), store._tx() as conn:
        from sqlalchemy import insert

        from storage.store import attempts

        conn.execute(
            insert(attempts).values(
                learner_id="ada", exercise_id="x", topic_id="t", passed=True, score=1, at="now"
            )
        )
        raise RuntimeError("crash mid-transaction")
    assert store.attempts("ada") == []


# The v1 schema as the first release wrote it (before learners.display_name).
V1_DDL = [
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version VALUES (1)",
    "CREATE TABLE learners (id VARCHAR(128) PRIMARY KEY, created VARCHAR(40) NOT NULL)",
    "INSERT INTO learners VALUES ('old-learner', '2025-01-01T00:00:00+00:00')",
    "CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, learner_id VARCHAR(128) NOT NULL,"
    " exercise_id VARCHAR(128) NOT NULL, topic_id VARCHAR(128) NOT NULL, passed BOOLEAN NOT NULL,"
    " score FLOAT NOT NULL, details JSON, at VARCHAR(40) NOT NULL)",
    "INSERT INTO attempts (learner_id, exercise_id, topic_id, passed, score, at)"
    " VALUES ('old-learner', 'kmeans', 'm5.clustering', 1, 1.0, '2025-01-01T00:00:00+00:00')",
]


def test_a_newer_tutor_opens_an_older_data_dir(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    for stmt in V1_DDL:
        con.execute(stmt)
    con.commit()
    con.close()
    s = Store(f"sqlite:///{db}")
    assert s.schema_version() == SCHEMA_VERSION
    assert s.attempts("old-learner")[0]["exercise_id"] == "kmeans"
    s.ensure_learner("new-learner", display_name="New")  # the v2 column works
    s.set_kv("x", 1)  # tables that v1 lacked were created
    assert "new-learner" in s.list_learners()


def test_a_database_from_a_newer_tutor_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tutor.db'}"
    Store(url).close()
    con = sqlite3.connect(tmp_path / "tutor.db")
    con.execute("UPDATE schema_version SET version = 99")
    con.commit()
    con.close()
    with pytest.raises(RuntimeError, match="newer than this tutor"):
        Store(url)


def test_due_topics_respect_time(store: Store) -> None:
    now = datetime.now(UTC)
    store.set_card("ada", "m1.numpy", {"state": 1}, now - timedelta(hours=1))
    store.set_card("ada", "m1.pandas", {"state": 1}, now + timedelta(days=2))
    assert store.due_topics("ada", now) == ["m1.numpy"]
    assert store.due_topics("ada", now + timedelta(days=3)) == ["m1.numpy", "m1.pandas"]
