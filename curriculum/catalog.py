"""Loads and validates ``curriculum.yaml``: modules, topics and the prerequisite graph.

A bad file fails loudly at load time, naming the offending line (``CatalogError``), because
notes, exercises, progress and every check refer to these topic ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import yaml

from tutor.errors import NotFound

DEFAULT_PATH = Path(__file__).with_name("curriculum.yaml")


class CatalogError(ValueError):
    """The curriculum file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    module: str
    prerequisites: tuple[str, ...]
    must_cover: tuple[str, ...]
    minutes: int
    practicals: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "prerequisites": list(self.prerequisites),
            "practicals": list(self.practicals),
            "must_cover": list(self.must_cover),
            "minutes": self.minutes,
        }


@dataclass(frozen=True)
class Module:
    id: str
    title: str
    phase: int
    duration: str
    topics: tuple[Topic, ...]
    practicals: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "phase": self.phase,
            "duration": self.duration,
            "resources": list(self.resources),
            "topics": [t.to_api() for t in self.topics],
        }


@dataclass
class Catalog:
    modules: list[Module]
    phases: dict[int, str] = field(default_factory=dict)
    topics: dict[str, Topic] = field(init=False)

    def __post_init__(self) -> None:
        self.topics = {t.id: t for m in self.modules for t in m.topics}

    def topic(self, topic_id: str) -> Topic:
        try:
            return self.topics[topic_id]
        except KeyError:
            from difflib import get_close_matches

            near = get_close_matches(topic_id, list(self.topics), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise NotFound(f"topic {topic_id!r} not found{hint} (`GET /api/curriculum` lists them)") from None

    def module(self, module_id: str) -> Module:
        for m in self.modules:
            if m.id == module_id:
                return m
        raise NotFound(f"module {module_id!r} not found; modules are m1..m{len(self.modules)}")

    def topological_order(self) -> list[str]:
        """Topic ids in curriculum order, except that every prerequisite comes before its users."""
        out: list[str] = []
        seen: set[str] = set()

        def visit(tid: str) -> None:
            if tid in seen:
                return
            seen.add(tid)
            for p in self.topics[tid].prerequisites:
                visit(p)
            out.append(tid)

        for tid in self.topics:
            visit(tid)
        return out

    def ancestors(self, topic_id: str) -> set[str]:
        """All direct and indirect prerequisites of a topic."""
        seen: set[str] = set()
        stack = list(self.topic(topic_id).prerequisites)
        while stack:
            tid = stack.pop()
            if tid not in seen:
                seen.add(tid)
                stack.extend(self.topics[tid].prerequisites)
        return seen

    def to_api(self) -> dict[str, Any]:
        return {"modules": [m.to_api() for m in self.modules]}


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping as ``__line__``."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def split_must_cover(text: str) -> tuple[str, ...]:
    """Splits "a, b (c, d), e" on the commas outside parentheses: ("a", "b (c, d)", "e")."""
    items, depth, cur = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    items.append(cur.strip())
    return tuple(i for i in items if i)


def _fail(path: Path, line: object, msg: str) -> CatalogError:
    return CatalogError(f"{path}:{line}: {msg}")


def _strs(value: Any, path: Path, line: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, line, f"{what} must be a list of strings, got {value!r}")
    return tuple(value)


def _topic(raw: dict[str, Any], module: dict[str, Any], path: Path) -> Topic:
    line = raw.get("__line__", "?")
    for key in ("id", "title", "minutes", "must_cover"):
        if key not in raw:
            raise _fail(path, line, f"topic lacks required field {key!r}")
    minutes = raw["minutes"]
    if not isinstance(minutes, int) or minutes <= 0:
        raise _fail(path, line, f"topic {raw['id']!r}: minutes must be a positive integer, got {minutes!r}")
    return Topic(
        id=str(raw["id"]),
        title=str(raw["title"]),
        module=str(module["id"]),
        prerequisites=_strs(raw.get("prerequisites"), path, line, "prerequisites"),
        must_cover=split_must_cover(str(raw["must_cover"])),
        minutes=minutes,
        practicals=_strs(module.get("practicals"), path, line, "practicals"),
        resources=_strs(module.get("resources"), path, line, "resources"),
    )


def parse_catalog(text: str, path: Path = DEFAULT_PATH) -> Catalog:
    """Parses and validates curriculum YAML text; raises CatalogError naming the line."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        raise CatalogError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("modules"), list) or not data["modules"]:
        raise CatalogError(f"{path}: expected a mapping with a non-empty 'modules' list")
    phases = {int(k): str(v) for k, v in (data.get("phases") or {}).items() if k != "__line__"}
    modules: list[Module] = []
    topic_lines: dict[str, object] = {}
    module_ids: set[str] = set()
    for raw_m in data["modules"]:
        line = raw_m.get("__line__", "?") if isinstance(raw_m, dict) else "?"
        if not isinstance(raw_m, dict) or not {"id", "title", "phase", "topics"} <= raw_m.keys():
            raise _fail(path, line, "a module needs id, title, phase and topics")
        if raw_m["id"] in module_ids:
            raise _fail(path, line, f"duplicate module id {raw_m['id']!r}")
        module_ids.add(raw_m["id"])
        topics = []
        for raw_t in raw_m["topics"] or []:
            t = _topic(raw_t, raw_m, path)
            if t.id in topic_lines:
                raise _fail(
                    path,
                    raw_t["__line__"],
                    f"duplicate topic id {t.id!r} (first at line {topic_lines[t.id]})",
                )
            topic_lines[t.id] = raw_t["__line__"]
            topics.append(t)
        modules.append(
            Module(
                id=str(raw_m["id"]),
                title=str(raw_m["title"]),
                phase=int(raw_m["phase"]),
                duration=str(raw_m.get("duration", "")),
                topics=tuple(topics),
                practicals=_strs(raw_m.get("practicals"), path, line, "practicals"),
                resources=_strs(raw_m.get("resources"), path, line, "resources"),
            )
        )
    catalog = Catalog(modules=modules, phases=phases)
    for t in catalog.topics.values():
        for p in t.prerequisites:
            if p not in catalog.topics:
                raise _fail(path, topic_lines[t.id], f"topic {t.id!r} has unknown prerequisite {p!r}")
            if p == t.id:
                raise _fail(path, topic_lines[t.id], f"topic {t.id!r} lists itself as a prerequisite")
    try:
        TopologicalSorter({t.id: t.prerequisites for t in catalog.topics.values()}).prepare()
    except CycleError as e:
        cycle = e.args[1]
        raise _fail(path, topic_lines[cycle[0]], f"prerequisite cycle: {' -> '.join(cycle)}") from None
    return catalog


@cache
def _load_cached(path: Path) -> Catalog:
    return parse_catalog(path.read_text(encoding="utf-8"), path)


def load_catalog(path: Path | str | None = None) -> Catalog:
    """The curriculum catalog (cached per path; the file is read once per process)."""
    return _load_cached(Path(path or DEFAULT_PATH).resolve())
