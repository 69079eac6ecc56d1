"""Rule-based lesson planning over the prerequisite graph: mastery-first and goal-directed.

These plans are the targets the tutor's GPT is fine-tuned on, and the repair path when a plan it
writes fails ``validate_plan``. A plan never asks for a topic before its prerequisites are
mastered or earlier in the same plan, and never exceeds the learner's hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from curriculum.catalog import Catalog
from curriculum.plan_reasons import goal_path, study_path
from tutor.errors import BadInput

MASTERED = 0.8  # mastery at or above this counts as known
ACTIVITIES = ("review", "study", "practice")
MIN_BLOCK, MAX_BLOCK, REVIEW_BLOCK = 15, 60, 15
LAB = "lab"  # a guided lab (curriculum/labs) on the topic; added to plans by schedule_labs


def practice_topic_ids(practice_topics: Iterable[str] | None, catalog: Catalog) -> set[str]:
    """Topics a "practice" activity may name: those with practice items (``curriculum/practice``)
    unless given; every topic when no practice files exist at all (older checkouts)."""
    if practice_topics is not None:
        return set(practice_topics)
    from curriculum.practice import bundled_practice

    have = {item.topic_id for item in bundled_practice().values()}
    return have or set(catalog.topics)


@dataclass(frozen=True)
class PlanItem:
    topic_id: str
    activity: str
    minutes: int
    reason: str = ""  # why it is in the plan, from the learner's state (curriculum.plan_reasons)


@dataclass
class Plan:
    items: list[PlanItem]
    rationale: str
    goal_topics: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [asdict(i) for i in self.items],
            "rationale": self.rationale,
            "goal_topics": self.goal_topics,
        }


def _block(topic_minutes: int, p: float) -> int:
    """Minutes for one sitting on a topic: half of what is left to learn, in 5-minute steps."""
    raw = topic_minutes * (1.0 - p) / 2
    return int(max(MIN_BLOCK, min(MAX_BLOCK, round(raw / 5) * 5)))


def plan_lesson(
    catalog: Catalog,
    mastery: Mapping[str, float],
    hours: float,
    goal_topics: Iterable[str] = (),
    due_reviews: Iterable[str] = (),
    practice_topics: Iterable[str] | None = None,
) -> Plan:
    """Due reviews first (at most a quarter of the time), then unmastered topics in prerequisite
    order (restricted to the goal and its prerequisites when a goal is given) until time runs out.
    A topic is "study" below 0.3 mastery, else "practice" (its practice items) when it has items."""
    if not 0 < hours <= 40:
        raise BadInput(f"hours must be in (0, 40], got {hours}")
    goal_topics = [g for g in goal_topics if g in catalog.topics]
    due_reviews = list(due_reviews)
    practicable = practice_topic_ids(practice_topics, catalog)
    budget = int(hours * 60)
    items: list[PlanItem] = []
    used = 0
    for t in due_reviews:
        if t in catalog.topics and used + REVIEW_BLOCK <= budget // 4:
            items.append(PlanItem(t, "review", REVIEW_BLOCK))
            used += REVIEW_BLOCK
    planned: set[str] = set()
    for t in study_path(catalog, mastery, goal_topics):
        prereqs_ok = all(
            mastery.get(p, 0.0) >= MASTERED or p in planned for p in catalog.topics[t].prerequisites
        )
        if not prereqs_ok:
            continue
        left = budget - used
        if left < MIN_BLOCK:
            break
        p = mastery.get(t, 0.0)
        minutes = min(_block(catalog.topics[t].minutes, p), left)
        items.append(PlanItem(t, "practice" if p >= 0.3 and t in practicable else "study", minutes))
        planned.add(t)
        used += minutes
    if goal_topics:
        names = ", ".join(catalog.topics[g].title for g in goal_topics)
        why = f"Working towards {names}: unmet prerequisites first, in order."
    else:
        why = "Next unmastered topics in prerequisite order, starting where your mastery is lowest along the path."
    if any(i.activity == "review" for i in items):
        why += " Due reviews come first so earlier topics stay fresh."
    if not items:
        why = "Everything on this path is mastered; pick a goal or a specialisation topic."
    return Plan(items=_with_reasons(catalog, mastery, items, goal_topics, due_reviews), rationale=why,
                goal_topics=list(goal_topics))  # fmt: skip


def _with_reasons(
    catalog: Catalog,
    mastery: Mapping[str, float],
    items: list[PlanItem],
    goal_topics: list[str],
    due_reviews: Iterable[str],
) -> list[PlanItem]:
    from dataclasses import replace

    from curriculum.plan_reasons import ReasonContext, practice_counts, reason_for

    ctx = ReasonContext(catalog, mastery, goal_topics, list(due_reviews), practice_counts(catalog))
    return [replace(i, reason=reason_for(ctx, asdict(i))) for i in items]


def validate_plan(
    catalog: Catalog,
    items: Iterable[Mapping[str, Any]],
    mastery: Mapping[str, float],
    hours: float,
    practice_topics: Iterable[str] | None = None,
    *,
    goal_topics: Iterable[str] | None = None,
    due_reviews: Iterable[str] | None = None,
) -> list[str]:
    """Problems with a plan (empty list = valid): unknown ids, duplicates, bad activities or
    minutes, "practice" on a topic without practice items, a topic before its prerequisites,
    more time than the learner has. With ``goal_topics``, a non-review topic off the goal's path
    (its prerequisite closure not yet mastered); with ``due_reviews``, a review of a topic not due."""
    practicable = practice_topic_ids(practice_topics, catalog)
    goals = [g for g in goal_topics or () if g in catalog.topics]
    on_path = set(goal_path(catalog, mastery, goals)) if goals else None
    due = None if due_reviews is None else set(due_reviews)
    problems: list[str] = []
    seen: set[str] = set()
    twice: set[tuple[str, bool]] = set()
    total = 0
    for n, item in enumerate(items, 1):
        tid, act, minutes = item.get("topic_id"), item.get("activity"), item.get("minutes")
        if tid not in catalog.topics:
            problems.append(f"item {n}: unknown topic id {tid!r}")
            continue
        if act not in ACTIVITIES and act != LAB:
            problems.append(f"item {n}: activity {act!r} is not one of {(*ACTIVITIES, LAB)}")
        elif act == "practice" and tid not in practicable:
            problems.append(f"item {n}: {tid} has no practice items; use 'study'")
        if not isinstance(minutes, int) or minutes <= 0:
            problems.append(f"item {n}: minutes must be a positive integer, got {minutes!r}")
        else:
            total += minutes
        if act == "review" and due is not None and tid not in due:
            problems.append(f"item {n}: {tid} is not due for review")
        if act != "review" and on_path is not None and tid not in on_path:
            problems.append(f"item {n}: {tid} is not on the path to the goal {goals}")
        key = (tid, act == "review")  # a due review and then study of the same topic is fine
        if key in twice:
            problems.append(f"item {n}: {tid} appears twice")
        twice.add(key)
        if act != "review":
            missing = [
                p
                for p in catalog.topics[tid].prerequisites
                if mastery.get(p, 0.0) < MASTERED and p not in seen
            ]
            if missing:
                problems.append(f"item {n}: {tid} comes before its prerequisites {missing}")
        seen.add(tid)
    if total > hours * 60:
        problems.append(f"plan takes {total} minutes but the learner has {hours * 60:.0f}")
    return problems


def schedule_labs(
    items: Iterable[Mapping[str, Any]], labs_by_topic: Mapping[str, str]
) -> list[dict[str, Any]]:
    """A plan's items with the first "practice" item of each topic that has an unfinished lab
    (``{topic_id: lab_id}``) turned into a ``"lab"`` item carrying ``lab_id``; each lab once.
    Minutes and order stay, so the plan stays valid."""
    out: list[dict[str, Any]] = []
    used: set[str] = set()
    for item in items:
        new = dict(item)
        lab_id = labs_by_topic.get(str(new.get("topic_id")))
        if new.get("activity") == "practice" and lab_id and lab_id not in used:
            new.update(activity=LAB, lab_id=lab_id)
            used.add(lab_id)
        out.append(new)
    return out
