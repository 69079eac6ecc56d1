"""Learning records: xAPI statements sent to a learning record store (LRS) without the learner
ever waiting for it.

When ``TUTOR_XAPI_URL`` is set, ``XapiRecorder`` listens to the learner store
(``Store.listeners``): each graded exercise attempt (verb ``passed``/``failed``, with its score),
practice answer (``answered``, with ``success``), lab step check (``passed``/``failed``), lab
completion (``completed``) and lesson plan (``registered``) becomes one statement, written to the
``xapi_outbox`` table IN THE SAME TRANSACTION as the record itself: a record is never kept without
its statement, nor a statement without its record. ``XapiSender``, a daemon thread started with
the app, posts what is due to ``<TUTOR_XAPI_URL>/statements`` (HTTP basic auth, batches) and
deletes what the LRS accepted; a failure (LRS down, 5xx, timeout) postpones the batch with
exponential backoff, so nothing is lost while the LRS is down and nothing is sent twice on
purpose (each statement carries its own id; a 409 "already stored" counts as delivered).

Activity ids are IRIs under ``TUTOR_XAPI_ACTIVITY_BASE``: ``<base>/exercises/<id>``,
``<base>/practice/<item_id>``, ``<base>/topics/<topic_id>``, ``<base>/labs/<lab_id>[/steps/<id>]``,
``<base>/plans/<uuid>``; a learner is the account ``{"homePage": <base>, "name": <learner_id>}``.
Statements never carry right answers, solutions or tests.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import Connection, delete, func, insert, select, update

from storage.store import Store, lab_steps, now_iso, xapi_outbox

log = logging.getLogger(__name__)

ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = {v: ADL + v for v in ("passed", "failed", "answered", "completed", "registered")}
ACTIVITY = "http://adlnet.gov/expapi/activities/"
INTERACTION = {"multiple_choice": "choice", "numeric": "numeric", "short_answer": "fill-in", "code": "other"}
XAPI_VERSION = "1.0.3"
PLATFORM = "GPT Tutor"
MAX_RESPONSE_CHARS = 500


# --- statements ---
@dataclass(frozen=True)
class Names:
    """Display names the statements carry (all optional: an unknown id keeps its id)."""

    topic: Callable[[str], str | None] = lambda _id: None
    exercise: Callable[[str], str | None] = lambda _id: None
    item: Callable[[str], Any] = lambda _id: None  # a curriculum.practice.PracticeItem or None
    lab: Callable[[str], Any] = lambda _id: None  # a curriculum.labs.Lab or None


class Statements:
    """Builds xAPI 1.0.3 statements (plain dicts) from the store's rows."""

    def __init__(self, base: str, names: Names | None = None) -> None:
        self.base = base.rstrip("/")
        self.names = names or Names()

    def iri(self, *parts: str) -> str:
        return "/".join([self.base, *(quote(str(p), safe="") for p in parts)])

    def actor(self, learner_id: str) -> dict[str, Any]:
        return {"objectType": "Agent", "account": {"homePage": self.base, "name": learner_id}}

    def activity(self, iri: str, name: str | None, type_: str | None = None, **extra: Any) -> dict[str, Any]:
        definition: dict[str, Any] = {"name": {"en-US": name}} if name else {}
        if type_:
            definition["type"] = ACTIVITY + type_
        definition.update(extra)
        return {"objectType": "Activity", "id": iri, **({"definition": definition} if definition else {})}

    def topic(self, topic_id: str) -> dict[str, Any]:
        return self.activity(self.iri("topics", topic_id), self.names.topic(topic_id) or topic_id, "lesson")

    def _statement(self, learner_id: str, verb: str, obj: dict[str, Any], at: str | None,
                   result: dict[str, Any] | None = None, parents: Sequence[dict[str, Any]] = (),
                   grouping: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:  # fmt: skip
        context: dict[str, Any] = {"platform": PLATFORM, "language": "en"}
        activities = {k: list(v) for k, v in (("parent", parents), ("grouping", grouping)) if v}
        if activities:
            context["contextActivities"] = activities
        st: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "actor": self.actor(learner_id),
            "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
            "object": obj,
            "context": context,
            "timestamp": at or now_iso(),
        }
        if result is not None:
            st["result"] = result
        return st

    def attempt(self, row: dict[str, Any]) -> dict[str, Any]:
        """A graded exercise attempt: ``passed``/``failed`` with the scaled score."""
        ex_id, passed, score = row["exercise_id"], bool(row["passed"]), float(row["score"])
        obj = self.activity(self.iri("exercises", ex_id), self.names.exercise(ex_id) or ex_id, "assessment")
        result = {"success": passed, "completion": True,
                  "score": {"scaled": round(score, 4), "raw": round(score, 4), "min": 0, "max": 1}}  # fmt: skip
        verb = "passed" if passed else "failed"
        return self._statement(
            row["learner_id"], verb, obj, row.get("at"), result, [self.topic(row["topic_id"])]
        )

    def answer(self, row: dict[str, Any]) -> dict[str, Any]:
        """A practice answer: ``answered`` with ``success`` (and what was answered, except code)."""
        item = self.names.item(row["item_id"])
        kind = getattr(item, "kind", None)
        extra = {"interactionType": INTERACTION[kind]} if kind in INTERACTION else {}
        prompt = str(getattr(item, "prompt", "") or "")
        name = prompt if len(prompt) <= 120 else prompt[:119] + "…"
        obj = self.activity(self.iri("practice", row["item_id"]), name or row["item_id"],
                            "cmi.interaction", **extra)  # fmt: skip
        result: dict[str, Any] = {"success": bool(row["correct"]), "completion": True}
        response = _response(kind, row)
        if response is not None:
            result["response"] = response
        return self._statement(row["learner_id"], "answered", obj, row.get("at"), result,
                               [self.topic(row["topic_id"])])  # fmt: skip

    def lab_step(self, row: dict[str, Any]) -> dict[str, Any]:
        """One check of a lab step: ``passed``/``failed``, the lab as parent, its topics as grouping."""
        lab = self.names.lab(row["lab_id"])
        step = next((s for s in getattr(lab, "steps", ()) if s.id == row["step_id"]), None)
        obj = self.activity(self.iri("labs", row["lab_id"], "steps", row["step_id"]),
                            getattr(step, "title", None) or row["step_id"], "interaction")  # fmt: skip
        topics = lab.step_topics(step) if lab is not None and step is not None else ()
        verb = "passed" if row["passed"] else "failed"
        return self._statement(row["learner_id"], verb, obj, row.get("at"), {"success": bool(row["passed"])},
                               [self._lab(row["lab_id"], lab)], [self.topic(t) for t in topics])  # fmt: skip

    def lab_completed(self, row: dict[str, Any]) -> dict[str, Any]:
        lab = self.names.lab(row["lab_id"])
        return self._statement(row["learner_id"], "completed", self._lab(row["lab_id"], lab), row.get("at"),
                               {"completion": True, "success": True},
                               grouping=[self.topic(t) for t in getattr(lab, "topics", ())])  # fmt: skip

    def _lab(self, lab_id: str, lab: Any) -> dict[str, Any]:
        return self.activity(self.iri("labs", lab_id), getattr(lab, "title", None) or lab_id, "module")

    def plan(self, row: dict[str, Any]) -> dict[str, Any]:
        """A lesson plan made: ``registered`` to the plan, its topics as ``other`` context."""
        plan = row.get("plan") or {}
        items = [i for i in plan.get("items") or [] if isinstance(i, dict)]
        minutes = sum(int(i.get("minutes") or 0) for i in items)
        name = f"Lesson plan ({minutes} min)" + (f": {plan['goal']}" if plan.get("goal") else "")
        obj = self.activity(self.iri("plans", str(uuid.uuid4())), name[:200], "lesson")
        st = self._statement(row["learner_id"], "registered", obj, row.get("created"))
        topics = list(dict.fromkeys(str(i["topic_id"]) for i in items if i.get("topic_id")))
        if topics:
            st["context"]["contextActivities"] = {"other": [self.topic(t) for t in topics]}
        return st


