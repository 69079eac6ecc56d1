"""Every lab for real: its reference solution (tests/data/lab_solutions) passes every step in a
real sandboxed kernel, and its first starter fails with a useful message. One kernel per lab for
the solution (state carries from step to step), one fresh kernel for the starter; two labs run at
once (one busy kernel per core). Labs with a ``train_job`` step start a real tiny job.

This is the same check as ``python -m curriculum.labs check``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from curriculum.labs import load_labs
from curriculum.labs.selfcheck import LabCheck, check_lab, load_solution, make_runner
from tools.sandbox import find_bwrap

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed (make installs it)"),
]
LABS = load_labs(strict=False)  # a broken lab fails test_every_lab_folder_is_valid


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LabCheck]]:
    with_jobs = any(s.action == "train_job" for lab in LABS.values() for s in lab.steps)
    runner, closers = make_runner(Path(tmp_path_factory.mktemp("labs")), with_jobs=with_jobs)
    start = time.monotonic()
    try:

        def one(lab_id: str) -> LabCheck:
            try:
                return check_lab(runner, LABS[lab_id], load_solution(lab_id))
            except Exception as e:  # reported by the lab's own test
                return LabCheck(lab_id, ok=False, problems=[f"{type(e).__name__}: {e}"])

        with ThreadPoolExecutor(max_workers=2) as pool:
            out = dict(zip(LABS, pool.map(one, LABS), strict=True))
        print(f"\nall {len(out)} labs ran in {time.monotonic() - start:.1f} s: "
              + ", ".join(f"{k} {v.seconds:.1f}s" for k, v in out.items()))  # fmt: skip
        yield out
    finally:
        for obj in closers:
            obj.close()


@pytest.mark.parametrize("lab_id", list(LABS))
def test_solution_passes_every_step_and_the_starter_fails(results: dict[str, LabCheck], lab_id: str) -> None:
    res = results[lab_id]
    assert res.ok, "\n".join(res.problems)
    assert res.solution is not None and all(s["passed"] for s in res.solution["steps"])
    assert res.starter is not None and not res.starter["passed"] and len(res.starter["message"]) >= 15


def test_solution_messages_say_what_is_right(results: dict[str, Any]) -> None:
    for lab_id in ("pandas-passengers", "gradient-descent-attention", "text-eda-tokens"):
        steps = results[lab_id].solution["steps"]
        assert all(len(s["message"]) > 20 for s in steps), steps
