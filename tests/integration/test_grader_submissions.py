"""Real grading in real sandboxes: right answers in many styles pass, wrong ones fail, and hostile
submissions earn nothing, leave nothing behind and do not hurt the grader.

All submissions are graded once, two at a time, by a module-scoped fixture; the tests then look
at the reports (keeps the whole file well under a minute on two idle cores)."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from curriculum.exercises import load_exercises
from tests.proc_helpers import processes_with
from tools.grader import Grader, GradeReport
from tools.sandbox import find_bwrap

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed (make installs it)"),
]

REPO = Path(__file__).resolve().parents[2]
SUBMISSIONS = REPO / "tests" / "data" / "submissions"
GRADED = sorted(p for p in SUBMISSIONS.glob("*/*.py") if p.name.startswith(("pass_", "fail_")))
HOSTILE = sorted((SUBMISSIONS / "gradient-descent").glob("hostile_*.py"))
MARKER = f"tutor-test-orphan-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A data dir with a secret file, a host dir to attack, and a listening 'tutor port'."""
    data = tmp_path_factory.mktemp("var")
    (data / "tutor.db").write_text("secret learner data")
    host_dir = tmp_path_factory.mktemp("host")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    accepted: list[Any] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield {"data": data, "host_dir": host_dir, "port": server.getsockname()[1], "accepted": accepted}
    stop.set()
    t.join()
    server.close()


@pytest.fixture(scope="module")
def reports(env: dict[str, Any]) -> dict[str, GradeReport]:
    exercises = load_exercises()
    grader = Grader(exercises, env["data"] / "kernels", timeout_scale=1.0)
    quick = Grader(exercises, env["data"] / "kernels", timeout_scale=0.1)  # 3 s for gradient descent
    os.environ["TUTOR_TEST_SECRET"] = "s3cr3t-value"  # must not reach any sandbox
    subs = {
        "__MARKER__": MARKER, "__PORT__": str(env["port"]), "__PID__": str(os.getpid()),
        "__DATA_DIR__": str(env["data"]), "__HOST_DIR__": str(env["host_dir"]), "__REPO__": str(REPO),
    }  # fmt: skip

    def job(path: Path) -> tuple[str, GradeReport]:
        code = path.read_text()
        for k, v in subs.items():
            code = code.replace(k, v)
        g = quick if path.name == "hostile_infinite_loop.py" else grader
        return f"{path.parent.name}/{path.name}", g.grade(path.parent.name, code)

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = dict(pool.map(job, [*GRADED, *HOSTILE]))
    finally:
        del os.environ["TUTOR_TEST_SECRET"]
    return done


@pytest.mark.parametrize("path", GRADED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_right_answers_pass_and_wrong_ones_fail(reports: dict[str, GradeReport], path: Path) -> None:
    r = reports[f"{path.parent.name}/{path.name}"]
    want = path.name.startswith("pass_")
    assert r.passed is want, r.feedback
    assert r.status == "ok", r.feedback
    if not want:
        assert r.score < 1.0 and r.feedback and r.hint


def _get(reports: dict[str, GradeReport], name: str) -> GradeReport:
    return reports[f"gradient-descent/hostile_{name}.py"]


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("prints_success", "ok"), ("forges_channel", None), ("sys_exit", "error"),
        ("patches_everything", "killed"), ("always_equal", "ok"), ("inspects_frames", "ok"),
        ("steals_reference", "ok"), ("reads_secrets", "ok"), ("writes_outside", "ok"), ("network", "ok"),
        ("kills_parent", "killed"), ("orphans", "ok"), ("segfault", "killed"), ("memory_bomb", "error"),
        ("infinite_loop", "timeout"),
    ],
)  # fmt: skip
def test_hostile_submissions_earn_nothing(
    reports: dict[str, GradeReport], name: str, status: str | None
) -> None:
    """``status`` None: forged records may make the run look complete; it still earns nothing."""
    r = _get(reports, name)
    assert not r.passed and r.score == 0.0, r.feedback
    assert status is None or r.status == status, r.feedback


def test_grading_survives_50_mb_of_output(reports: dict[str, GradeReport]) -> None:
    r = _get(reports, "floods_output")
    assert r.passed and r.status == "ok", r.feedback


def test_nothing_secret_is_visible_inside(reports: dict[str, GradeReport]) -> None:
    msg = _get(reports, "reads_secrets").tests[0]["message"]
    assert "leaks: []" in msg, msg
    msg = _get(reports, "steals_reference").tests[0]["message"]
    assert "found nothing: []" in msg, msg
    msg = _get(reports, "inspects_frames").tests[0]["message"]
    assert "looted: []" in msg, msg


def test_nothing_is_written_outside_and_no_network(
    reports: dict[str, GradeReport], env: dict[str, Any]
) -> None:
    msg = _get(reports, "writes_outside").tests[0]["message"]
    assert "wrote: []" in msg, msg
    assert list(env["host_dir"].iterdir()) == []
    assert not (REPO / "pwned.txt").exists()
    msg = _get(reports, "network").tests[0]["message"]
    assert "reached: []" in msg, msg
    assert env["accepted"] == []


def test_fork_bombs_are_capped_and_no_process_survives(reports: dict[str, GradeReport]) -> None:
    msg = _get(reports, "orphans").tests[0]["message"]
    assert "fork failed after" in msg and "BlockingIOError" in msg, msg
    assert processes_with(MARKER) == []


def test_the_grader_survives_attempts_to_kill_it(
    reports: dict[str, GradeReport], env: dict[str, Any]
) -> None:
    assert _get(reports, "kills_parent").status == "killed"
    grader = Grader(load_exercises(), env["data"] / "kernels")
    code = (SUBMISSIONS / "positional-encoding" / "pass_numpy.py").read_text()
    assert grader.grade("positional-encoding", code).passed


def test_feedback_shows_expected_vs_got_for_public_tests_only(reports: dict[str, GradeReport]) -> None:
    r = reports["gradient-descent/fail_closed_form.py"]
    first = r.tests[0]
    assert not first["passed"] and not first["hidden"]
    assert "expected w=[0.7 1. ], b=0.3" in first["message"] and "got w=" in first["message"]
    hidden = [t for t in r.tests if t["hidden"] and not t["passed"]]
    assert hidden and all("details are not shown" in t["message"] for t in hidden)
    assert "one step from zero" in r.feedback and "Hint:" in r.feedback


def test_the_held_out_digits_cannot_be_looked_up(reports: dict[str, GradeReport]) -> None:
    """sklearn ships the digits data; grading sandboxes hide it, so a lookup 'model' cannot load it."""
    r = reports["digits-classifier/fail_looks_up_labels.py"]
    assert all(t["message"].startswith("raised FileNotFoundError") for t in r.tests), r.tests


def test_work_dirs_are_removed(reports: dict[str, GradeReport], env: dict[str, Any]) -> None:
    root = env["data"] / "kernels"
    assert not root.exists() or list(root.iterdir()) == []


def test_unsafe_mode_grades_and_says_so(tmp_path: Path) -> None:
    grader = Grader(load_exercises(), tmp_path, sandbox=False)
    r = grader.grade("pca", (SUBMISSIONS / "pca" / "pass_svd.py").read_text())
    assert r.passed and any("WITHOUT a sandbox" in n for n in r.notices)
    assert list(tmp_path.iterdir()) == []
