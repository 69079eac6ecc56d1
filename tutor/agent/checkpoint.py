"""Where conversation threads are kept: LangGraph checkpointers.

Default: ``SqliteSaver`` on ``<data_dir>/checkpoints.sqlite`` (one file, nothing to run).
When the database URL is Postgres, ``PostgresSaver`` over a psycopg connection pool, so several
tutor processes can share threads. Both survive restarts: a thread resumes where it stopped.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

log = logging.getLogger(__name__)
_POSTGRES_PREFIXES = ("postgres://", "postgresql://", "postgresql+")


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(_POSTGRES_PREFIXES)


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as the libpq URL psycopg expects."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"database URL {url!r} has no scheme; expected postgresql://user@host:port/db")
    return f"postgresql://{rest}"


def sqlite_checkpointer(path: Path | str) -> BaseCheckpointSaver:
    """``SqliteSaver`` on a file; the connection is shared by the server's threads (the saver locks)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


def postgres_checkpointer(url: str, *, max_size: int = 8) -> BaseCheckpointSaver:
    """``PostgresSaver`` over a connection pool; creates or migrates its tables (``.setup()``)."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    conninfo = libpq_url(url)
    try:  # one direct connection first: a wrong URL fails now, with the server's reason
        psycopg.connect(conninfo, connect_timeout=10).close()
    except psycopg.Error as e:
        raise RuntimeError(
            f"cannot connect to the Postgres checkpoint database: {e}; check TUTOR_DATABASE_URL"
        ) from e
    # autocommit and no prepared statements: what PostgresSaver.from_conn_string uses
    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    try:
        pool.open(wait=True, timeout=10)
    except Exception as e:
        pool.close()
        raise RuntimeError(
            f"cannot connect to the Postgres checkpoint database: {e}; check TUTOR_DATABASE_URL"
        ) from e
    saver = PostgresSaver(pool)  # type: ignore[arg-type]
    saver.setup()
    return saver


def make_checkpointer(
    settings: Any = None, *, path: Path | str | None = None, url: str | None = None
) -> BaseCheckpointSaver:
    """The checkpointer for a ``Settings`` (``database_url`` Postgres -> PostgresSaver, else
    SqliteSaver on ``checkpoints_path``), or for explicit ``path`` / ``url``."""
    if settings is not None:
        url = url or settings.database_url
        path = path or settings.checkpoints_path
    if is_postgres_url(url):
        log.info("thread checkpoints in Postgres")
        return postgres_checkpointer(str(url))
    if path is None:
        raise ValueError("make_checkpointer needs Settings, a SQLite path or a Postgres URL")
    return sqlite_checkpointer(path)


def close_checkpointer(saver: Any) -> None:
    """Close the connection or pool behind a checkpointer made here (safe to call twice)."""
    conn = getattr(saver, "conn", None)
    if conn is not None and hasattr(conn, "close"):
        try:
            conn.close()
        except Exception:  # closing at shutdown must not raise
            log.exception("closing the checkpointer failed")
