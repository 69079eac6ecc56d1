"""The learner store on a real PostgreSQL server (started on loopback by the test): the same
behaviour checks as on SQLite, plus transactions and reopening."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.store import SCHEMA_VERSION, Store
from tests.pg_helpers import postgres_or_skip
from tests.store_checks import STORE_CHECKS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_or_skip() as pg:
        yield pg.url  # the plain libpq URL a user would set in TUTOR_DATABASE_URL


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    s = Store(pg_url)
    yield s
    from storage.store import metadata

    metadata.drop_all(s.engine)  # each check starts from an empty database
    s.close()


@pytest.mark.parametrize("check", STORE_CHECKS, ids=lambda f: f.__name__)
def test_store_behaviour_on_postgres(store: Store, check) -> None:  # type: ignore[no-untyped-def]
    check(store)


def test_postgres_store_reopens_with_data_and_version(store: Store) -> None:
    store.add_attempt("ada", "kmeans", "m5.clustering", True, 1.0)
    again = Store(store.url)
    assert again.schema_version() == SCHEMA_VERSION
    assert again.attempts("ada")[0]["exercise_id"] == "kmeans"
    again.close()


def test_a_failed_transaction_is_rolled_back_on_postgres(store: Store) -> None:
    from sqlalchemy import insert

    from storage.store import attempts

    with pytest.raises(RuntimeError), store._tx() as conn:
        conn.execute(
            insert(attempts).values(
                learner_id="ada", exercise_id="x", topic_id="t", passed=True, score=1, at="t"
            )
        )
        raise RuntimeError("crash mid-transaction")
    assert store.attempts("ada") == []