def _response(kind: str | None, row: dict[str, Any]) -> str | None:
    details = row.get("details") or {}
    if kind == "multiple_choice" and "choice" in details:
        return str(details["choice"])
    if kind == "numeric" and "value" in details:
        return str(details["value"])
    if kind == "short_answer":
        return str(row.get("answer") or "")[:MAX_RESPONSE_CHARS]
    return None  # code (and unknown items): the learner's code stays in the tutor


# --- the outbox (table xapi_outbox in storage/store.py) ---
@dataclass(frozen=True)
class Pending:
    id: int
    statement: dict[str, Any]
    tries: int


class Outbox:
    """Statements waiting for the LRS, oldest first."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def add(conn: Connection, statement: dict[str, Any]) -> None:
        ts = now_iso()
        conn.execute(insert(xapi_outbox).values(statement_id=statement["id"], statement=statement,
                                                created=ts, tries=0, next_try=ts))  # fmt: skip

    def due(self, limit: int = 50, now: datetime | None = None) -> list[Pending]:
        at = _iso(now or datetime.now(UTC))
        q = select(xapi_outbox.c.id, xapi_outbox.c.statement, xapi_outbox.c.tries).where(
            xapi_outbox.c.next_try <= at).order_by(xapi_outbox.c.id).limit(limit)  # fmt: skip
        with self.store.engine.connect() as conn:
            return [Pending(r.id, dict(r.statement), int(r.tries)) for r in conn.execute(q)]

    def delivered(self, ids: Sequence[int]) -> None:
        if ids:
            with self.store.engine.begin() as conn:
                conn.execute(delete(xapi_outbox).where(xapi_outbox.c.id.in_(list(ids))))

    def postpone(self, items: Sequence[Pending], error: str, delay_s: Callable[[int], float]) -> None:
        with self.store.engine.begin() as conn:
            for p in items:
                later = _iso(datetime.now(UTC) + timedelta(seconds=delay_s(p.tries + 1)))
                conn.execute(update(xapi_outbox).where(xapi_outbox.c.id == p.id).values(
                    tries=p.tries + 1, next_try=later, last_error=error[:2000]))  # fmt: skip

    def count(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(xapi_outbox)).scalar_one())

    def statements(self) -> list[dict[str, Any]]:
        """Every waiting statement, oldest first (tests, support)."""
        with self.store.engine.connect() as conn:
            return [dict(r.statement) for r in conn.execute(select(xapi_outbox).order_by(xapi_outbox.c.id))]


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


# --- recording (a Store listener) ---
class XapiRecorder:
    """Turns the store's learning records into outbox rows, in the record's own transaction.
    A statement that cannot be built is logged and skipped; the record is still kept."""

    def __init__(self, statements: Statements, wake: Callable[[], None] | None = None) -> None:
        self.statements = statements
        self.wake = wake or (lambda: None)

    def __call__(self, conn: Connection, kind: str, row: dict[str, Any]) -> None:
        try:
            built = self.build(conn, kind, row)
        except Exception:  # a bug here must not cost the learner their attempt
            log.exception("no xAPI statement for %s %s", kind, {k: row.get(k) for k in ("learner_id", "at")})
            return
        for st in built:
            Outbox.add(conn, st)
        if built:
            self.wake()

    def build(self, conn: Connection, kind: str, row: dict[str, Any]) -> list[dict[str, Any]]:
        s = self.statements
        if kind == "attempt":  # a lab step's evidence ("lab:<lab>/<step>") has its own statement
            return [] if str(row["exercise_id"]).startswith("lab:") else [s.attempt(row)]
        if kind == "practice_answer":
            return [s.answer(row)]
        if kind == "plan":
            return [s.plan(row)]
        if kind == "lab_step":
            out = [s.lab_step(row)]
            if row.get("first_pass") and self._lab_done(conn, row):
                out.append(s.lab_completed(row))
            return out
        return []

    def _lab_done(self, conn: Connection, row: dict[str, Any]) -> bool:
        """Whether every step of the lab has now passed once (this step's first pass finished it)."""
        lab = self.statements.names.lab(row["lab_id"])
        steps = {s.id for s in getattr(lab, "steps", ())}
        if not steps:
            return False
        q = select(lab_steps.c.step_id).where(lab_steps.c.learner_id == row["learner_id"],
                                              lab_steps.c.lab_id == row["lab_id"], lab_steps.c.ever_passed)  # fmt: skip
        return steps <= {r.step_id for r in conn.execute(q)}


# --- sending ---
class XapiSender:
    """Posts due statements to the LRS from a daemon thread; backoff ``base_delay_s * 2**(tries-1)``
    (with jitter) up to ``max_delay_s`` after each failed try."""

    def __init__(
        self,
        outbox: Outbox,
        url: str,
        username: str = "",
        password: str = "",
        *,
        batch: int = 50,
        poll_s: float = 2.0,
        base_delay_s: float = 2.0,
        max_delay_s: float = 300.0,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.outbox = outbox
        self.endpoint = url.rstrip("/") + "/statements"
        self.batch, self.poll_s = batch, poll_s
        self.base_delay_s, self.max_delay_s = base_delay_s, max_delay_s
        auth = httpx.BasicAuth(username, password) if username or password else None
        self.client = httpx.Client(auth=auth, timeout=timeout_s, transport=transport,
                                   headers={"X-Experience-API-Version": XAPI_VERSION})  # fmt: skip
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def delay_s(self, tries: int) -> float:
        d = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, tries - 1))
        return float(d * random.uniform(0.8, 1.0))

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="xapi-sender", daemon=True)
            self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.client.close()

    def _run(self) -> None:
        log.info("sending xAPI statements to %s", self.endpoint)
        while not self._stop.is_set():
            try:
                sent = self.send_due()
            except Exception:  # the database or the network had a moment: try again later
                log.exception("xAPI sender round failed")
                sent = 0
            if not sent:
                if self._wake.wait(self.poll_s):
                    time.sleep(0.1)  # woken inside the record's transaction: let it commit first
                self._wake.clear()

    def send_due(self) -> int:
        """One round: post what is due (one batch); returns how many the LRS accepted."""
        due = self.outbox.due(self.batch)
        if not due:
            return 0
        status, error = self._post([p.statement for p in due])
        if status in (200, 204):
            self.outbox.delivered([p.id for p in due])
            return len(due)
        if status in (400, 409) and len(due) > 1:  # one statement spoils the batch: one by one
            return sum(self._send_one(p) for p in due)
        if status == 409:  # the LRS has this statement id already (an earlier try got through)
            self.outbox.delivered([due[0].id])
            return 1
        log.warning("LRS did not take %d statement(s): %s (retrying later)", len(due), error)
        self.outbox.postpone(due, error, self.delay_s)
        return 0

    def _send_one(self, p: Pending) -> int:
        status, error = self._post([p.statement])
        if status in (200, 204, 409):
            self.outbox.delivered([p.id])
            return 1
        log.warning("LRS refused statement %s: %s (retrying later)", p.statement.get("id"), error)
        self.outbox.postpone([p], error, self.delay_s)
        return 0

    def _post(self, statements: list[dict[str, Any]]) -> tuple[int | None, str]:
        try:
            r = self.client.post(self.endpoint, json=statements)
        except httpx.HTTPError as e:
            return None, f"{type(e).__name__}: {e}"
        return r.status_code, f"HTTP {r.status_code}: {r.text[:500]}"


