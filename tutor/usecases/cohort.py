"""The teacher view of all learners (the Teach tab, ``GET /api/cohort`` and ``/api/cohort.csv``).

``cohort(tutor)`` reads the learner store once and returns a ``Cohort``:

- ``mastery``: learner x topic mastery (BKT ``p``) for the topics anyone has mastery in;
- ``exercises`` / ``practice``: per exercise and per practice item, attempts, learners, pass rate
  and the most common failures (failed tests for exercises, from the attempt's ``details``; wrong
  options, wrong numbers, missed key points or the code verdict for practice items);
- ``stuck``: learners stuck on a topic: at least ``min_failures`` failed attempts or wrong
  answers since their last success on it, and no success on it for ``stuck_days`` days (counted
  from the first try when there never was one);
- ``learners``: a summary per learner with any record (a guest who only opened the page is left
  out), with the reviews due now.

Lab-step evidence (``exercise_id`` ``lab:<lab>/<step>``) counts as success for "stuck", not as an
exercise. ``to_csv`` writes all of it as one table with a ``section`` column.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from storage.store import attempts, cards, mastery, practice_answers
from tutor.errors import BadInput

MASTERED = 0.8
TOP_FAILURES = 3
SECTIONS = ("learner", "mastery", "exercise", "practice", "stuck", "due")
CSV_COLUMNS = ["section", "learner_id", "topic_id", "item_id", "kind", "title", "mastery", "attempts",
               "passed", "pass_rate", "learners", "failures", "answers", "correct", "due", "last_active",
               "last_success", "detail"]  # fmt: skip


@dataclass(frozen=True)
class Failure:
    """One kind of failure and how often it happened."""

    label: str
    count: int


@dataclass(frozen=True)
class ItemStats:
    """How the cohort does on one exercise (``kind`` "exercise") or practice item (its kind)."""

    item_id: str
    topic_id: str
    kind: str
    title: str
    attempts: int
    learners: int
    passed: int
    pass_rate: float
    failures: list[Failure] = field(default_factory=list)


@dataclass(frozen=True)
class Stuck:
    """A learner stuck on a topic: ``failures`` in a row since ``last_success`` (None: never)."""

    learner_id: str
    topic_id: str
    title: str
    failures: int
    last_success: str | None
    last_try: str


@dataclass(frozen=True)
class Due:
    topic_id: str
    title: str
    due: str


@dataclass(frozen=True)
class LearnerSummary:
    learner_id: str
    attempts: int
    passed: int
    answers: int
    correct: int
    topics_started: int
    topics_mastered: int
    mean_mastery: float | None
    last_active: str | None
    due: list[Due] = field(default_factory=list)


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    module: str


@dataclass(frozen=True)
class Cohort:
    generated: str
    stuck_days: float
    min_failures: int
    topics: list[Topic]
    learners: list[LearnerSummary]
    mastery: dict[str, dict[str, float]]
    exercises: list[ItemStats]
    practice: list[ItemStats]
    stuck: list[Stuck]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rows(self, section: str | None = None) -> list[dict[str, Any]]:
        """The CSV table: one row per learner, mastery cell, exercise, item, stuck pair, due review."""
        titles = {t.id: t.title for t in self.topics}
        out: list[dict[str, Any]] = []
        for s in self.learners:
            out.append({"section": "learner", "learner_id": s.learner_id, "mastery": s.mean_mastery,
                        "attempts": s.attempts, "passed": s.passed, "answers": s.answers, "correct": s.correct,
                        "due": len(s.due), "last_active": s.last_active,
                        "detail": f"{s.topics_started} topics started, {s.topics_mastered} mastered"})  # fmt: skip
        for learner_id, row in self.mastery.items():
            for topic_id, p in row.items():
                out.append({"section": "mastery", "learner_id": learner_id, "topic_id": topic_id,
                            "title": titles.get(topic_id, topic_id), "mastery": round(p, 4)})  # fmt: skip
        for name, stats in (("exercise", self.exercises), ("practice", self.practice)):
            for st in stats:
                out.append({"section": name, "item_id": st.item_id, "topic_id": st.topic_id, "kind": st.kind,
                            "title": st.title, "attempts": st.attempts, "passed": st.passed,
                            "pass_rate": st.pass_rate, "learners": st.learners,
                            "detail": "; ".join(f"{f.label} ({f.count})" for f in st.failures)})  # fmt: skip
        for k in self.stuck:
            out.append({"section": "stuck", "learner_id": k.learner_id, "topic_id": k.topic_id, "title": k.title,
                        "failures": k.failures, "last_active": k.last_try, "last_success": k.last_success,
                        "detail": f"{k.failures} failed tries since the last success"})  # fmt: skip
        for s in self.learners:
            for d in s.due:
                out.append({"section": "due", "learner_id": s.learner_id, "topic_id": d.topic_id,
                            "title": d.title, "due": d.due})  # fmt: skip
        return [r for r in out if section in (None, r["section"])]

    def to_csv(self, section: str | None = None) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows(section):
            writer.writerow({k: _csv_safe(v) for k, v in row.items()})
        return buf.getvalue()


def _csv_safe(v: Any) -> Any:
    """Text a spreadsheet would run as a formula ("=...", "+...") is quoted with a leading '."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


