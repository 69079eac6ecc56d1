"""Exercises: one folder per exercise under ``curriculum/exercises/``.

Each folder holds ``statement.md``, ``starter.py``, ``spec.yaml`` (id, topic, the function the
learner writes, tests with points, tolerances and which are hidden) and ``reference.py``, the
TRUSTED reference: ``solution`` (same signature as the learner's function), generators for test
inputs (``gen_<name>(**params) -> {"args": {...}, "expected"?: ...}``) and custom checks
(``check_<name>(args, got, expected, **options) -> (passed, message)``). The reference runs
only in the grader's process; it is never bound into a sandbox, and hidden tests' inputs and
expected values never appear in ``to_public_dict``.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tutor.errors import BadInput, NotFound

EXERCISES_DIR = Path(__file__).resolve().parent / "exercises"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_TOPIC = re.compile(r"^m\d+\.[a-z0-9-]+$")
CALL_MODES = ("function", "fit_predict")
CHECK_KINDS = ("allclose", "custom")


@dataclass(frozen=True)
class TestSpec:
    """One test as written in spec.yaml. ``args`` are literal inputs; ``gen`` names a generator in
    reference.py called with ``params`` (``seed: random`` draws a fresh seed per grading)."""

    name: str
    points: float
    hidden: bool
    description: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    gen: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    hint: str = ""


@dataclass(frozen=True)
class Exercise:
    id: str
    topic_id: str
    title: str
    statement: str
    starter_code: str
    entry: str
    signature: str  # the learner's parameter list, e.g. "X, y, lr=0.01, epochs=1000"
    required: tuple[str, ...]  # its parameters without defaults (passed positionally)
    call: str
    timeout_s: float
    hint: str
    tests: tuple[TestSpec, ...]
    folder: Path
    array_args: dict[str, str] = field(default_factory=dict)  # arg name -> numpy dtype
    hide: tuple[str, ...] = ()  # "package:subdir" paths hidden from grading sandboxes

    @cached_property
    def reference(self) -> ModuleType:
        """The trusted reference module (imported on first use, in this process only)."""
        path = self.folder / "reference.py"
        spec = importlib.util.spec_from_file_location(f"_exercise_ref_{self.id.replace('-', '_')}", path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    @cached_property
    def public_tests(self) -> list[dict[str, Any]]:
        """Public tests as shown to the learner: name, points, what is called and, when the
        inputs are written out, the expected value from the reference."""
        out = []
        for t in self.tests:
            if t.hidden:
                continue
            item: dict[str, Any] = {"name": t.name, "points": t.points, "description": t.description}
            if t.args and t.gen is None:
                item["call"] = f"{self.entry}({format_args(self.required, t.args)})"
                if self.call == "function":
                    positional, keywords = split_args(self.required, self.materialize(t.args))
                    item["expected"] = show(self.reference.solution(*positional, **keywords))
            out.append(item)
        return out

    def materialize(self, args: dict[str, Any]) -> dict[str, Any]:
        """Literal YAML args as the function receives them (``array_args`` become numpy arrays)."""
        import numpy as np

        return {k: np.asarray(v, dtype=self.array_args[k]) if k in self.array_args and v is not None else v
                for k, v in args.items()}  # fmt: skip

    def to_public_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic_id": self.topic_id,
            "title": self.title,
            "statement": self.statement,
            "starter_code": self.starter_code,
            "function": f"{self.entry}({self.signature})",
            "public_tests": self.public_tests,
            "hidden_tests": sum(1 for t in self.tests if t.hidden),
            "timeout_s": self.timeout_s,
        }

    def summary(self) -> dict[str, str]:
        return {"id": self.id, "topic_id": self.topic_id, "title": self.title}


def split_args(required: tuple[str, ...], args: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Required parameters go positionally (a learner may name them differently), the ones with
    defaults by keyword, as the statement names them."""
    positional = [args[name] for name in required if name in args]
    keywords = {k: v for k, v in args.items() if k not in required}
    return positional, keywords


def parse_signature(text: str, where: str) -> tuple[str, ...]:
    """Names of the required parameters of ``"X, y, lr=0.01, epochs=1000"``."""
    try:
        fn = ast.parse(f"def f({text}): pass").body[0]
    except SyntaxError:
        raise BadInput(f"{where}: signature {text!r} is not a Python parameter list") from None
    assert isinstance(fn, ast.FunctionDef)
    names = [a.arg for a in fn.args.args]
    return tuple(names[: len(names) - len(fn.args.defaults)])


def format_args(signature: tuple[str, ...], args: dict[str, Any]) -> str:
    """``gradient_descent([[1, 2]], [1], lr=0.1)``-style argument text."""
    positional, keywords = split_args(signature, args)
    return ", ".join([*(repr(v) for v in positional), *(f"{k}={v!r}" for k, v in keywords.items())])


def show(value: Any) -> str:
    """A short, readable rendering of a value for feedback (arrays rounded and abbreviated)."""
    import numpy as np

    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ")"
    if isinstance(value, list) and len(value) > 12:
        return "[" + ", ".join(show(v) for v in value[:10]) + f", ... ({len(value)} items)]"
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=4, threshold=24, edgeitems=3, suppress_small=True,
                               separator=", ", max_line_width=10**6).replace("\n", "")  # fmt: skip
        return f"{text} (shape {value.shape})" if value.ndim > 1 or value.size > 24 else text
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)[:300]


