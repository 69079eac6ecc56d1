"""Why each plan item is there, from the learner's state: the goal's path, short reasons, the
"how far is the goal" sentence, and a check that a reason someone else wrote (the GPT) is true.

A reason is one or more claims joined by "; ". The claims the planner writes, and the only ones
``reason_is_true`` accepts:

- ``review: due today``: the topic's review is due;
- ``practice: N questions on TITLE``: the topic has N practice items;
- ``lab: LAB_ID on TITLE``: the item is that guided lab;
- ``your goal: TITLE``: the topic is a goal;
- ``prerequisite of TITLE for your goal``: the topic is a (direct or indirect) prerequisite of
  TITLE, which is the goal or on the goal's path;
- ``new topic in module N``: no mastery yet, in module N;
- ``weakest topic in module N (P% mastered)``: the least mastered of module N's topics that are
  started (mastery above 0) and not mastered;
- ``P% mastered, not yet 80%``: the topic's mastery.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from curriculum.catalog import Catalog

MASTERED = 0.8  # the planner's threshold (curriculum.planner.MASTERED)
DUE = "review: due today"
NOT_DUE = "review: not due yet"  # a review the planner would not schedule; said as it is


def goal_path(catalog: Catalog, mastery: Mapping[str, float], goal_topics: Iterable[str]) -> list[str]:
    """The goals' prerequisite closure (goals included) not yet mastered, in prerequisite order."""
    wanted: set[str] = set()
    for g in goal_topics:
        if g in catalog.topics:
            wanted |= catalog.ancestors(g) | {g}
    return [t for t in catalog.topological_order() if t in wanted and mastery.get(t, 0.0) < MASTERED]


def study_path(catalog: Catalog, mastery: Mapping[str, float], goal_topics: Iterable[str]) -> list[str]:
    """What is left to learn, in prerequisite order: the goals' path, or without a goal every
    topic not yet mastered. The planner's items (after due reviews) are always a prefix of it."""
    goals = [g for g in goal_topics if g in catalog.topics]
    if goals:
        return goal_path(catalog, mastery, goals)
    return [t for t in catalog.topological_order() if mastery.get(t, 0.0) < MASTERED]


def practice_counts(catalog: Catalog) -> dict[str, int]:
    """Number of bundled practice items per topic (``curriculum/practice``)."""
    from curriculum.practice import bundled_practice

    out: dict[str, int] = {}
    for item in bundled_practice().values():
        out[item.topic_id] = out.get(item.topic_id, 0) + 1
    return out


def _module_no(module_id: str) -> str:
    return module_id[1:] if module_id[:1] == "m" and module_id[1:].isdigit() else module_id


@dataclass
class ReasonContext:
    """The learner's state a reason is computed from and checked against."""

    catalog: Catalog
    mastery: Mapping[str, float]
    goal_topics: Sequence[str] = ()
    due: Sequence[str] = ()
    practice: Mapping[str, int] = field(default_factory=dict)  # topic -> number of practice items
    path: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.goal_topics = [g for g in self.goal_topics if g in self.catalog.topics]
        self.path = goal_path(self.catalog, self.mastery, self.goal_topics)

    def title(self, tid: str) -> str:
        t = self.catalog.topics.get(tid)
        return t.title if t else tid

    def topic_named(self, name: str) -> str | None:
        """The topic id a title or id in a reason names, or None."""
        low = name.strip().strip(".").lower()
        for t in self.catalog.topics.values():
            if low in (t.id.lower(), t.title.lower()):
                return t.id
        return None

    def _needs(self, tid: str) -> str | None:
        """The first topic on the goal's path (or a goal) that lists ``tid`` as a prerequisite."""
        for other in [*self.path, *self.goal_topics]:
            if tid in self.catalog.topics[other].prerequisites:
                return other
        for g in self.goal_topics:  # an indirect prerequisite whose users are all mastered
            if tid in self.catalog.ancestors(g):
                return g
        return None

    def weakest_in_module(self, tid: str) -> bool:
        module = self.catalog.topics[tid].module
        started = [  # topics of the module worked on but not mastered
            self.mastery.get(t, 0.0)
            for t, topic in self.catalog.topics.items()
            if topic.module == module and 0.0 < self.mastery.get(t, 0.0) < MASTERED
        ]
        p = self.mastery.get(tid, 0.0)
        return 0.0 < p < MASTERED and p <= min(started)


def reason_for(ctx: ReasonContext, item: Mapping[str, Any]) -> str:
    """The planner's reason for one item (``topic_id``, ``activity``, optional ``lab_id``)."""
    tid, act = str(item.get("topic_id")), str(item.get("activity"))
    if tid not in ctx.catalog.topics:
        return ""
    if act == "review":
        return DUE if tid in ctx.due else NOT_DUE
    claims: list[str] = []
    if act == "practice":
        claims.append(f"practice: {ctx.practice.get(tid, 0)} questions on {ctx.title(tid)}")
    elif act == "lab":
        claims.append(f"lab: {item.get('lab_id')} on {ctx.title(tid)}")
    if tid in ctx.goal_topics:
        claims.append(f"your goal: {ctx.title(tid)}")
    elif ctx.goal_topics and (user := ctx._needs(tid)):
        claims.append(f"prerequisite of {ctx.title(user)} for your goal")
    else:
        p = ctx.mastery.get(tid, 0.0)
        module = _module_no(ctx.catalog.topics[tid].module)
        if p <= 0.0:
            claims.append(f"new topic in module {module}")
        elif ctx.weakest_in_module(tid):
            claims.append(f"weakest topic in module {module} ({round(p * 100)}% mastered)")
        else:
            claims.append(f"{round(p * 100)}% mastered, not yet 80%")
    return "; ".join(claims)


