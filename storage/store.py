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

from tutor.errors import BadInput, NotFound

log = logging.getLogger(__name__)
SCHEMA_VERSION = 5

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
practice_answers = Table(  # added in v3: one row per answered practice item
    "practice_answers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner_id", String(128), nullable=False, index=True),
    Column("item_id", String(128), nullable=False),
    Column("topic_id", String(128), nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("answer", Text),  # what the learner sent, capped (see add_practice_answer)
    Column("details", JSON),
    Column("at", String(40), nullable=False),
)

lab_runs = Table(  # added in v4: one row per learner and lab started
    "lab_runs",
    metadata,
    Column("learner_id", String(128), primary_key=True),
    Column("lab_id", String(128), primary_key=True),
    Column("current_step", String(128)),
    Column("job_id", String(64)),  # the training job a train_job step started
    Column("started", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
)
lab_steps = Table(  # added in v4: the latest verdict per learner, lab and step
    "lab_steps",
    metadata,
    Column("learner_id", String(128), primary_key=True),
    Column("lab_id", String(128), primary_key=True),
    Column("step_id", String(128), primary_key=True),
    Column("passed", Boolean, nullable=False),
    Column("ever_passed", Boolean, nullable=False),
    Column("message", Text),
    Column("attempts", Integer, nullable=False),
    Column("updated", String(40), nullable=False),
)

xapi_outbox = Table(  # added in v5: xAPI statements waiting for the LRS (tutor/usecases/xapi.py)
    "xapi_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("statement_id", String(64), nullable=False, unique=True),
    Column("statement", JSON, nullable=False),
    Column("created", String(40), nullable=False),
    Column("tries", Integer, nullable=False, default=0),
    Column("next_try", String(40), nullable=False, index=True),
    Column("last_error", Text),
)

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


def _v3_practice_answers(conn: Connection) -> None:
    practice_answers.create(conn, checkfirst=True)


def _v4_labs(conn: Connection) -> None:
    lab_runs.create(conn, checkfirst=True)
    lab_steps.create(conn, checkfirst=True)


def _v5_xapi_outbox(conn: Connection) -> None:
    xapi_outbox.create(conn, checkfirst=True)


# _MIGRATIONS[v] upgrades a database at version v-1 to version v.
_MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _v2_display_name,
    3: _v3_practice_answers,
    4: _v4_labs,
    5: _v5_xapi_outbox,
}
# a listener sees each learning record as it is written, inside its transaction:
# (conn, kind, row) with kind "attempt", "practice_answer", "lab_step" or "plan" (tutor/usecases/xapi.py)
Listener = Callable[[Connection, str, dict[str, Any]], None]


