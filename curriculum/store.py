"""The learner store: learners, attempts, mastery, review cards, plans, jobs, models, threads.

SQLAlchemy 2 Core over SQLite (default, a file in the data dir) or Postgres (same code, a
``postgresql://`` URL). Every write is its own transaction, so a crash mid-write loses nothing
already committed. The schema carries a version number: a fresh database is created at the
latest version; an older one is upgraded step by step by ``_MIGRATIONS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
SCHEMA_VERSION = 2

metadata = MetaData()
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
learners = Table(
    "learners",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("created", String(40), nullable=False),
    Column("display_name", String(200)),  # added in v2
)
attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner_id", String(128), nullable=False, index=True),
    Column("exercise_id", String(128), nullable=False),
    Column("topic_id", String(128), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("score", Float, nullable=False),
    Column("details", JSON),
    Column("at", String(40), nullable=False),
)
mastery = Table(
    "mastery",
    metadata,
    Column("learner_id", String(128), primary_key=True),
    Column("topic_id", String(128), primary_key=True),
    Column("p", Float, nullable=False),
    Column("updated", String(40), nullable=False),
)
cards = Table(
    "review_cards",
    metadata,
    Column("learner_id", String(128), primary_key=True),
    Column("topic_id", String(128), primary_key=True),
    Column("card", JSON, nullable=False),
    Column("due", String(40), nullable=False),
)
plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner_id", String(128), nullable=False, index=True),
    Column("plan", JSON, nullable=False),
    Column("created", String(40), nullable=False),
)
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("params", JSON, nullable=False),
    Column("learner_id", String(128)),
    Column("status", String(16), nullable=False),
    Column("progress", Float, nullable=False, default=0.0),
    Column("metrics", JSON),
    Column("error", Text),
    Column("model_id", String(128)),
    Column("artifacts", JSON),
    Column("logs_tail", Text),
    Column("pid", Integer),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
)
models = Table(
    "models",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("path", Text, nullable=False),
    Column("base", String(128)),
    Column("data", JSON),
    Column("params", JSON),
    Column("metrics", JSON),
    Column("created", String(40), nullable=False),
)
threads = Table(
    "threads",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("learner_id", String(128), nullable=False, index=True),
    Column("title", Text),
    Column("created", String(40), nullable=False),
)
kv = Table("kv", metadata, Column("key", String(128), primary_key=True), Column("value", JSON))

JOB_FIELDS = {"status", "progress", "metrics", "error", "model_id", "artifacts", "logs_tail", "pid"}


def sqlalchemy_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` URLs (as libpq writes them) use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _v2_display_name(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE learners ADD COLUMN display_name VARCHAR(200)"))


# _MIGRATIONS[v] upgrades a database at version v-1 to version v.
_MIGRATIONS: dict[int, Callable[[Connection], None]] = {2: _v2_display_name}


class Store:
    """Persistence of everything the tutor knows about learners and its own work."""

    def __init__(self, url: str) -> None:
        self.url = sqlalchemy_url(url)
        self.engine: Engine = create_engine(self.url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._migrate()

    # --- plumbing ---
    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _migrate(self) -> None:
        with self._tx() as conn:
            exists = self.engine.dialect.has_table(conn, "schema_version")
            if not exists:
                metadata.create_all(conn)
                conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
                return
            version = conn.execute(select(schema_version.c.version)).scalar_one()
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"database schema v{version} is newer than this tutor (v{SCHEMA_VERSION}); upgrade the tutor"
                )
            for v in range(version + 1, SCHEMA_VERSION + 1):
                log.info("migrating learner store to schema v%d", v)
                _MIGRATIONS[v](conn)
                conn.execute(update(schema_version).values(version=v))
            metadata.create_all(conn)  # tables added since (no-op for existing ones)

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(schema_version.c.version)).scalar_one())

    def close(self) -> None:
        self.engine.dispose()

    # --- learners ---
    def ensure_learner(self, learner_id: str, display_name: str | None = None) -> None:
        with self._tx() as conn:
            if conn.execute(select(learners.c.id).where(learners.c.id == learner_id)).first() is None:
                conn.execute(
                    insert(learners).values(id=learner_id, created=now_iso(), display_name=display_name)
                )

    def list_learners(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(select(learners.c.id).order_by(learners.c.id))]

    # --- attempts and mastery ---
    def add_attempt(
        self,
        learner_id: str,
        exercise_id: str,
        topic_id: str,
        passed: bool,
        score: float,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.ensure_learner(learner_id)
        row = {
            "learner_id": learner_id,
            "exercise_id": exercise_id,
            "topic_id": topic_id,
            "passed": bool(passed),
            "score": float(score),
            "details": details,
            "at": now_iso(),
        }
        with self._tx() as conn:
            conn.execute(insert(attempts).values(**row))
        return row

    def attempts(self, learner_id: str) -> list[dict[str, Any]]:
        q = select(attempts).where(attempts.c.learner_id == learner_id).order_by(attempts.c.id)
        with self.engine.connect() as conn:
            return [
                {k: r._mapping[k] for k in ("exercise_id", "topic_id", "passed", "score", "at")}
                for r in conn.execute(q)
            ]

    def get_mastery(self, learner_id: str) -> dict[str, float]:
        q = select(mastery.c.topic_id, mastery.c.p).where(mastery.c.learner_id == learner_id)
        with self.engine.connect() as conn:
            return {r.topic_id: r.p for r in conn.execute(q)}

    def set_mastery(self, learner_id: str, topic_id: str, p: float) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"mastery must be in 0..1, got {p}")
        self._upsert(
            mastery, {"learner_id": learner_id, "topic_id": topic_id}, {"p": p, "updated": now_iso()}
        )

    # --- review cards (FSRS state as JSON) ---
    def get_card(self, learner_id: str, topic_id: str) -> dict[str, Any] | None:
        q = select(cards.c.card).where(cards.c.learner_id == learner_id, cards.c.topic_id == topic_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return dict(row.card) if row else None

    def set_card(self, learner_id: str, topic_id: str, card: dict[str, Any], due: datetime) -> None:
        due_s = due.astimezone(UTC).isoformat(timespec="seconds")
        self._upsert(cards, {"learner_id": learner_id, "topic_id": topic_id}, {"card": card, "due": due_s})

    def due_topics(self, learner_id: str, now: datetime | None = None) -> list[str]:
        at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        q = (
            select(cards.c.topic_id)
            .where(cards.c.learner_id == learner_id, cards.c.due <= at)
            .order_by(cards.c.due, cards.c.topic_id)
        )
        with self.engine.connect() as conn:
            return [r.topic_id for r in conn.execute(q)]

    # --- plans ---
    def save_plan(self, learner_id: str, plan: dict[str, Any]) -> None:
        self.ensure_learner(learner_id)
        with self._tx() as conn:
            conn.execute(insert(plans).values(learner_id=learner_id, plan=plan, created=now_iso()))

    def get_plan(self, learner_id: str) -> dict[str, Any] | None:
        q = select(plans.c.plan).where(plans.c.learner_id == learner_id).order_by(plans.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return dict(row.plan) if row else None

    # --- jobs ---
    def create_job(
        self, job_id: str, kind: str, params: dict[str, Any], learner_id: str | None = None
    ) -> dict[str, Any]:
        ts = now_iso()
        with self._tx() as conn:
            conn.execute(
                insert(jobs).values(
                    id=job_id,
                    kind=kind,
                    params=params,
                    learner_id=learner_id,
                    status="queued",
                    progress=0.0,
                    metrics={"history": []},
                    artifacts=[],
                    created=ts,
                    updated=ts,
                )
            )
        job = self.get_job(job_id)
        assert job is not None
        return job

    def update_job(self, job_id: str, **fields: Any) -> None:
        unknown = set(fields) - JOB_FIELDS
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}; known: {sorted(JOB_FIELDS)}")
        with self._tx() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(updated=now_iso(), **fields))

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return _job_dict(row._mapping) if row else None

    def list_jobs(self, learner_id: str | None = None) -> list[dict[str, Any]]:
        q = select(jobs).order_by(jobs.c.created.desc(), jobs.c.id)
        if learner_id is not None:
            q = q.where(jobs.c.learner_id == learner_id)
        with self.engine.connect() as conn:
            return [_job_dict(r._mapping) for r in conn.execute(q)]

    # --- models ---
    def register_model(
        self,
        model_id: str,
        path: str,
        base: str | None = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        values = {"path": path, "base": base, "data": data, "params": params, "metrics": metrics}
        self._upsert(models, {"id": model_id}, {**values, "created": now_iso()})
        model = self.get_model(model_id)
        assert model is not None
        return model

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(models).where(models.c.id == model_id)).first()
        return dict(row._mapping) if row else None

    def list_models(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r._mapping) for r in conn.execute(select(models).order_by(models.c.created, models.c.id))
            ]

    # --- threads ---
    def add_thread(self, thread_id: str, learner_id: str, title: str | None = None) -> None:
        self.ensure_learner(learner_id)
        with self._tx() as conn:
            if conn.execute(select(threads.c.id).where(threads.c.id == thread_id)).first() is None:
                conn.execute(
                    insert(threads).values(
                        id=thread_id, learner_id=learner_id, title=title, created=now_iso()
                    )
                )

    def thread_owner(self, thread_id: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(threads.c.learner_id).where(threads.c.id == thread_id)).first()
        return row.learner_id if row else None

    def list_threads(self, learner_id: str) -> list[dict[str, Any]]:
        q = select(threads).where(threads.c.learner_id == learner_id).order_by(threads.c.created.desc())
        with self.engine.connect() as conn:
            return [{"thread_id": r.id, "title": r.title, "created": r.created} for r in conn.execute(q)]

    # --- key/value settings (e.g. the active model) ---
    def get_kv(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(kv.c.value).where(kv.c.key == key)).first()
        return row.value if row else default

    def set_kv(self, key: str, value: Any) -> None:
        self._upsert(kv, {"key": key}, {"value": value})

    def _upsert(self, table: Table, keys: dict[str, Any], values: dict[str, Any]) -> None:
        """Insert or update one row inside one transaction (portable across SQLite and Postgres)."""
        cond = [table.c[k] == v for k, v in keys.items()]
        with self._tx() as conn:
            if conn.execute(select(*[table.c[k] for k in keys]).where(*cond).with_for_update()).first():
                conn.execute(update(table).where(*cond).values(**values))
            else:
                conn.execute(insert(table).values(**keys, **values))

    def transition_job(
        self, job_id: str, from_statuses: Iterable[str], to_status: str, **fields: Any
    ) -> bool:
        """Set a job's status only if it is currently one of ``from_statuses`` (atomic claim).

        Returns whether this call made the change, so two job managers sharing a database never
        both start (or both cancel) the same queued job.
        """
        unknown = set(fields) - JOB_FIELDS
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}; known: {sorted(JOB_FIELDS)}")
        with self._tx() as conn:
            res = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(list(from_statuses)))
                .values(status=to_status, updated=now_iso(), **fields)
            )
            return bool(res.rowcount)


def _job_dict(m: Any) -> dict[str, Any]:
    """A job row in CONTRACT's shape (plus a few extra fields)."""
    return {
        "job_id": m["id"],
        "kind": m["kind"],
        "status": m["status"],
        "progress": float(m["progress"] or 0.0),
        "metrics": m["metrics"] or {"history": []},
        "model_id": m["model_id"],
        "error": m["error"],
        "params": m["params"],
        "learner_id": m["learner_id"],
        "artifacts": m["artifacts"] or [],
        "logs_tail": m["logs_tail"],
        "pid": m["pid"],
        "created": m["created"],
        "updated": m["updated"],
    }


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets job workers write progress while the web process reads; the busy timeout makes
    # concurrent writers wait instead of failing with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