# --- computing ---
def cohort(
    tutor: Any, *, stuck_days: float = 7.0, min_failures: int = 3, now: datetime | None = None
) -> Cohort:
    """The cohort of ``tutor``'s store, with names from its catalog, exercises and practice items."""
    if stuck_days < 0 or min_failures < 1:
        raise BadInput("stuck_days must be >= 0 and min_failures >= 1")
    topics = tutor.catalog.topics
    items = getattr(tutor.practice, "items", {})
    exercises = tutor.exercises
    return compute(
        _read(tutor.store),
        topic_info={tid: (t.title, t.module) for tid, t in topics.items()},
        exercise_titles={ex_id: str(getattr(ex, "title", "") or ex_id) for ex_id, ex in exercises.items()},
        items=items,
        stuck_days=stuck_days,
        min_failures=min_failures,
        now=now,
    )


@dataclass
class Records:
    """The rows the cohort is computed from (plain dicts, as the store holds them)."""

    attempts: list[dict[str, Any]]
    answers: list[dict[str, Any]]
    mastery: list[dict[str, Any]]
    cards: list[dict[str, Any]]


def _read(store: Any) -> Records:
    with store.engine.connect() as conn:

        def rows(q: Any) -> list[dict[str, Any]]:
            return [dict(r._mapping) for r in conn.execute(q)]

        return Records(
            attempts=rows(select(attempts).order_by(attempts.c.id)),
            answers=rows(select(practice_answers).order_by(practice_answers.c.id)),
            mastery=rows(select(mastery.c.learner_id, mastery.c.topic_id, mastery.c.p)),
            cards=rows(select(cards.c.learner_id, cards.c.topic_id, cards.c.due)),
        )


def compute(
    rec: Records,
    *,
    topic_info: dict[str, tuple[str, str]],
    exercise_titles: dict[str, str],
    items: dict[str, Any],
    stuck_days: float = 7.0,
    min_failures: int = 3,
    now: datetime | None = None,
) -> Cohort:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    order = {tid: n for n, tid in enumerate(topic_info)}
    title = {tid: info[0] for tid, info in topic_info.items()}

    grid: dict[str, dict[str, float]] = defaultdict(dict)
    for m in rec.mastery:
        grid[m["learner_id"]][m["topic_id"]] = float(m["p"])
    seen_topics = sorted({t for row in grid.values() for t in row}, key=lambda t: (order.get(t, 10**6), t))
    topics = [Topic(t, title.get(t, t), topic_info.get(t, ("", ""))[1]) for t in seen_topics]

    exercise_attempts = [a for a in rec.attempts if not str(a["exercise_id"]).startswith("lab:")]
    exercise_stats = _stats(exercise_attempts, "exercise_id", "passed",
                            lambda a: (a.get("details") or {}).get("failed") or [],
                            lambda ex_id: ("exercise", exercise_titles.get(ex_id, ex_id)))  # fmt: skip
    practice_stats = _stats(rec.answers, "item_id", "correct", lambda a: _wrong(items.get(a["item_id"]), a),
                            lambda item_id: _item_kind_title(items.get(item_id), item_id))  # fmt: skip

    due_at = now.isoformat(timespec="seconds")
    due: dict[str, list[Due]] = defaultdict(list)
    for c in sorted(rec.cards, key=lambda c: (c["due"], c["topic_id"])):
        if c["due"] <= due_at:
            due[c["learner_id"]].append(Due(c["topic_id"], title.get(c["topic_id"], c["topic_id"]), c["due"]))

    # learners with any record (a guest who only opened the page is not part of the cohort)
    everyone = sorted(set(grid) | {a["learner_id"] for a in rec.attempts + rec.answers + rec.cards})
    summaries = []
    for lid in everyone:
        mine = [a for a in rec.attempts if a["learner_id"] == lid]
        answers = [a for a in rec.answers if a["learner_id"] == lid]
        ps = list(grid.get(lid, {}).values())
        times = [a["at"] for a in mine + answers]
        summaries.append(LearnerSummary(
            learner_id=lid, attempts=len(mine), passed=sum(bool(a["passed"]) for a in mine), answers=len(answers),
            correct=sum(bool(a["correct"]) for a in answers), topics_started=len(ps),
            topics_mastered=sum(p >= MASTERED for p in ps), mean_mastery=round(sum(ps) / len(ps), 4) if ps else None,
            last_active=max(times) if times else None, due=due.get(lid, []),
        ))  # fmt: skip
    return Cohort(
        generated=now.isoformat(timespec="seconds"),
        stuck_days=stuck_days,
        min_failures=min_failures,
        topics=topics,
        learners=summaries,
        mastery={
            lid: dict(sorted(grid[lid].items(), key=lambda kv: order.get(kv[0], 10**6)))
            for lid in sorted(grid)
        },
        exercises=exercise_stats,
        practice=practice_stats,
        stuck=_stuck(rec, title, stuck_days, min_failures, now),
    )


