"""tools/grader.py verdicts and tools/grading/{wire,checks}.py, with the sandbox run faked: the
harness's result channel is written by the test, as a hostile submission could write it."""

from __future__ import annotations

import base64
import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from curriculum.exercises import load_exercises, split_args
from tools import grader as gmod
from tools import sandbox as sb
from tools._oneshot import OneShotResult
from tools.grader import Grader, SandboxUnavailable
from tools.grading import wire
from tools.grading.checks import allclose


@pytest.fixture(scope="module")
def exercises() -> dict[str, Any]:
    return load_exercises()


@pytest.fixture
def grader(exercises: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Grader:
    monkeypatch.setattr(sb, "find_bwrap", lambda: "/usr/bin/bwrap")
    return Grader(exercises, tmp_path)


def fake_run(monkeypatch: pytest.MonkeyPatch, channel: list[Any], *, rc: int | None = 0, timed_out: bool = False,
             stdout: bytes = b"") -> dict[str, Any]:  # fmt: skip
    """Make the sandbox 'return' these channel records; returns what the grader sent in."""
    sent: dict[str, Any] = {}

    def run(sandbox: Any, argv: Any, *, payload: bytes, **kw: Any) -> OneShotResult:
        sent["job"] = json.loads(payload)
        sent["kw"] = kw
        lines = b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in channel)
        return OneShotResult(rc, timed_out, stdout, b"", lines, False, 0.1)

    monkeypatch.setattr(gmod, "run_oneshot", run)
    return sent


def reference_records(grader: Grader, ex_id: str, wrong: dict[int, Any] | None = None) -> list[Any]:
    """Channel records a correct submission would produce (with some answers replaced)."""
    ex = grader.exercises[ex_id]
    recs: list[Any] = [{"kind": "loaded"}]
    for i, case in enumerate(grader._cases(ex)):
        if ex.call == "fit_predict":
            value = case.expected
        else:
            pos, kw = split_args(ex.required, case.args)
            value = ex.reference.solution(*pos, **kw)
        if wrong and i in wrong:
            value = wrong[i]
        recs.append({"kind": "result", "id": i, "value": wire.encode(value)})
    return [*recs, {"kind": "done"}]


