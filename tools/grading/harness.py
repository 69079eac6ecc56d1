"""Runs INSIDE a one-shot grading sandbox; never imported by the tutor.

``python harness.py FD`` reads the whole job from stdin (the submission's code, the entry point
and the test INPUTS) before any learner code runs, then executes the submission as module
``submission`` and calls its function once per test, writing one JSON line per result to the
inherited file descriptor FD. It judges nothing: expected answers and held-out labels are never
in the sandbox, the grader compares outside.

Learner code shares this process, so it can write anything to FD, print fake results, exit
early or patch numpy. None of that earns points: stdout is not the channel; missing results
fail; and anything on the channel is only the learner's *answer*, which the grader still
checks against values the sandbox never saw. (A per-run secret here would add nothing: code in
the same process can read it.)
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import types
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402  (bound next to this file; only stdlib + numpy)

SUBMISSION = "submission.py"


def describe(exc: BaseException) -> dict[str, str]:
    """Name, message and the submission's own frames of an exception (harness frames hidden)."""
    try:
        name = type(exc).__name__
        message = str(exc)[:2000]
    except Exception:
        name, message = "Exception", "(an exception that cannot be printed)"
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SUBMISSION]
        tb = "".join(traceback.format_list(frames[-8:]))[-4000:]
    except Exception:
        tb = ""
    return {"name": str(name), "message": str(message), "traceback": str(tb)}


def call(fn: Any, mode: str, args: dict[str, Any]) -> Any:
    if mode == "fit_predict":  # fn() builds an unfitted estimator; labels of the test rows stay outside
        model = fn()
        model.fit(args["X_train"], args["y_train"])
        return model.predict(args["X_test"])
    return fn(*args.get("args", []), **args.get("kwargs", {}))


def main() -> None:
    channel = os.fdopen(int(sys.argv[1]), "w", buffering=1, encoding="utf-8")
    job = json.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # stdin is closed to learner code

    def emit(record: dict[str, Any]) -> None:
        channel.write(json.dumps(record) + "\n")
        channel.flush()

    module = types.ModuleType("submission")
    module.__file__ = SUBMISSION
    sys.modules["submission"] = module
    try:
        exec(compile(job["code"], SUBMISSION, "exec"), module.__dict__)
    except BaseException as e:  # SystemExit and KeyboardInterrupt at import are failures too
        emit({"kind": "load_error", "error": describe(e)})
        return
    fn = module.__dict__.get(job["entry"])
    if not callable(fn):
        msg = f"the submission does not define a function {job['entry']}()"
        emit({"kind": "load_error", "error": {"name": "NameError", "message": msg, "traceback": ""}})
        return
    emit({"kind": "loaded"})
    for test in job["tests"]:
        start = time.perf_counter()
        try:
            value = wire.encode(call(fn, job["call"], wire.decode(test["args"])))
        except BaseException as e:
            emit({"kind": "result", "id": test["id"], "error": describe(e)})
            continue
        emit({"kind": "result", "id": test["id"], "value": value, "seconds": time.perf_counter() - start})
    emit({"kind": "done"})


if __name__ == "__main__":
    main()