class Store:
    """Persistence of everything the tutor knows about learners and its own work."""

    def __init__(self, url: str) -> None:
        self.url = sqlalchemy_url(url)
        self.engine: Engine = create_engine(self.url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.listeners: list[Listener] = []
        self._migrate()

    # --- plumbing ---
    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _emit(self, conn: Connection, kind: str, row: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(conn, kind, row)

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

    def rename_learner(self, old: str, new: str) -> None:
        """Move everything of learner ``old`` to the new id ``new`` in one transaction (a guest
        who picks a name keeps their progress). Refused when ``new`` already has a record."""
        with self._tx() as conn:
            if conn.execute(select(learners.c.id).where(learners.c.id == new)).first() is not None:
                raise BadInput(f"learner {new!r} already exists; pick another name")
            if conn.execute(select(learners.c.id).where(learners.c.id == old)).first() is None:
                raise NotFound(f"no learner {old!r}")
            conn.execute(insert(learners).values(id=new, created=now_iso()))
            for table in metadata.sorted_tables:
                if "learner_id" in table.c:
                    conn.execute(update(table).where(table.c.learner_id == old).values(learner_id=new))
            conn.execute(learners.delete().where(learners.c.id == old))

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
            self._emit(conn, "attempt", row)
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
            raise BadInput(f"mastery must be in 0..1, got {p}")
        self._upsert(
            mastery, {"learner_id": learner_id, "topic_id": topic_id}, {"p": p, "updated": now_iso()}
        )

    # --- practice answers ---
    def add_practice_answer(
        self, learner_id: str, item_id: str, topic_id: str, correct: bool, answer: str,
        details: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.ensure_learner(learner_id)
        row = {"learner_id": learner_id, "item_id": item_id, "topic_id": topic_id, "correct": bool(correct),
               "answer": answer[:4000], "details": details, "at": now_iso()}  # fmt: skip
        with self._tx() as conn:
            conn.execute(insert(practice_answers).values(**row))
            self._emit(conn, "practice_answer", row)

    def practice_answers(self, learner_id: str, topic_id: str | None = None) -> list[dict[str, Any]]:
        """A learner's answers, oldest first: ``{"item_id", "topic_id", "correct", "at"}``."""
        q = select(practice_answers).where(practice_answers.c.learner_id == learner_id)
        if topic_id is not None:
            q = q.where(practice_answers.c.topic_id == topic_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(practice_answers.c.id))
            return [{k: r._mapping[k] for k in ("item_id", "topic_id", "correct", "at")} for r in rows]

    # --- guided labs (curriculum/labs) ---
    def touch_lab(self, learner_id: str, lab_id: str, **fields: Any) -> None:
        """Start or update a learner's run of a lab (``current_step``, ``job_id``)."""
        unknown = set(fields) - {"current_step", "job_id"}
        if unknown:
            raise BadInput(f"unknown lab fields {sorted(unknown)}")
        self.ensure_learner(learner_id)
        ts = now_iso()
        keys = {"learner_id": learner_id, "lab_id": lab_id}
        with self._tx() as conn:
            cond = [lab_runs.c.learner_id == learner_id, lab_runs.c.lab_id == lab_id]
            if conn.execute(select(lab_runs.c.lab_id).where(*cond)).first():
                conn.execute(update(lab_runs).where(*cond).values(updated=ts, **fields))
            else:
                conn.execute(insert(lab_runs).values(**keys, started=ts, updated=ts, **fields))

    def record_lab_step(self, learner_id: str, lab_id: str, step_id: str, passed: bool, message: str) -> bool:
        """Save a step's verdict; returns True when this is the step's FIRST pass (evidence)."""
        self.touch_lab(learner_id, lab_id)
        cond = [
            lab_steps.c.learner_id == learner_id,
            lab_steps.c.lab_id == lab_id,
            lab_steps.c.step_id == step_id,
        ]
        with self._tx() as conn:
            row = conn.execute(select(lab_steps.c.ever_passed, lab_steps.c.attempts).where(*cond)).first()
            values = {"passed": bool(passed), "message": message[:4000], "updated": now_iso()}
            if row is None:
                conn.execute(insert(lab_steps).values(learner_id=learner_id, lab_id=lab_id, step_id=step_id,
                                                      ever_passed=bool(passed), attempts=1, **values))  # fmt: skip
                first = bool(passed)
            else:
                conn.execute(update(lab_steps).where(*cond).values(
                    ever_passed=bool(row.ever_passed or passed), attempts=row.attempts + 1, **values))  # fmt: skip
                first = bool(passed and not row.ever_passed)
            self._emit(conn, "lab_step", {"learner_id": learner_id, "lab_id": lab_id, "step_id": step_id,
                                          "passed": bool(passed), "first_pass": first, "at": values["updated"]})  # fmt: skip
            return first

    def lab_progress(self, learner_id: str, lab_id: str | None = None) -> list[dict[str, Any]]:
        """The learner's labs, most recently worked on first: ``{"lab_id", "current_step",
        "job_id", "started", "updated", "steps": {step_id: {"passed", "ever_passed", "message",
        "attempts", "updated"}}}``."""
        q = select(lab_runs).where(lab_runs.c.learner_id == learner_id)
        qs = select(lab_steps).where(lab_steps.c.learner_id == learner_id)
        if lab_id is not None:
            q, qs = q.where(lab_runs.c.lab_id == lab_id), qs.where(lab_steps.c.lab_id == lab_id)
        with self.engine.connect() as conn:
            runs = [dict(r._mapping) for r in conn.execute(q.order_by(lab_runs.c.updated.desc()))]
            steps = [dict(r._mapping) for r in conn.execute(qs)]
        out = []
        for run in runs:
            mine = {s["step_id"]: {k: s[k] for k in ("passed", "ever_passed", "message", "attempts", "updated")}
                    for s in steps if s["lab_id"] == run["lab_id"]}  # fmt: skip
            out.append(
                {k: run[k] for k in ("lab_id", "current_step", "job_id", "started", "updated")}
                | {"steps": mine}
            )
        return out

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
            row = {"learner_id": learner_id, "plan": plan, "created": now_iso()}
            conn.execute(insert(plans).values(**row))
            self._emit(conn, "plan", row)

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
            raise BadInput(f"unknown job fields {sorted(unknown)}; known: {sorted(JOB_FIELDS)}")
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
            raise BadInput(f"unknown job fields {sorted(unknown)}; known: {sorted(JOB_FIELDS)}")
        with self._tx() as conn:
            res = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(list(from_statuses)))
                .values(status=to_status, updated=now_iso(), **fields)
            )
            return bool(res.rowcount)


def _job_dict(m: Any) -> dict[str, Any]:
    """A job row in the shape of docs/contract.md (plus a few extra fields)."""
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
