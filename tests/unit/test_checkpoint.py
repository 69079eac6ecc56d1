"""The checkpointer factory: SQLite in the data dir by default, Postgres for a Postgres URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from tutor.agent.checkpoint import close_checkpointer, is_postgres_url, libpq_url, make_checkpointer
from tutor.config import Settings


def test_default_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    saver = make_checkpointer(settings)
    assert isinstance(saver, SqliteSaver)
    assert (tmp_path / "var" / "checkpoints.sqlite").exists()
    close_checkpointer(saver)
    close_checkpointer(saver)  # twice is fine (shutdown paths may overlap)


@pytest.mark.parametrize(
    ("url", "pg"),
    [
        ("postgresql+psycopg://u:p@db:5432/tutor", True),
        ("postgresql://u@db/tutor", True),
        ("postgres://u@db/tutor", True),
        ("sqlite:///var/tutor.db", False),
        (None, False),
    ],
)
def test_is_postgres_url(url: str | None, pg: bool) -> None:
    assert is_postgres_url(url) is pg


def test_libpq_url_drops_the_driver() -> None:
    assert libpq_url("postgresql+psycopg://u:p@db:5432/tutor") == "postgresql://u:p@db:5432/tutor"
    with pytest.raises(ValueError, match="has no scheme"):
        libpq_url("db:5432")


def test_needs_a_path_or_url() -> None:
    with pytest.raises(ValueError, match="needs Settings"):
        make_checkpointer()