def test_right_answers_pass(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(monkeypatch, reference_records(grader, "gradient-descent"))
    r = grader.grade("gradient-descent", "code")
    assert r.passed and r.score == 1.0 and r.status == "ok" and r.hint == ""
    assert all(t["passed"] for t in r.tests) and "All 7 tests passed" in r.feedback


def test_partial_credit_names_the_failing_public_test(
    grader: Grader, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_run(
        monkeypatch, reference_records(grader, "gradient-descent", wrong={0: (np.array([9.0, 9.0]), 1.0)})
    )
    r = grader.grade("gradient-descent", "code")
    first = r.tests[0]
    assert not r.passed and not first["passed"] and first["name"] == "one step from zero"
    total = sum(t["points"] for t in r.tests)
    assert r.score == pytest.approx((total - first["points"]) / total)
    assert "expected w=[0.7 1. ]" in first["message"] and "got w=[9. 9.]" in first["message"]
    assert "one step from zero" in r.feedback and "Hint:" in r.feedback and r.hint


def test_hidden_failures_reveal_no_expected_values(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    ex = grader.exercises["gradient-descent"]
    hidden = [i for i, t in enumerate(ex.tests) if t.hidden]
    fake_run(
        monkeypatch,
        reference_records(grader, "gradient-descent", wrong={i: (np.full(3, 7.0), 7.0) for i in hidden}),
    )
    r = grader.grade("gradient-descent", "code")
    expected = grader._cases(ex)[hidden[1]].expected
    for i in hidden:
        assert r.tests[i]["hidden"] and "details are not shown" in r.tests[i]["message"]
    assert f"{expected[0][0]:.4g}"[:5] not in r.feedback + json.dumps(r.tests)
    assert "hidden test(s) failed" in r.feedback


def test_fake_success_on_stdout_and_early_exit_fail(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(monkeypatch, [], rc=0, stdout=b'All tests passed\n{"kind": "done"}\n')
    r = grader.grade("attention", "code")
    assert not r.passed and r.score == 0 and r.status == "killed"
    assert "sys.exit or os._exit" in r.tests[0]["message"]


def test_forged_done_without_results_fails(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(
        monkeypatch, [{"kind": "loaded"}, {"kind": "done"}, b"not json", b'{"kind": "result", "id": "0"}']
    )
    r = grader.grade("positional-encoding", "code")
    assert not r.passed and r.score == 0 and r.status == "ok"
    assert all(t["message"] in ("no result was returned",) or t["hidden"] for t in r.tests)


def test_first_result_per_test_wins(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = reference_records(grader, "positional-encoding")
    forged = {"kind": "result", "id": 0, "value": wire.encode(np.zeros((2, 2)))}
    fake_run(monkeypatch, [forged, *recs])
    r = grader.grade("positional-encoding", "code")
    assert not r.tests[0]["passed"] and all(t["passed"] for t in r.tests[1:])


def test_load_error_is_reported_with_the_learners_traceback(
    grader: Grader, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = {
        "name": "SyntaxError",
        "message": "invalid syntax",
        "traceback": '  File "submission.py", line 3\n',
    }
    fake_run(monkeypatch, [{"kind": "load_error", "error": err}])
    r = grader.grade("pca", "def pca(:")
    assert r.status == "error" and not r.passed and r.score == 0
    assert "did not load: SyntaxError" in r.feedback and "submission.py" in r.feedback
    assert r.load_error == err  # as data too, for callers that word it themselves (the chat)


def test_timeout_marks_unfinished_tests(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = reference_records(grader, "mlp-forward")[:2]  # loaded + first result, then silence
    fake_run(monkeypatch, recs, rc=None, timed_out=True)
    r = grader.grade("mlp-forward", "code")
    assert r.status == "timeout" and r.tests[0]["passed"] and not r.passed
    assert "time limit" in r.tests[1]["message"]


def test_killed_process_is_reported(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(monkeypatch, [{"kind": "loaded"}], rc=139)
    r = grader.grade("mlp-forward", "code")
    assert r.status == "killed" and "SIGSEGV" in r.tests[0]["message"]


def test_a_raising_test_shows_the_exception(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = reference_records(grader, "kmeans")
    recs[1] = {
        "kind": "result",
        "id": 0,
        "error": {"name": "IndexError", "message": "index 5 is out of bounds"},
    }
    fake_run(monkeypatch, recs)
    r = grader.grade("kmeans", "code")
    assert r.tests[0]["message"].startswith("raised IndexError: index 5")


def test_unsupported_or_malformed_values_fail(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    pickled = {"t": "nd", "npy": base64.b64encode(buf.getvalue()).decode()}
    recs = reference_records(grader, "classification-metrics")
    recs[1] = {"kind": "result", "id": 0, "value": pickled}
    recs[2] = {"kind": "result", "id": 1, "value": {"t": "evil", "items": []}}
    recs[3] = {"kind": "result", "id": 2, "value": "0.6666"}
    fake_run(monkeypatch, recs)
    r = grader.grade("classification-metrics", "code")
    assert [t["passed"] for t in r.tests[:3]] == [False, False, False]
    assert "could not be read" in r.tests[0]["message"] and "could not be read" in r.tests[1]["message"]


def test_the_sandbox_gets_inputs_and_never_expected_values(
    grader: Grader, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = fake_run(monkeypatch, [])
    grader.grade("digits-classifier", "code")
    test = sent["job"]["tests"][1]
    args = wire.decode(test["args"])
    assert set(args) == {"X_train", "y_train", "X_test"}
    assert len(args["X_test"]) == 540 and len(args["y_train"]) == 1257
    assert any(p.endswith("sklearn/datasets/data") for p in sent["kw"]["hide"])
    sent = fake_run(monkeypatch, [])
    grader.grade("gradient-descent", "code")
    args = wire.decode(sent["job"]["tests"][0]["args"])
    assert len(args["args"]) == 2 and set(args["kwargs"]) == {"lr", "epochs"}
    assert "expected" not in json.dumps(sent["job"])


def test_digits_split_is_drawn_afresh_per_grading(grader: Grader) -> None:
    ex = grader.exercises["digits-classifier"]
    a, b = grader._cases(ex)[1], grader._cases(ex)[1]
    assert not np.array_equal(a.args["X_test"], b.args["X_test"])
    assert grader._cases(ex)[0] is grader._cases(ex)[0]  # fixed-seed cases are cached


def test_bad_requests(
    grader: Grader, monkeypatch: pytest.MonkeyPatch, exercises: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(LookupError, match="did you mean 'kmeans'"):
        grader.grade("kmean", "x")
    with pytest.raises(ValueError, match="string"):
        grader.grade("kmeans", b"x")  # type: ignore[arg-type]
    monkeypatch.setattr(sb, "find_bwrap", lambda: None)
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        Grader(exercises, tmp_path).grade("kmeans", "x")


def test_report_dict_has_the_contract_shape(grader: Grader, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(monkeypatch, reference_records(grader, "pca"))
    d = grader.grade("pca", "code").to_dict()
    assert {"exercise_id", "passed", "score", "tests", "feedback", "status", "duration_s", "hint"} <= set(d)
    assert {"name", "passed", "hidden", "message"} <= set(d["tests"][0])
    assert 0.0 <= d["score"] <= 1.0


# --- wire format ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [None, True, 3, 2.5, float("inf"), "s", [1, "a"], (1, (2.0, None)), {"k": [1]}, np.arange(6).reshape(2, 3),
     np.array(["cat", "dog"]), np.array([True, False])],
)  # fmt: skip
def test_wire_round_trip(value: Any) -> None:
    back = wire.decode(json.loads(json.dumps(wire.encode(value))))
    if isinstance(value, np.ndarray):
        assert isinstance(back, np.ndarray) and np.array_equal(back, value) and back.dtype == value.dtype
    else:
        assert back == value and type(back) is type(value)


def test_wire_turns_tricky_objects_into_plain_data_or_refuses() -> None:
    class AlwaysEqual:
        def __eq__(self, other: object) -> bool:
            return True

    class LyingFloat(float):
        def __eq__(self, other: object) -> bool:
            return True

    with pytest.raises(wire.WireError, match="AlwaysEqual"):
        wire.encode(AlwaysEqual())
    with pytest.raises(wire.WireError, match="dtype object"):
        wire.encode(np.array([AlwaysEqual()], dtype=object))
    assert type(wire.decode(wire.encode(LyingFloat(1.5)))) is float
    assert wire.decode(wire.encode(np.float32(2.5))) == 2.5
    nested: Any = []
    for _ in range(20):
        nested = [nested]
    with pytest.raises(wire.WireError, match="nested"):
        wire.encode(nested)


def test_wire_never_unpickles() -> None:
    payload = base64.b64encode(pickle.dumps(np.array([1]))).decode()
    with pytest.raises(wire.WireError):
        wire.decode({"t": "nd", "npy": payload})


def test_allclose_messages() -> None:
    assert allclose((np.ones(2), 1.0), (np.ones(2), 1.0))[0]
    ok, msg = allclose([1.0], (np.ones(2), 1.0), names=["w", "b"])
    assert not ok and "tuple of 2 (w, b)" in msg
    ok, msg = allclose(np.ones(3), np.ones(2))
    assert not ok and "shape (2,)" in msg
    ok, msg = allclose(np.array([np.nan, 1.0]), np.ones(2))
    assert not ok and "nan" in msg
    ok, msg = allclose("abc", 1.0)
    assert not ok and "str" in msg
