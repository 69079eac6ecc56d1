"""An uploaded notebook is graded step by step by a real served tutor (multipart upload, real
sandboxed kernel) and by the CLI (`tutor lab submit`); bad uploads are clear 400s."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from curriculum.labs.selfcheck import load_solution
from tests.served import DEFAULT_ENV, REPO, TUTOR_BIN, ServedTutor, served_tutor  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LAB = "gradient-descent-attention"


def worked(nb: dict, *, broken_step: str | None = None) -> bytes:
    """The downloaded notebook with the reference solution typed in, an extra learner cell, and
    outputs a learner's Jupyter left behind (ignored by the grader)."""
    sol = load_solution(LAB)
    cells = []
    for cell in nb["cells"]:
        step = cell.get("metadata", {}).get("tutor", {}).get("step")
        if step:
            cell = {**cell, "source": "y = None" if step == broken_step else sol[step], "execution_count": 3,
                    "outputs": [{"output_type": "stream", "name": "stdout", "text": '__LAB__{"passed": true}\n'}]}  # fmt: skip
        cells.append(cell)
        if step == "descend":
            cells.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                          "source": "print(losses[-1])  # a cell the learner added"})  # fmt: skip
    return json.dumps({**nb, "cells": cells}).encode()


def test_download_work_upload_graded_step_by_step(served_tutor: ServedTutor) -> None:  # noqa: F811
    url = served_tutor.url
    nb = httpx.get(f"{url}/api/labs/{LAB}/notebook", timeout=30).json()
    r = httpx.post(f"{url}/api/labs/{LAB}/submit", files={"file": ("mine.ipynb", worked(nb))},
                   data={"learner_id": "nb-ada"}, timeout=300)  # fmt: skip
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["lab_id"] == LAB and report["passed"], report
    assert [s["id"] for s in report["steps"]] == [
        s["id"] for s in httpx.get(f"{url}/api/labs/{LAB}").json()["steps"]
    ]

    r = httpx.post(f"{url}/api/labs/{LAB}/submit", files={"file": ("mine.ipynb", worked(nb, broken_step="descend"))},
                   data={"learner_id": "nb-ada"}, timeout=300)  # fmt: skip
    steps = {s["id"]: s for s in r.json()["steps"]}
    assert not r.json()["passed"] and steps["design-matrix"]["passed"] and not steps["descend"]["passed"]
    assert "losses" in steps["descend"]["message"] or "w" in steps["descend"]["message"]

    prog = httpx.get(f"{url}/api/learners/nb-ada/labs").json()["labs"][0]
    assert prog["lab_id"] == LAB and prog["done"] == 6  # passes are kept: a later failure does not undo them


@pytest.mark.parametrize(
    ("body", "what"), [(b"not json at all", "not valid JSON"), (b'{"nbformat": 4}', "nbformat 4")]
)
def test_bad_uploads_are_400(served_tutor: ServedTutor, body: bytes, what: str) -> None:  # noqa: F811
    r = httpx.post(f"{served_tutor.url}/api/labs/{LAB}/submit", files={"file": ("x.ipynb", body)},
                   data={"learner_id": "nb-bo"}, timeout=30)  # fmt: skip
    assert r.status_code == 400 and what in r.json()["error"]["message"]
    assert httpx.post(f"{served_tutor.url}/api/labs/nope/submit", files={"file": ("x.ipynb", body)},
                      data={"learner_id": "nb-bo"}, timeout=30).status_code == 404  # fmt: skip


def test_cli_lists_shows_and_grades_a_notebook(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    env.update(DEFAULT_ENV, TUTOR_DATA_DIR=str(tmp_path / "var"))
    if not Path("/usr/bin/bwrap").exists():
        env["TUTOR_UNSAFE_NO_SANDBOX"] = "1"
    cmd = [str(TUTOR_BIN), "lab"]

    def tutor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cmd, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)

    listed = json.loads(tutor("list", "--json").stdout)
    assert LAB in {x["id"] for x in listed["labs"]}
    path = tmp_path / "lab.ipynb"
    shown = tutor("show", LAB, "--notebook", str(path))
    assert shown.returncode == 0 and "Step 1" in shown.stdout
    path.write_bytes(worked(json.loads(path.read_text())))
    out = tutor("submit", LAB, str(path), "--learner", "cli-ada", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["passed"] and len(report["steps"]) == 6
    human = tutor("submit", LAB, str(path))
    assert "6/6 steps passed" in human.stdout and "PASS design-matrix" in human.stdout
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{]")
    refused = tutor("submit", LAB, str(bad))
    assert refused.returncode == 2 and "not valid JSON" in refused.stderr