def _stats(rows: list[dict[str, Any]], key: str, ok: str, failures: Any, describe: Any) -> list[ItemStats]:
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by[r[key]].append(r)
    out = []
    for item_id, rs in by.items():
        passed = sum(bool(r[ok]) for r in rs)
        counts: Counter[str] = Counter()
        for r in rs:
            if not r[ok]:
                counts.update(str(x) for x in failures(r))
        kind, title = describe(item_id)
        out.append(ItemStats(
            item_id=item_id, topic_id=rs[0]["topic_id"], kind=kind, title=title, attempts=len(rs),
            learners=len({r["learner_id"] for r in rs}), passed=passed, pass_rate=round(passed / len(rs), 4),
            failures=[Failure(label, n) for label, n in counts.most_common(TOP_FAILURES)],
        ))  # fmt: skip
    return sorted(out, key=lambda s: (s.pass_rate, -s.attempts, s.item_id))  # hardest first


def _item_kind_title(item: Any, item_id: str) -> tuple[str, str]:
    if item is None:
        return "practice", item_id
    prompt = str(item.prompt).strip().splitlines()[0] if str(item.prompt).strip() else item_id
    return str(item.kind), prompt if len(prompt) <= 90 else prompt[:89] + "…"


def _wrong(item: Any, answer: dict[str, Any]) -> Iterable[str]:
    """What a wrong answer was, as a label to count: the option chosen, the number given, the key
    points made, the code verdict; the answer text otherwise (capped)."""
    d = answer.get("details") or {}
    kind = getattr(item, "kind", None)
    if kind == "multiple_choice" and isinstance(d.get("choice"), int):
        choices = item.choices
        i = d["choice"]
        return [f"option {i + 1}: {choices[i].text}" if 0 <= i < len(choices) else f"option {i + 1}"]
    if kind == "numeric" and "value" in d:
        return [f"{d['value']:g}" if isinstance(d["value"], int | float) else str(d["value"])]
    if kind == "short_answer" and "points" in d:
        return [f"made {d['points']} of {d.get('needed', '?')} key points"]
    if kind == "code":
        return [f"code {d.get('status') or 'failed'}"]
    text = str(answer.get("answer") or "").strip()
    return [text if len(text) <= 60 else text[:59] + "…"] if text else []


def _stuck(rec: Records, title: dict[str, str], days: float, min_failures: int, now: datetime) -> list[Stuck]:
    events: dict[tuple[str, str], list[tuple[str, bool]]] = defaultdict(list)
    for a in rec.attempts:
        events[(a["learner_id"], a["topic_id"])].append((a["at"], bool(a["passed"])))
    for a in rec.answers:
        events[(a["learner_id"], a["topic_id"])].append((a["at"], bool(a["correct"])))
    cutoff = (now - timedelta(days=days)).isoformat(timespec="seconds")
    out = []
    for (lid, tid), evs in events.items():
        evs.sort(key=lambda e: e[0])  # stable: same-second events keep their id order
        last_ok = max((i for i, (_, ok) in enumerate(evs) if ok), default=-1)
        streak = evs[last_ok + 1 :]  # every try after the last success failed
        last_success = evs[last_ok][0] if last_ok >= 0 else None
        since = last_success or evs[0][0]
        if len(streak) >= min_failures and since <= cutoff:
            out.append(Stuck(lid, tid, title.get(tid, tid), len(streak), last_success, evs[-1][0]))
    return sorted(out, key=lambda s: (-s.failures, s.learner_id, s.topic_id))