_CLAIMS = [
    ("due", re.compile(r"review: due today")),
    ("not due", re.compile(r"review: not due yet")),
    ("practice", re.compile(r"practice: (\d+) questions on (.+)")),
    ("lab", re.compile(r"lab: (\S+) on (.+)")),
    ("goal", re.compile(r"your goal: (.+)")),
    ("prereq", re.compile(r"prerequisite of (.+) for your goal")),
    ("new", re.compile(r"new topic in module (\w+)")),
    ("weakest", re.compile(r"weakest topic in module (\w+) \((\d+)% mastered\)")),
    ("partial", re.compile(r"(\d+)% mastered, not yet 80%")),
]


def _claim_true(ctx: ReasonContext, item: Mapping[str, Any], claim: str) -> bool:
    tid, act = str(item.get("topic_id")), str(item.get("activity"))
    p = ctx.mastery.get(tid, 0.0)
    module = _module_no(ctx.catalog.topics[tid].module)
    for kind, rx in _CLAIMS:
        m = rx.fullmatch(claim.strip().rstrip("."))
        if not m:
            continue
        if kind == "due":
            return act == "review" and tid in ctx.due
        if kind == "not due":
            return act == "review" and tid not in ctx.due
        if kind == "practice":
            named = ctx.topic_named(m.group(2))
            return act == "practice" and named == tid and int(m.group(1)) == ctx.practice.get(tid, 0)
        if kind == "lab":
            return (
                act == "lab"
                and m.group(1) == str(item.get("lab_id")).lower()
                and ctx.topic_named(m.group(2)) == tid
            )
        if kind == "goal":
            return tid in ctx.goal_topics and ctx.topic_named(m.group(1)) == tid
        if kind == "prereq":
            user = ctx.topic_named(m.group(1))
            return (
                user is not None
                and (user in ctx.goal_topics or user in ctx.path)
                and tid in ctx.catalog.ancestors(user)
            )
        if kind == "new":
            return p <= 0.0 and m.group(1) == module
        if kind == "weakest":
            return m.group(1) == module and ctx.weakest_in_module(tid) and int(m.group(2)) == round(p * 100)
        if kind == "partial":
            return 0.0 < p < MASTERED and int(m.group(1)) == round(p * 100)
    return False  # a claim the planner cannot check is not trusted


def reason_is_true(ctx: ReasonContext, item: Mapping[str, Any], reason: str) -> bool:
    """Whether every claim of ``reason`` (split at "; ") holds for this item and learner."""
    if str(item.get("topic_id")) not in ctx.catalog.topics:
        return False
    claims = [c for c in reason.lower().split(";") if c.strip()]  # titles are matched in any case
    return bool(claims) and all(_claim_true(ctx, item, c.strip()) for c in claims)


def annotate(ctx: ReasonContext, items: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Items with a ``reason`` each: a given reason is kept when true, else replaced by the
    planner's (counted); a missing one is filled in. Returns (items, reasons replaced)."""
    out: list[dict[str, Any]] = []
    replaced = 0
    for item in items:
        new = dict(item)
        given = str(new.get("reason") or "").strip()
        if not given or not reason_is_true(ctx, new, given):
            replaced += bool(given)
            new["reason"] = reason_for(ctx, new)
        out.append(new)
    return out, replaced


def distance(ctx: ReasonContext, items: Iterable[Mapping[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """How far each goal is and how much of the way the plan covers, as a sentence ("GPT models is
    20 topics away; this plan covers the first 3.") and as data per goal."""
    planned = [str(i.get("topic_id")) for i in items if i.get("activity") != "review"]
    sentences: list[str] = []
    rows: list[dict[str, Any]] = []
    for g in ctx.goal_topics:
        path = goal_path(ctx.catalog, ctx.mastery, [g])
        away = len([t for t in path if t != g])
        covered = [t for t in path if t in planned]
        title = ctx.title(g)
        rows.append({"topic_id": g, "topics_away": away, "covered": len(covered), "reached": g in planned})
        if g not in path:
            sentences.append(f"You have already mastered {title}.")
        elif g in planned:
            sentences.append(f"This plan reaches {title}.")
        elif away == 0:
            sentences.append(f"{title} is next, but this plan has no time left for it.")
        else:
            first = covered == [t for t in path if t != g][: len(covered)]
            part = f"the first {len(covered)}" if first else f"{len(covered)} of them"
            unit = "topic" if away == 1 else "topics"
            sentences.append(f"{title} is {away} {unit} away; this plan covers {part}.")
    return " ".join(sentences), rows
