"""Guided labs: one folder per lab under ``curriculum/labs/<lab_id>/`` (format in README.md there).

``lab.yaml`` holds the steps (Markdown text, starter code, a *probe* and the name of a check),
``checks.py`` the TRUSTED checks ``check_<name>(facts) -> (passed, message)`` that judge the
probe's JSON facts in this process, ``data/`` the small files copied into the learner's kernel.
The probe runs inside the learner's sandboxed kernel and only reports facts; verdicts are made
here. Reference solutions live in ``tests/data/lab_solutions/`` and are never served.

``load_labs()`` validates every lab (``strict=False`` skips a broken lab with a warning instead of
raising, so one lab in progress never takes the others down); ``python -m curriculum.labs check``
runs each lab's reference solution and starter through real sandboxed kernels.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tutor.errors import NotFound

log = logging.getLogger(__name__)

LABS_DIR = Path(__file__).resolve().parent
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_MODULE = re.compile(r"^m\d+$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MIN_STEPS, MAX_STEPS = 4, 8
MAX_DATA_BYTES = 2_000_000  # per lab
ACTIONS = ("train_job",)
DEFAULT_STEP_TIMEOUT_S = 30.0


class LabError(ValueError):
    """A lab folder does not follow the format; the message names the file and the problem."""


@dataclass(frozen=True)
class Step:
    """One step: what the learner reads and starts from, and how it is checked."""

    id: str
    title: str
    text: str
    starter: str
    probe: str
    check: str
    hint: str = ""
    action: str | None = None  # "train_job": the engine submits the job spec the probe reports
    timeout_s: float = DEFAULT_STEP_TIMEOUT_S  # per cell and for the probe (capped by the kernels)
    topics: tuple[str, ...] = ()  # evidence goes to these topics (default: the lab's)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title}

    def to_public_dict(self) -> dict[str, Any]:
        """What a learner may see before an attempt (never the probe or the check)."""
        return {"id": self.id, "title": self.title, "text": self.text, "starter": self.starter,
                "hint": self.hint, "action": self.action}  # fmt: skip


@dataclass(frozen=True)
class Lab:
    id: str
    title: str
    module: str
    topics: tuple[str, ...]
    minutes: int
    intro: str
    data: tuple[str, ...]
    steps: tuple[Step, ...]
    dir: Path = field(compare=False)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise NotFound(
            f"lab {self.id!r} has no step {step_id!r}; its steps are {', '.join(s.id for s in self.steps)}"
        )

    def step_index(self, step_id: str) -> int:
        return [s.id for s in self.steps].index(self.step(step_id).id)

    def step_topics(self, step: Step) -> tuple[str, ...]:
        return step.topics or self.topics

    def data_files(self) -> list[Path]:
        return [self.dir / "data" / name for name in self.data]

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "module": self.module, "topics": list(self.topics),
                "minutes": self.minutes, "steps": [s.summary() for s in self.steps]}  # fmt: skip

    def to_public_dict(self) -> dict[str, Any]:
        return {**self.summary(), "intro": self.intro, "data": list(self.data),
                "steps": [s.to_public_dict() for s in self.steps]}  # fmt: skip

    @cached_property
    def checks(self) -> ModuleType:
        return _load_checks(self.dir / "checks.py", self.id)

    def judge(self, step: Step, facts: Any) -> tuple[bool, str]:
        """The step's check on the probe's facts. A check that raises or returns something else
        than ``(bool, str)`` fails the step with a message (and is logged: that is a lab bug)."""
        fn = getattr(self.checks, f"check_{step.check}", None)
        if fn is None:
            return False, f"this step's check `check_{step.check}` is missing (a bug in the lab)"
        try:
            out = fn(facts if isinstance(facts, dict) else {})
        except Exception as e:  # the check must survive any JSON; when it does not, the step fails
            log.exception("check %s of lab %s raised", step.check, self.id)
            return (
                False,
                f"the check could not read your work ({type(e).__name__}); look at the step's task again",
            )
        if (not isinstance(out, tuple) or len(out) != 2 or not isinstance(out[0], bool)
                or not isinstance(out[1], str)):  # fmt: skip
            log.error("check %s of lab %s returned %r", step.check, self.id, out)
            return False, "the check returned no verdict (a bug in the lab)"
        return out


def _load_checks(path: Path, lab_id: str) -> ModuleType:
    name = f"curriculum_lab_checks_{lab_id.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LabError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _need_str(raw: dict[str, Any], key: str, where: str, *, allow_empty: bool = False) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise LabError(f"{where}: `{key}` must be a non-empty string, got {value!r}")
    return value


def _step(raw: Any, where: str, known_topics: set[str] | None) -> Step:
    if not isinstance(raw, dict):
        raise LabError(f"{where}: a step must be a mapping, got {type(raw).__name__}")
    sid = _need_str(raw, "id", where)
    where = f"{where} ({sid})"
    if not _ID.match(sid):
        raise LabError(f"{where}: step id must match [a-z0-9-]+")
    unknown = set(raw) - {"id", "title", "text", "starter", "probe", "check", "hint", "action",
                          "timeout_s", "topics"}  # fmt: skip
    if unknown:
        raise LabError(f"{where}: unknown keys {sorted(unknown)}")
    starter = _need_str(raw, "starter", where, allow_empty=True)
    probe = _need_str(raw, "probe", where)
    for what, code in (("starter", starter), ("probe", probe)):
        try:
            compile(code, f"<{sid} {what}>", "exec")
        except SyntaxError as e:
            raise LabError(f"{where}: `{what}` is not valid Python: {e}") from e
    if "__LAB__" not in probe:
        raise LabError(f'{where}: the probe must print one line `"__LAB__" + json.dumps(facts)`')
    action = raw.get("action")
    if action is not None and action not in ACTIONS:
        raise LabError(f"{where}: action must be one of {ACTIONS}, got {action!r}")
    timeout = raw.get("timeout_s", DEFAULT_STEP_TIMEOUT_S)
    if not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise LabError(f"{where}: timeout_s must be a number of seconds in (0, 600], got {timeout!r}")
    topics = tuple(raw.get("topics") or ())
    if known_topics is not None and set(topics) - known_topics:
        raise LabError(f"{where}: unknown topics {sorted(set(topics) - known_topics)}")
    hint = raw.get("hint") or ""
    if not isinstance(hint, str):
        raise LabError(f"{where}: hint must be a string")
    return Step(id=sid, title=_need_str(raw, "title", where), text=_need_str(raw, "text", where),
                starter=starter, probe=probe, check=_need_str(raw, "check", where), hint=hint,
                action=action, timeout_s=float(timeout), topics=topics)  # fmt: skip


def load_lab(folder: Path, known_topics: Iterable[str] | None = None) -> Lab:
    """Parse and validate one lab folder (LabError says what is wrong)."""
    path = folder / "lab.yaml"
    if not path.is_file():
        raise LabError(f"{folder}: no lab.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise LabError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise LabError(f"{path}: must be a mapping")
    topics_known = set(known_topics) if known_topics is not None else None
    lab_id = _need_str(raw, "id", str(path))
    if not _ID.match(lab_id) or lab_id != folder.name:
        raise LabError(
            f"{path}: id {lab_id!r} must match [a-z0-9-]+ and equal the folder name {folder.name!r}"
        )
    module = _need_str(raw, "module", str(path))
    if not _MODULE.match(module):
        raise LabError(f"{path}: module must look like m1, got {module!r}")
    topics = raw.get("topics")
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
        raise LabError(f"{path}: topics must be a non-empty list of topic ids")
    if topics_known is not None and set(topics) - topics_known:
        raise LabError(f"{path}: unknown topics {sorted(set(topics) - topics_known)}")
    minutes = raw.get("minutes")
    if not isinstance(minutes, int) or not 5 <= minutes <= 600:
        raise LabError(f"{path}: minutes must be an integer in 5..600, got {minutes!r}")
    data = raw.get("data") or []
    if not isinstance(data, list) or not all(isinstance(d, str) and _FILE.match(d) for d in data):
        raise LabError(f"{path}: data must be a list of plain file names in data/")
    size = 0
    for name in data:
        f = folder / "data" / name
        if not f.is_file():
            raise LabError(f"{path}: data file {name!r} is not in {folder / 'data'}")
        size += f.stat().st_size
    if size > MAX_DATA_BYTES:
        raise LabError(f"{path}: data files take {size:,} bytes; the limit is {MAX_DATA_BYTES:,} per lab")
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not MIN_STEPS <= len(raw_steps) <= MAX_STEPS:
        n = len(raw_steps) if isinstance(raw_steps, list) else 0
        raise LabError(f"{path}: a lab has {MIN_STEPS}-{MAX_STEPS} steps, got {n}")
    steps = tuple(_step(s, f"{path} step {i + 1}", topics_known) for i, s in enumerate(raw_steps))
    ids = [s.id for s in steps]
    if len(set(ids)) != len(ids):
        raise LabError(f"{path}: step ids must be unique, got {ids}")
    unknown = set(raw) - {"id", "title", "module", "topics", "minutes", "intro", "data", "steps"}
    if unknown:
        raise LabError(f"{path}: unknown keys {sorted(unknown)}")
    lab = Lab(id=lab_id, title=_need_str(raw, "title", str(path)), module=module, topics=tuple(topics),
              minutes=minutes, intro=_need_str(raw, "intro", str(path)), data=tuple(data), steps=steps,
              dir=folder)  # fmt: skip
    if not (folder / "checks.py").is_file():
        raise LabError(f"{folder}: no checks.py")
    try:
        checks = lab.checks
    except LabError:
        raise
    except Exception as e:
        raise LabError(f"{folder / 'checks.py'}: does not import: {type(e).__name__}: {e}") from e
    for s in steps:
        if not callable(getattr(checks, f"check_{s.check}", None)):
            raise LabError(f"{folder / 'checks.py'}: no function check_{s.check} (step {s.id})")
    return lab


def lab_dirs(root: Path = LABS_DIR) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "lab.yaml").exists())


def load_labs(root: Path | str | None = None, *, strict: bool = True, known_topics: Iterable[str] | None = None,
              ) -> dict[str, Lab]:  # fmt: skip
    """Every lab under ``root``, ordered by module then id. ``known_topics`` defaults to the
    catalog's topic ids. With ``strict=False`` a broken lab is logged and left out."""
    if known_topics is None:
        from curriculum.catalog import load_catalog

        known_topics = set(load_catalog().topics)
    labs: list[Lab] = []
    for folder in lab_dirs(Path(root) if root else LABS_DIR):
        try:
            labs.append(load_lab(folder, known_topics))
        except LabError as e:
            if strict:
                raise
            log.warning("lab %s left out: %s", folder.name, e)
    labs.sort(key=lambda lab: (int(lab.module[1:]), lab.id))
    return {lab.id: lab for lab in labs}


def get_lab(labs: dict[str, Lab], lab_id: str) -> Lab:
    if lab_id not in labs:
        raise NotFound(f"lab {lab_id!r} not found; known labs: {', '.join(labs) or '(none)'}")
    return labs[lab_id]
