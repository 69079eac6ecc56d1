"""Grading: every submission runs in a fresh one-shot sandbox; the verdict is made out here.

The sandbox gets the submission and the test INPUTS on stdin and runs ``grading/harness.py``,
which calls the learner's function and returns plain data (JSON, ``.npy`` without pickle) over
a pipe fd. Expected values, held-out labels, tolerances and points stay in this process, and
the reference code (``curriculum/exercises/*/reference.py``) is never bound into a sandbox. So
printing "All tests passed", exiting early, patching numpy or returning an object whose
``__eq__`` is always true earns nothing (see the harness docstring for why).

Limits: the sandbox's limits are those of ``tools.sandbox``; in unsafe mode (no sandbox) a
submission could read the reference files from disk, so grades there are not trustworthy.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from curriculum.exercises import Exercise, TestSpec, get_exercise, split_args
from tools._oneshot import OneShotResult, run_oneshot
from tools.grading import wire
from tools.grading.checks import run_check
from tools.sandbox import Bind, Limits, Sandbox, SandboxUnavailable, describe_exit
from tutor.errors import BadInput

__all__ = ["GradeReport", "Grader", "SandboxUnavailable"]

log = logging.getLogger(__name__)
HARNESS_DIR = Path(__file__).resolve().parent / "grading"
# only these two files enter a grading sandbox (read-only): the harness and the wire format
_HARNESS_FILES = [Bind(HARNESS_DIR / name, f"/opt/grading/{name}") for name in ("harness.py", "wire.py")]


@dataclass
class GradeReport:
    exercise_id: str
    passed: bool
    score: float
    tests: list[dict[str, Any]]
    feedback: str
    status: str  # "ok" | "error" | "timeout" | "killed"
    duration_s: float
    hint: str = ""
    notices: list[str] = field(default_factory=list)
    # why the submission did not load ({"name", "message", "traceback"}), None when it loaded:
    # callers word it themselves instead of reading it back out of ``feedback``
    load_error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(self.score, 4)
        d["duration_s"] = round(self.duration_s, 3)
        return d


@dataclass
class _Case:
    spec: TestSpec
    args: dict[str, Any]  # as the reference and the checks see them
    payload: dict[str, Any]  # what the harness receives (inputs only)
    expected: Any


class Grader:
    """Grades submissions for ``exercises``; thread-safe, at most ``max_busy`` sandboxes at once."""

    def __init__(
        self,
        exercises: dict[str, Exercise],
        work_root: Path | str,
        *,
        sandbox: bool = True,
        memory_mb: int = 2048,
        max_busy: int | None = None,
        timeout_scale: float = 1.0,
    ) -> None:
        self.exercises = exercises
        self.work_root = Path(work_root)
        self.sandbox = Sandbox(enabled=sandbox, limits=Limits(memory_mb=memory_mb))
        self.timeout_scale = timeout_scale
        self._slots = threading.BoundedSemaphore(max_busy or os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], _Case] = {}

    @property
    def available(self) -> bool:
        return self.sandbox.available

    def grade(self, exercise_id: str, code: str) -> GradeReport:
        """Grade ``code`` for one exercise. LookupError for an unknown id, ValueError for code that
        is not a string, SandboxUnavailable when nothing can run confined."""
        ex = get_exercise(self.exercises, exercise_id)
        if not isinstance(code, str):
            raise BadInput(f"code must be a string of Python source, got {type(code).__name__}")
        self.sandbox.check()
        start = time.monotonic()
        cases = self._cases(ex)
        job = {"code": code, "entry": ex.entry, "call": ex.call,
               "tests": [{"id": i, "args": c.payload} for i, c in enumerate(cases)]}  # fmt: skip
        timeout = ex.timeout_s * self.timeout_scale
        harness = self.sandbox.inside(_HARNESS_FILES[0])
        with self._slots:
            run = run_oneshot(
                self.sandbox,
                lambda fd: [self.sandbox.python, "-I", "-B", harness, str(fd)],
                payload=json.dumps(job).encode(),
                timeout_s=timeout,
                binds=_HARNESS_FILES,
                workdir=self.work_root / f"grade-{secrets.token_hex(6)}",
                hide=self._hidden_paths(ex),
            )
        report = _verdict(ex, cases, run, timeout)
        report.duration_s = time.monotonic() - start
        report.notices = self.sandbox.notices()
        return report

    def _cases(self, ex: Exercise) -> list[_Case]:
        cases = []
        for spec in ex.tests:
            fresh = spec.params.get("seed") == "random"  # e.g. a new digits split per grading
            key = (ex.id, spec.name)
            with self._lock:
                case = None if fresh else self._cache.get(key)
            if case is None:
                case = _make_case(ex, spec)
                if not fresh:
                    with self._lock:
                        self._cache[key] = case
            cases.append(case)
        return cases

    def _hidden_paths(self, ex: Exercise) -> list[str]:
        """``package:subdir`` entries of the spec as paths (e.g. sklearn's bundled digits data,
        which would give the held-out labels away)."""
        out = []
        for item in ex.hide:
            package, _, sub = item.partition(":")
            spec = importlib.util.find_spec(package)
            for loc in (spec.submodule_search_locations or []) if spec else []:
                path = Path(loc) / sub
                if path.exists():
                    out.append(str(path.resolve()))
        return out


def _make_case(ex: Exercise, spec: TestSpec) -> _Case:
    """Inputs and the expected value of one test, computed by the trusted reference."""
    ref = ex.reference
    expected: Any = _MISSING
    if spec.gen:
        params = dict(spec.params)
        if params.get("seed") == "random":
            params["seed"] = secrets.randbelow(2**31)
        made = getattr(ref, f"gen_{spec.gen}")(**params)
        args = {**made["args"], **ex.materialize(spec.args)}
        expected = made.get("expected", _MISSING)
    else:
        args = ex.materialize(spec.args)
    positional, keywords = split_args(ex.required, args)
    if expected is _MISSING:
        expected = ref.solution(*_copy(positional), **_copy(keywords))
    if ex.call == "fit_predict":
        payload = wire.encode({k: args[k] for k in ("X_train", "y_train", "X_test")})
    else:
        payload = wire.encode({"args": positional, "kwargs": keywords})
    return _Case(spec=spec, args=args, payload=payload, expected=expected)


_MISSING = object()


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


def _parse_channel(raw: bytes) -> tuple[dict[str, Any], dict[int, dict[str, Any]], int]:
    """Records from the harness: first of each kind/id wins; lines that are not JSON are counted."""
    flags: dict[str, Any] = {}
    results: dict[int, dict[str, Any]] = {}
    bad = 0
    for line in raw.splitlines():
        try:
            rec = json.loads(line)
            kind = rec["kind"]
        except (ValueError, TypeError, KeyError, RecursionError):
            bad += 1
            continue
        if kind == "result" and type(rec.get("id")) is int:
            results.setdefault(rec["id"], rec)
        elif kind in ("loaded", "done", "load_error") and kind not in flags:
            flags[kind] = rec
    return flags, results, bad


def _verdict(ex: Exercise, cases: list[_Case], run: OneShotResult, timeout: float) -> GradeReport:
    flags, results, _ = _parse_channel(run.channel)
    load_error = flags.get("load_error", {}).get("error") if "loaded" not in flags else None
    if run.timed_out:
        status, missing = "timeout", f"did not finish within the {timeout:g} s time limit"
    elif run.channel_overflow:
        status, missing = "error", "the submission flooded the result channel"
    elif load_error is not None:
        status, missing = "error", "the submission did not load"
    elif "done" not in flags:
        status = "killed"
        missing = ("the process ended before this test finished (exit status 0: sys.exit or os._exit?)"
                   if run.returncode == 0 else
                   f"the process was killed before this test finished ({describe_exit(run.returncode)})")  # fmt: skip
    else:
        status, missing = "ok", "no result was returned"
    tests, earned, total = [], 0.0, 0.0
    for i, case in enumerate(cases):
        passed, message = _judge(ex, case, results.get(i), missing)
        total += case.spec.points
        earned += case.spec.points if passed else 0.0
        if case.spec.hidden and not passed:
            message = _hidden_message(results.get(i), missing)
        tests.append({"name": case.spec.name, "passed": passed, "hidden": case.spec.hidden,
                      "message": "passed" if passed else message, "points": case.spec.points})  # fmt: skip
    score = earned / total if total else 0.0
    all_passed = bool(tests) and all(t["passed"] for t in tests) and status == "ok"
    hint = "" if all_passed else _hint(ex, cases, tests)
    feedback = _feedback(tests, score, all_passed, load_error, hint, run)
    return GradeReport(ex.id, all_passed, score, tests, feedback, status, 0.0, hint,
                       load_error=_load_error(load_error))  # fmt: skip


def _load_error(err: Any) -> dict[str, str] | None:
    if not isinstance(err, dict):
        return None
    return {k: str(err.get(k) or "") for k in ("name", "message", "traceback")}


def _judge(ex: Exercise, case: _Case, rec: dict[str, Any] | None, missing: str) -> tuple[bool, str]:
    if rec is None:
        return False, missing
    if "error" in rec:
        err = rec["error"] if isinstance(rec["error"], dict) else {}
        return False, f"raised {err.get('name', 'an error')}: {str(err.get('message', ''))[:500]}"
    try:
        got = wire.decode(rec.get("value"))
    except (wire.WireError, ValueError, TypeError, RecursionError) as e:
        return False, f"the returned value could not be read: {e}"
    return run_check(ex.reference, case.spec.check, case.args, got, case.expected)


def _hidden_message(rec: dict[str, Any] | None, missing: str) -> str:
    if rec is None:
        return missing
    if "error" in rec and isinstance(rec["error"], dict):
        return f"raised {rec['error'].get('name', 'an error')} (hidden test: details are not shown)"
    return "wrong result (hidden test: details are not shown)"


def _hint(ex: Exercise, cases: list[_Case], tests: list[dict[str, Any]]) -> str:
    for case, t in zip(cases, tests, strict=True):
        if not t["passed"] and case.spec.hint and not case.spec.hidden:
            return case.spec.hint
    return ex.hint


def _feedback(tests: list[dict[str, Any]], score: float, passed: bool, load_error: Any, hint: str,
              run: OneShotResult) -> str:  # fmt: skip
    n_ok = sum(t["passed"] for t in tests)
    if passed:
        return f"All {len(tests)} tests passed. Well done!"
    lines = [f"{n_ok} of {len(tests)} tests passed (score {score:.0%})."]
    if isinstance(load_error, dict):
        lines.append(f"Your code did not load: {load_error.get('name')}: {load_error.get('message')}")
        if load_error.get("traceback"):
            lines.append(str(load_error["traceback"]).rstrip())
    for t in tests:
        if not t["passed"] and not t["hidden"] and not isinstance(load_error, dict):
            lines.append(f"- {t['name']}: {t['message']}")
    hidden_failed = [t["name"] for t in tests if t["hidden"] and not t["passed"]]
    if hidden_failed and not isinstance(load_error, dict):
        lines.append(f"- {len(hidden_failed)} hidden test(s) failed: {', '.join(hidden_failed)}.")
    if hint:
        lines.append(f"Hint: {hint}")
    return "\n".join(lines)