def load_exercises(root: Path | str | None = None) -> dict[str, Exercise]:
    """All exercises under ``root`` (default the bundled ones), by id. A malformed spec raises
    ValueError naming the file and the problem."""
    base = Path(root) if root is not None else EXERCISES_DIR
    if not base.is_dir():
        raise BadInput(f"exercise folder {base} does not exist")
    exercises: dict[str, Exercise] = {}
    for spec_path in sorted(base.glob("*/spec.yaml")):
        ex = _load_one(spec_path)
        if ex.id in exercises:
            raise BadInput(f"{spec_path}: duplicate exercise id {ex.id!r}")
        exercises[ex.id] = ex
    return exercises


def get_exercise(exercises: dict[str, Exercise], exercise_id: str) -> Exercise:
    """The exercise with this id, or LookupError with a did-you-mean."""
    try:
        return exercises[exercise_id]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(exercise_id), list(exercises), n=1)
        maybe = f"did you mean {close[0]!r}? " if close else ""
        raise NotFound(f"exercise {exercise_id!r} not found; {maybe}`tutor exercises` lists them") from None


def _load_one(spec_path: Path) -> Exercise:
    folder = spec_path.parent
    where = str(spec_path)
    try:
        raw = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise BadInput(f"{where}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: expected a mapping at the top level")

    def need(key: str, kind: type | tuple[type, ...]) -> Any:
        if not isinstance(raw.get(key), kind):
            raise BadInput(
                f"{where}: field {key!r} must be a {getattr(kind, '__name__', kind)}, got {raw.get(key)!r}"
            )
        return raw[key]

    ex_id, topic = need("id", str), need("topic_id", str)
    if not _ID.match(ex_id) or ex_id != folder.name:
        raise BadInput(
            f"{where}: id {ex_id!r} must be lowercase-dashed and equal the folder name {folder.name!r}"
        )
    if not _TOPIC.match(topic):
        raise BadInput(f"{where}: topic_id {topic!r} is not like 'm2.calculus'")
    call = raw.get("call", "function")
    if call not in CALL_MODES:
        raise BadInput(f"{where}: call must be one of {CALL_MODES}, got {call!r}")
    for name in ("statement.md", "starter.py", "reference.py"):
        if not (folder / name).is_file():
            raise BadInput(f"{where}: the exercise folder lacks {name}")
    tests = tuple(_test(t, where, i) for i, t in enumerate(need("tests", list)))
    names = [t.name for t in tests]
    if not tests or len(set(names)) != len(names):
        raise BadInput(f"{where}: tests must be a non-empty list with unique names")
    return Exercise(
        id=ex_id,
        topic_id=topic,
        title=need("title", str),
        statement=(folder / "statement.md").read_text(encoding="utf-8"),
        starter_code=(folder / "starter.py").read_text(encoding="utf-8"),
        entry=need("entry", str),
        signature=str(raw.get("signature", "")),
        required=parse_signature(str(raw.get("signature", "")), where),
        call=call,
        timeout_s=float(raw.get("timeout_s", 30)),
        hint=str(raw.get("hint", "")),
        tests=tests,
        folder=folder,
        array_args=_array_args(raw.get("array_args"), where),
        hide=tuple(raw.get("hide") or ()),
    )


def _array_args(raw: Any, where: str) -> dict[str, str]:
    """``[X, y]`` (float arrays) or ``{X: float, mask: bool}``."""
    if raw is None:
        return {}
    if isinstance(raw, list):
        return {str(name): "float" for name in raw}
    if isinstance(raw, dict) and all(v in ("float", "bool", "int") for v in raw.values()):
        return {str(k): str(v) for k, v in raw.items()}
    raise BadInput(f"{where}: array_args must be a list of names or a mapping name -> float|bool|int")


def _test(raw: Any, where: str, i: int) -> TestSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise BadInput(f"{where}: test #{i + 1} must be a mapping with a 'name'")
    check = raw.get("check") or {"kind": "allclose"}
    if check.get("kind") not in CHECK_KINDS:
        raise BadInput(f"{where}: test {raw['name']!r}: check kind must be one of {CHECK_KINDS}")
    if check["kind"] == "custom" and not isinstance(check.get("fn"), str):
        raise BadInput(
            f"{where}: test {raw['name']!r}: a custom check needs 'fn' (a check_* in reference.py)"
        )
    points = raw.get("points", 1)
    if not isinstance(points, int | float) or points <= 0:
        raise BadInput(f"{where}: test {raw['name']!r}: points must be a positive number, got {points!r}")
    if raw.get("gen") is None and not isinstance(raw.get("args"), dict):
        raise BadInput(f"{where}: test {raw['name']!r} needs literal 'args' or a 'gen' generator")
    return TestSpec(
        name=raw["name"],
        points=float(points),
        hidden=bool(raw.get("hidden", False)),
        description=str(raw.get("description", "")),
        args=dict(raw.get("args") or {}),
        gen=raw.get("gen"),
        params=dict(raw.get("params") or {}),
        check=dict(check),
        hint=str(raw.get("hint", "")),
    )
