"""Practice items: ``curriculum/practice/<topic_id>.yaml`` (format in ``docs/content.md``).

Four kinds, each auto-checked (``curriculum/practice_check.py``): ``multiple_choice`` (feedback per
option), ``numeric`` (absolute tolerance), ``short_answer`` (key points plus embedding
similarity) and ``code`` (a few lines run in the sandbox by ``tools/practice_grader.py``).
Answers, option correctness, feedback, solutions and tests' expected values stay on the server:
``PracticeItem.to_public`` holds only what a learner may see before an attempt.

``python -m curriculum.practice check [TOPIC...]`` prints the problems of each file and exits 1
when there is any; code items are also run in the real sandbox (reference passes every test,
starter fails one) unless ``--no-run`` is given.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from tutor.errors import BadInput

PRACTICE_DIR = Path(__file__).resolve().parent / "practice"
KINDS = ("multiple_choice", "numeric", "short_answer", "code")
Kind = Literal["multiple_choice", "numeric", "short_answer", "code"]
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_COMMON = {"id", "topic_id", "kind", "difficulty", "prompt", "explanation", "hint"}
_KEYS: dict[str, set[str]] = {
    "multiple_choice": {"choices"},
    "numeric": {"answer", "tolerance"},
    "short_answer": {"key_points", "min_points", "model_answer", "right_examples", "wrong_examples"},
    "code": {"function", "signature", "array_args", "starter", "solution", "tests", "rtol", "atol",
             "timeout_s"},
}  # fmt: skip
MIN_ITEMS = 6


class PracticeError(BadInput):
    """A practice file is malformed; ``problems`` lists every problem found, each self-contained."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Choice:
    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class CodeTest:
    args: dict[str, Any]


@dataclass(frozen=True)
class PracticeItem:
    """One item. Fields that only some kinds use are empty for the others."""

    id: str
    topic_id: str
    kind: Kind
    difficulty: int
    prompt: str
    explanation: str
    hint: str = ""
    choices: tuple[Choice, ...] = ()
    answer: float | None = None
    tolerance: float = 0.0
    key_points: tuple[str, ...] = ()
    min_points: int = 0
    model_answer: str = ""
    right_examples: tuple[str, ...] = ()
    wrong_examples: tuple[str, ...] = ()
    function: str = ""
    signature: str = ""
    array_args: dict[str, str] = field(default_factory=dict)
    starter: str = ""
    solution: str = ""
    tests: tuple[CodeTest, ...] = ()
    rtol: float = 1e-6
    atol: float = 1e-9
    timeout_s: float = 10.0
    source: str = ""  # the file it came from

    def to_public(self) -> dict[str, Any]:
        """What the learner sees before answering: never answers, feedback, solutions or tests."""
        out: dict[str, Any] = {"id": self.id, "topic_id": self.topic_id, "kind": self.kind,
                               "prompt": self.prompt, "difficulty": self.difficulty}  # fmt: skip
        if self.kind == "multiple_choice":
            out["choices"] = [c.text for c in self.choices]
        if self.kind == "code":
            out["starter"] = self.starter
            out["function"] = f"{self.function}({self.signature})"
        return out

    @property
    def right_choice(self) -> int:
        """0-based index of the correct option (multiple choice only)."""
        return next(i for i, c in enumerate(self.choices) if c.correct)