# --- wiring for a tutor.service.Tutor ---
def names_of(tutor: Any) -> Names:
    """Names from the tutor's catalog, exercises, practice items and labs (each loaded once)."""

    def topic(topic_id: str) -> str | None:
        t = tutor.catalog.topics.get(topic_id)
        return t.title if t else None

    def exercise(ex_id: str) -> str | None:
        ex = tutor.exercises.get(ex_id)
        return str(getattr(ex, "title", "") or "") or None

    def item(item_id: str) -> Any:
        return tutor.practice.items.get(item_id)

    def lab(lab_id: str) -> Any:
        return tutor.labs.labs.get(lab_id)

    return Names(topic=topic, exercise=exercise, item=item, lab=lab)


def attach(store: Store, tutor: Any) -> None:
    """Record every learning record of ``store`` as a statement (``TUTOR_XAPI_URL`` is set)."""

    def wake() -> None:
        sender = tutor.__dict__.get("xapi")  # only once it was built (the app starts it)
        if sender is not None:
            sender.wake()

    statements = Statements(tutor.settings.xapi_activity_base, names_of(tutor))
    store.listeners.append(XapiRecorder(statements, wake))


def make_sender(tutor: Any, **options: Any) -> XapiSender | None:
    """The sender for ``tutor`` (not started), or None when ``TUTOR_XAPI_URL`` is not set."""
    s = tutor.settings
    if not s.xapi_url:
        return None
    return XapiSender(Outbox(tutor.store), s.xapi_url, s.xapi_username, s.xapi_password, **options)