def load_file(path: Path | str, catalog_ids: Iterable[str] | None = None) -> list[PracticeItem]:
    """Items of one file; PracticeError lists every problem (not just the first)."""
    path = Path(path)
    problems: list[str] = []
    topic = path.stem
    try:
        raw = yaml.load(
            path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except yaml.YAMLError as e:
        raise PracticeError([f"not valid YAML: {e}"]) from None
    if isinstance(raw, dict):
        if raw.get("topic_id") != topic:
            problems.append(f"topic_id {raw.get('topic_id')!r} must equal the file name {topic!r}")
        entries = raw.get("items")
        extra = set(raw) - {"topic_id", "items"}
        if extra:
            problems.append(f"unknown top-level keys {sorted(extra)} (expected topic_id, items)")
    else:
        entries = raw  # a bare list of items is accepted too
    if not isinstance(entries, list) or not entries:
        raise PracticeError([*problems, "expected `items:` with a non-empty list of items"])
    if catalog_ids is not None and topic not in set(catalog_ids):
        problems.append(f"{topic!r} is not a topic id of curriculum/curriculum.yaml")
    items: list[PracticeItem] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"item #{i + 1}" + (f" ({entry.get('id')})" if isinstance(entry, dict) else "")
        item_problems: list[str] = []
        item = _item(entry, topic, str(path), item_problems)
        problems += [f"{where}: {p}" for p in item_problems]
        if item is not None:
            if item.id in seen:
                problems.append(f"{where}: duplicate id {item.id!r}")
            seen.add(item.id)
            items.append(item)
    if problems:
        raise PracticeError(problems)
    return items


def _item(raw: Any, topic: str, source: str, problems: list[str]) -> PracticeItem | None:
    if not isinstance(raw, dict):
        problems.append("must be a mapping")
        return None
    kind = raw.get("kind")
    if kind not in KINDS:
        problems.append(f"kind must be one of {KINDS}, got {kind!r}")
        return None
    unknown = set(raw) - _COMMON - _KEYS[kind]
    if unknown:
        problems.append(f"unknown keys for kind {kind}: {sorted(unknown)}")
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not _ID.match(item_id):
        problems.append(f"id must be lowercase letters, digits and dashes, got {item_id!r}")
    if raw.get("topic_id", topic) != topic:
        problems.append(f"topic_id {raw.get('topic_id')!r} differs from the file's {topic!r}")
    difficulty = raw.get("difficulty")
    if type(difficulty) is not int or not 1 <= difficulty <= 3:
        problems.append(f"difficulty must be 1, 2 or 3, got {difficulty!r}")
    for key in ("prompt", "explanation"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.append(f"{key} must be non-empty text")
    if "hint" in raw and not isinstance(raw["hint"], str):
        problems.append("hint must be text")
    fields: dict[str, Any] = {}
    {"multiple_choice": _choices, "numeric": _numeric, "short_answer": _short, "code": _code}[kind](
        raw, fields, problems
    )
    if problems:
        return None
    return PracticeItem(id=str(item_id), topic_id=topic, kind=kind, difficulty=int(difficulty or 0),
                        prompt=raw["prompt"].strip(), explanation=raw["explanation"].strip(),
                        hint=str(raw.get("hint", "")).strip(), source=source, **fields)  # fmt: skip


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _choices(raw: dict[str, Any], out: dict[str, Any], problems: list[str]) -> None:
    choices = raw.get("choices")
    if not isinstance(choices, list) or not 3 <= len(choices) <= 5:
        problems.append("choices must be a list of 3-5 options")
        return
    parsed = []
    for j, c in enumerate(choices):
        if not isinstance(c, dict) or not _text(c.get("text")) or not _text(c.get("feedback")):
            problems.append(f"choice #{j + 1} needs non-empty `text` and `feedback`")
            continue
        if set(c) - {"text", "correct", "feedback"}:
            problems.append(
                f"choice #{j + 1}: unknown keys {sorted(set(c) - {'text', 'correct', 'feedback'})}"
            )
        if not isinstance(c.get("correct", False), bool):
            problems.append(f"choice #{j + 1}: correct must be true or false")
        parsed.append(Choice(str(c["text"]).strip(), c.get("correct") is True, str(c["feedback"]).strip()))
    if len(parsed) == len(choices):
        n_right = sum(c.correct for c in parsed)
        if n_right != 1:
            problems.append(f"exactly one choice must be `correct: true`, found {n_right}")
        texts = [_norm(c.text) for c in parsed]
        if len(set(texts)) != len(texts):
            problems.append("choice texts must differ")
        if any(t.isdigit() for t in texts):
            problems.append("a choice text that is a bare integer is ambiguous with a 0-based index")
    out["choices"] = tuple(parsed)


def _numeric(raw: dict[str, Any], out: dict[str, Any], problems: list[str]) -> None:
    if not _number(raw.get("answer")):
        problems.append(f"answer must be a number, got {raw.get('answer')!r}")
    tol = raw.get("tolerance", 0)
    if not _number(tol) or tol < 0:
        problems.append(f"tolerance must be a number >= 0, got {tol!r}")
    if problems:
        return
    out["answer"], out["tolerance"] = float(raw["answer"]), float(tol)


def _short(raw: dict[str, Any], out: dict[str, Any], problems: list[str]) -> None:
    points = raw.get("key_points")
    if not isinstance(points, list) or not points or not all(_text(p) for p in points):
        problems.append("key_points must be a non-empty list of regular expressions")
        return
    for p in points:
        try:
            re.compile(p, re.IGNORECASE)
        except re.error as e:
            problems.append(f"key point {p!r} is not a valid regular expression: {e}")
    min_points = raw.get("min_points", len(points))
    if type(min_points) is not int or not 1 <= min_points <= len(points):
        problems.append(f"min_points must be an integer 1..{len(points)}, got {min_points!r}")
    if not _text(raw.get("model_answer")):
        problems.append("model_answer must be non-empty text")
    for key in ("right_examples", "wrong_examples"):
        ex = raw.get(key)
        if not isinstance(ex, list) or len(ex) < 2 or not all(_text(e) for e in ex):
            problems.append(f"{key} must list at least 2 non-empty answers")
    if problems:
        return
    out.update(key_points=tuple(points), min_points=min_points, model_answer=raw["model_answer"].strip(),
               right_examples=tuple(e.strip() for e in raw["right_examples"]),
               wrong_examples=tuple(e.strip() for e in raw["wrong_examples"]))  # fmt: skip
    for text in [out["model_answer"], *out["right_examples"]]:
        hit = points_made(out["key_points"], text)
        if hit < min_points:
            problems.append(f"makes only {hit} of the {min_points} key points needed, so the "
                            f"keyword check would reject this right answer: {text!r}")  # fmt: skip


def _code(raw: dict[str, Any], out: dict[str, Any], problems: list[str]) -> None:
    from curriculum.exercises import parse_signature

    fn = raw.get("function")
    if not isinstance(fn, str) or not fn.isidentifier():
        problems.append(f"function must be a Python name, got {fn!r}")
        return
    signature = str(raw.get("signature", ""))
    try:
        required = parse_signature(signature, "signature")
    except ValueError as e:
        problems.append(str(e))
        return
    for key in ("starter", "solution"):
        src = raw.get(key)
        if not _text(src):
            problems.append(f"{key} must be Python source")
            continue
        try:
            tree = ast.parse(str(src))
        except SyntaxError as e:
            problems.append(f"{key} is not valid Python: {e}")
            continue
        if not any(isinstance(n, ast.FunctionDef) and n.name == fn for n in tree.body):
            problems.append(f"{key} must define `def {fn}(...)` at top level")
    array_args = raw.get("array_args") or {}
    if not isinstance(array_args, dict):
        problems.append("array_args must map argument names to numpy dtypes")
        array_args = {}
    for name, dtype in array_args.items():
        try:
            import numpy as np

            np.dtype(dtype)
        except TypeError:
            problems.append(f"array_args[{name!r}]: {dtype!r} is not a numpy dtype")
    tests = raw.get("tests")
    if not isinstance(tests, list) or not tests:
        problems.append("tests must be a non-empty list of {args: {...}}")
        return
    parsed = []
    for j, t in enumerate(tests):
        if not isinstance(t, dict) or not isinstance(t.get("args"), dict) or set(t) - {"args"}:
            problems.append(f"test #{j + 1} must be a mapping with only `args: {{name: value}}`")
            continue
        missing = [r for r in required if r not in t["args"]]
        if missing:
            problems.append(f"test #{j + 1} lacks required argument(s) {missing}")
        parsed.append(CodeTest(dict(t["args"])))
    for key, default in (("rtol", 1e-6), ("atol", 1e-9), ("timeout_s", 10.0)):
        value = raw.get(key, default)
        if isinstance(value, str):  # YAML reads `1e-6` as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if not _number(value) or value < 0:
            problems.append(f"{key} must be a number >= 0, got {raw.get(key)!r}")
        out[key] = value
    out.update(function=fn, signature=signature, array_args={str(k): str(v) for k, v in array_args.items()},
               starter=raw.get("starter", ""), solution=raw.get("solution", ""), tests=tuple(parsed))  # fmt: skip


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def points_made(key_points: Iterable[str], text: str) -> int:
    """How many key points (regexes of alternatives, case-insensitive) ``text`` makes."""
    return sum(1 for p in key_points if re.search(p, text, re.IGNORECASE))


def load_practice(root: Path | str | None = None, *, strict: bool = False) -> dict[str, PracticeItem]:
    """All items under ``root`` (default the bundled folder), by id. A malformed file is skipped
    (and logged) unless ``strict``; ids must be unique over all files."""
    import logging

    base = Path(root) if root is not None else PRACTICE_DIR
    items: dict[str, PracticeItem] = {}
    for path in sorted(base.glob("*.yaml")) if base.is_dir() else []:
        try:
            loaded = load_file(path)
        except PracticeError as e:
            if strict:
                raise PracticeError([f"{path.name}: {p}" for p in e.problems]) from None
            logging.getLogger(__name__).warning("skipping %s: %s", path.name, e.problems[0])
            continue
        for item in loaded:
            if item.id in items:
                if strict:
                    raise PracticeError([f"{path.name}: id {item.id!r} also in {items[item.id].source}"])
                continue
            items[item.id] = item
    return items


@cache
def bundled_practice() -> dict[str, PracticeItem]:
    """The bundled items, loaded once per process."""
    return load_practice()


def by_topic(items: dict[str, PracticeItem]) -> dict[str, list[PracticeItem]]:
    out: dict[str, list[PracticeItem]] = {}
    for item in items.values():
        out.setdefault(item.topic_id, []).append(item)
    return out


def check_files(paths: list[Path], *, run_code: bool = True) -> dict[str, list[str]]:
    """Problems per file: schema, ids unique over all bundled files, counts and kinds per topic
    and (``run_code``) code items run in the sandbox."""
    from curriculum.catalog import load_catalog

    catalog_ids = set(load_catalog().topics)
    all_ids: dict[str, str] = {}
    for path in sorted(PRACTICE_DIR.glob("*.yaml")):
        try:
            for item in load_file(path):
                all_ids.setdefault(item.id, path.name)
        except PracticeError:
            pass
    report: dict[str, list[str]] = {}
    for path in paths:
        problems: list[str] = []
        try:
            items = load_file(path, catalog_ids)
        except PracticeError as e:
            report[str(path)] = e.problems
            continue
        for item in items:
            owner = all_ids.get(item.id)
            if owner is not None and owner != path.name:
                problems.append(f"{item.id}: id also used in {owner}")
        if len(items) < MIN_ITEMS:
            problems.append(f"only {len(items)} items; at least {MIN_ITEMS} are needed")
        if sum(1 for i in items if i.kind != "multiple_choice") < 2:
            problems.append("at least 2 items must not be multiple choice")
        if run_code and any(i.kind == "code" for i in items):
            from tools.practice_grader import self_check

            problems += self_check([i for i in items if i.kind == "code"])
        report[str(path)] = problems
    return report


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "check":
        print("usage: python -m curriculum.practice check [--no-run] [TOPIC_OR_FILE...]", file=sys.stderr)
        return 2
    run_code = "--no-run" not in args
    names = [a for a in args[1:] if a != "--no-run"]
    paths = []
    for name in names:
        p = Path(name)
        paths.append(p if p.suffix == ".yaml" else PRACTICE_DIR / f"{name}.yaml")
    if not names:
        paths = sorted(PRACTICE_DIR.glob("*.yaml"))
    missing = [p for p in paths if not p.is_file()]
    report = check_files([p for p in paths if p.is_file()], run_code=run_code)
    for p in missing:
        report[str(p)] = ["file not found"]
    bad = 0
    for path, problems in sorted(report.items()):
        name = Path(path).name
        if problems:
            bad += 1
            print(f"{name}: {len(problems)} problem(s)")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"{name}: ok")
    if not report:
        print("no practice files found")
    return 1 if bad or not report else 0


if __name__ == "__main__":
    raise SystemExit(main())
