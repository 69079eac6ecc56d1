"""Guided labs without real kernels: every lab folder is valid and complete, notebooks round-trip,
checks survive any JSON, the probe report is read only with its nonce, and the runner's step
logic works on an in-process stand-in kernel (the real sandbox runs in tests/integration)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import types
from pathlib import Path
from typing import Any

import pytest

from curriculum.labs import LABS_DIR, MAX_DATA_BYTES, Lab, LabError, load_lab, load_labs
from curriculum.labs.notebook import NotebookError, generate, generate_json, parse_submission
from curriculum.labs.selfcheck import SOLUTIONS_DIR, load_solution, solution_segments
from tools._outputs import RunResult
from tools.lab_runner import LabContext, LabRunner, check_job_spec, probe_cell, read_report

LABS = load_labs(strict=False)  # a broken lab fails test_every_lab_folder_is_valid
LAB_IDS = list(LABS)
JUNK: list[Any] = [{}, {"type": None}, {"shape": "x", "columns": 3}, {"facts": [1, 2]},
                   {k: {"a": [None]} for k in ("type", "rates", "w", "weights", "top_terms")}]  # fmt: skip


def test_there_are_at_least_ten_labs_one_per_module_1_to_9_and_a_capstone() -> None:
    modules = {lab.module for lab in LABS.values()}
    assert len(LABS) >= 10, sorted(LABS)
    assert {f"m{i}" for i in range(1, 10)} <= modules, sorted(modules)
    assert "m10" in modules  # the capstone starter


def test_every_lab_folder_is_valid() -> None:
    assert list(load_labs()) == list(LABS)  # strict: raises LabError naming the broken file


def test_my_three_labs_exist() -> None:
    assert {"pandas-passengers", "gradient-descent-attention", "text-eda-tokens"} <= set(LABS)


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_lab_is_complete(lab_id: str) -> None:
    lab = LABS[lab_id]
    assert 4 <= len(lab.steps) <= 8
    assert sum(f.stat().st_size for f in lab.data_files()) < MAX_DATA_BYTES
    solution = load_solution(lab_id)  # the reference solution lives in the tests, per step
    assert set(solution) == {s.id for s in lab.steps}, "a reference solution has code for every step"
    assert len(solution_segments(lab, solution)) == len(lab.steps)
    for step in lab.steps:
        assert "TODO" in step.starter or step.starter.strip() == "" or step.action, (lab_id, step.id)


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_every_data_file_has_a_source_and_licence_row(lab_id: str) -> None:
    readme = (LABS_DIR / "README.md").read_text(encoding="utf-8")
    for name in LABS[lab_id].data:
        rows = [line for line in readme.splitlines() if line.startswith(f"| {lab_id} |") and name in line]
        assert rows, f"README.md has no source/licence row for {lab_id}/data/{name}"
        assert rows[0].count("|") >= 5 and rows[0].split("|")[4].strip(), rows[0]


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_checks_survive_any_json_by_failing_with_a_message(lab_id: str) -> None:
    lab = LABS[lab_id]
    for step in lab.steps:
        fn = getattr(lab.checks, f"check_{step.check}")
        for facts in JUNK:
            passed, message = fn(facts)  # raises -> the test fails: a check must never raise
            assert passed is False and isinstance(message, str) and len(message) > 10, (step.id, facts)


def test_solutions_are_not_served_or_in_the_package() -> None:
    assert SOLUTIONS_DIR.is_relative_to(LABS_DIR.parent.parent / "tests")
    public = json.dumps([lab.to_public_dict() for lab in LABS.values()])
    assert "probe" not in public and "__LAB__" not in public
    sol = load_solution("pandas-passengers")
    assert sol["clean"].strip() not in public


# --- validation ---
def _copy_lab(tmp_path: Path, lab_id: str = "gradient-descent-attention") -> Path:
    import shutil

    dest = tmp_path / lab_id
    shutil.copytree(LABS_DIR / lab_id, dest)
    return dest


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda y: y.replace("id: gradient-descent-attention", "id: other"), "equal the folder name"),
        (lambda y: y.replace("module: m2", "module: two"), "module"),
        (lambda y: y.replace("m2.calculus", "m2.nope"), "unknown topics"),
        (lambda y: y.replace("check: attention\n", "check: nothing_here\n"), "check_nothing_here"),
        (lambda y: y.replace("data: [regression.csv]", "data: [missing.csv]"), "missing.csv"),
        (
            lambda y: y.replace(
                "    probe: |\n      import json\n      import numpy as np\n      facts = {}\n      f = globals()",
                "    probe: |\n      import json(\n      import numpy as np\n      facts = {}\n      f = globals()",
                1,
            ),
            "not valid Python",
        ),  # fmt: skip
        (lambda y: y.replace("  - id: causal-mask", "  - id: attention", 1), "unique"),
    ],
)
def test_a_broken_lab_is_refused_with_a_message(tmp_path: Path, edit: Any, error: str) -> None:
    folder = _copy_lab(tmp_path)
    path = folder / "lab.yaml"
    path.write_text(edit(path.read_text()))
    with pytest.raises(LabError, match=error):
        load_lab(folder, {"m2.calculus", "m2.linear-algebra", "m2.attention-math"})
    assert load_labs(tmp_path, strict=False, known_topics={"m2.calculus"}) == {}


def test_data_over_two_megabytes_is_refused(tmp_path: Path) -> None:
    folder = _copy_lab(tmp_path)
    (folder / "data" / "regression.csv").write_bytes(b"0" * (MAX_DATA_BYTES + 1))
    with pytest.raises(LabError, match="limit"):
        load_lab(folder, None)


# --- notebooks ---
def test_notebook_is_nbformat_4_with_tagged_step_cells() -> None:
    lab = LABS["pandas-passengers"]
    nb = json.loads(generate_json(lab))
    assert (
        nb["nbformat"] == 4
        and nb["nbformat_minor"] == 5
        and nb["metadata"]["kernelspec"]["name"] == "python3"
    )
    assert all(
        isinstance(c["id"], str) and re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", c["id"]) for c in nb["cells"]
    )
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code[0]["metadata"] == {"tutor": {"setup": True}}
    assert [c["metadata"]["tutor"]["step"] for c in code[1:]] == [s.id for s in lab.steps]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    md = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert len(md) == len(lab.steps) + 1 and lab.title in "".join(md[0]["source"])


def test_the_setup_cell_writes_the_data_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = LABS["pandas-passengers"]
    setup = "".join(generate(lab)["cells"][1]["source"])
    monkeypatch.chdir(tmp_path)
    exec(compile(setup, "<setup>", "exec"), {})
    assert (tmp_path / "passengers.csv").read_bytes() == lab.data_files()[0].read_bytes()


def test_submission_segments_follow_the_notebook() -> None:
    lab = LABS["gradient-descent-attention"]
    nb = generate(lab)
    cells = nb["cells"]
    first_code = next(i for i, c in enumerate(cells) if c.get("metadata", {}).get("tutor", {}).get("step"))
    cells.insert(first_code, {"cell_type": "code", "metadata": {}, "source": "print('before any step')"})
    cells.append({"cell_type": "code", "metadata": {}, "source": ["x = 1\n", "y2 = 2"]})  # learner-added
    cells.append({"cell_type": "raw", "source": "ignored"})
    cells[-3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "__LAB__{}"}]
    segs = parse_submission(json.dumps(nb), lab)
    assert [s.step_id for s in segs] == [s.id for s in lab.steps]
    assert segs[0].cells[0] == "print('before any step')"  # cells before the first step run with it
    assert segs[-1].cells[-1] == "x = 1\ny2 = 2"  # added cells belong to the preceding step
    assert not any("__LAB__" in c for s in segs for c in s.cells)  # outputs are never used
    assert not any("_LAB_DATA" in c for s in segs for c in s.cells)  # the setup cell is skipped


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\xff\xfe not utf-8", "UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "nbformat 4"),
        (b'{"nbformat": 3, "cells": []}', "nbformat 4"),
        (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}', "source"),
        (b'{"nbformat": 4, "metadata": {"tutor": {"lab": "text-eda-tokens"}}, "cells": []}', "for the lab"),
    ],
)
def test_bad_uploads_are_refused_clearly(raw: bytes, error: str) -> None:
    with pytest.raises(NotebookError, match=error):
        parse_submission(raw, LABS["pandas-passengers"])


# --- the probe's report ---
def test_only_the_nonce_line_of_the_probe_counts() -> None:
    good = '__LAB__:abc:{"facts": "{\\"n\\": 1}", "error": null}'
    assert read_report(f"noise\n{good}\n", "abc") == ({"n": 1}, None)
    assert read_report('__LAB__{"n": 2}\n__LAB__:zzz:{"facts": "{}"}', "abc")[0] is None  # fakes
    facts, why = read_report(f"{good}\n{good}", "abc")
    assert facts is None and "more than once" in str(why)
    facts, why = read_report('__LAB__:abc:{"facts": null, "error": "NameError: x"}', "abc")
    assert facts is None and "NameError: x" in str(why)
    assert read_report('__LAB__:abc:{"facts": "[1]", "error": null}', "abc")[0] is None


def test_the_probe_cell_compiles_for_every_step() -> None:
    for lab in LABS.values():
        for step in lab.steps:
            compile(probe_cell(step.probe, "0" * 32), step.id, "exec")


# --- the runner on an in-process stand-in kernel ---
class _OutStream(io.StringIO):
    def write(self, s: str) -> int:
        return super().write(s)

    write.__module__ = "ipykernel.iostream"


_OutStream.__module__ = "ipykernel.iostream"


class ExecKernels:
    """Runs code with exec() in one namespace per session (NOT a sandbox: tests only)."""

    max_timeout_s = 60.0

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.ns: dict[str, dict[str, Any]] = {}
        self.calls = 0

    def execute(self, code: str, session_id: str | None = None, timeout_s: float | None = None) -> RunResult:
        self.calls += 1
        ns = self.ns.setdefault(session_id or "x", {"__name__": "__main__"})
        ns.setdefault("get_ipython", lambda: types.SimpleNamespace(user_ns=ns))
        out = _OutStream()
        try:
            with contextlib.redirect_stdout(out), contextlib.chdir(self.cwd):
                exec(compile(code, "<cell>", "exec"), ns)
        except Exception as e:
            return RunResult("error", out.getvalue(), error={"name": type(e).__name__, "message": str(e)})
        return RunResult("ok", out.getvalue())

    def reset(self, session_id: str) -> None:
        self.ns.pop(session_id, None)


def test_runner_checks_steps_and_carries_state(tmp_path: Path) -> None:
    lab = LABS["gradient-descent-attention"]
    kernels = ExecKernels(tmp_path)
    runner = LabRunner(kernels)
    sol = load_solution(lab.id)
    report = runner.run_segments(lab, solution_segments(lab, sol))
    assert report["passed"], report
    assert (tmp_path / "regression.csv").exists()  # the data went into the working directory first

    ctx = LabContext()
    bad = runner.run_step(lab, lab.steps[0], ["y = None\nXb = None"], "s", ctx)
    assert not bad.passed and "`y` is still None" in bad.message and bad.hint
    err = runner.run_step(lab, lab.steps[0], ["1 / 0"], "s", ctx)
    assert err.status == "error" and "ZeroDivisionError" in err.message
    ok = runner.run_step(lab, lab.steps[0], [sol["design-matrix"]], "s", ctx)
    assert ok.passed and ok.runs and ok.runs[0]["status"] == "ok"


def test_a_notebook_missing_a_step_cell_is_probed_at_the_end(tmp_path: Path) -> None:
    lab = LABS["gradient-descent-attention"]
    sol = load_solution(lab.id)
    nb = generate(lab)
    for cell in nb["cells"]:
        step = cell.get("metadata", {}).get("tutor", {}).get("step")
        if step:
            cell["source"] = sol[step]
    nb["cells"] = [
        c for c in nb["cells"] if c.get("metadata", {}).get("tutor", {}).get("step") != "causal-mask"
    ]
    report = LabRunner(ExecKernels(tmp_path)).run_segments(lab, parse_submission(json.dumps(nb), lab))
    by_id = {s["id"]: s for s in report["steps"]}
    assert list(by_id) == [s.id for s in lab.steps]
    assert not by_id["causal-mask"]["passed"] and "No cell for this step" in by_id["causal-mask"]["message"]
    assert all(by_id[s]["passed"] for s in by_id if s != "causal-mask")


def test_fake_markers_and_a_shadowed_print_do_not_pass(tmp_path: Path) -> None:
    lab = LABS["gradient-descent-attention"]
    runner = LabRunner(ExecKernels(tmp_path))
    good = {"Xb_type": "ndarray", "Xb_shape": [200, 3], "y_shape": [200], "Xb_colsums": [200, 1, 1]}
    fake = f"y = None\nXb = None\nprint('__LAB__' + {json.dumps(json.dumps(good))})"
    assert not runner.run_step(lab, lab.steps[0], [fake], "a").passed
    shadow = f"import builtins, json\ny = Xb = None\nprint = lambda *a, **k: builtins.print('__LAB__' + {json.dumps(json.dumps(good))})"
    res = runner.run_step(lab, lab.steps[0], [shadow], "b")
    assert not res.passed and "still None" in res.message


def test_a_train_job_step_submits_the_spec_and_later_steps_see_the_job(tmp_path: Path) -> None:
    lab = LABS["gradient-descent-attention"]
    steps = list(lab.steps)
    steps[0] = type(steps[0])(**{**steps[0].__dict__, "action": "train_job",
                                 "probe": 'import json\nprint("__LAB__" + json.dumps({"job_spec": globals().get("spec")}))',
                                 "check": "spec_ok"})  # fmt: skip
    lab2 = Lab(**{**{k: v for k, v in lab.__dict__.items() if k != "checks"}, "steps": tuple(steps)})
    lab2.__dict__["checks"] = types.SimpleNamespace(
        check_spec_ok=lambda f: (isinstance(f.get("job_spec"), dict), "spec checked"),
        **{f"check_{s.check}": (lambda f: (f.get("job", {}).get("status") == "succeeded", "saw the job"))
           for s in steps[1:]},
    )  # fmt: skip
    submitted: list[dict[str, Any]] = []

    def hook(spec: dict[str, Any]) -> dict[str, Any]:
        check_job_spec(spec)
        submitted.append(spec)
        return {"job_id": "sklearn-1", "status": "queued"}

    runner = LabRunner(ExecKernels(tmp_path), job_hook=hook, job_getter=lambda j: {"status": "succeeded"})
    ctx = LabContext()
    spec = 'spec = {"kind": "sklearn", "params": {"dataset": "iris", "estimator": "logistic_regression"}}'
    first = runner.run_step(lab2, lab2.steps[0], [spec], "j", ctx)
    assert first.passed and first.job_id == "sklearn-1" and submitted
    assert runner.run_step(lab2, lab2.steps[1], [], "j", ctx).passed
    big = 'spec = {"kind": "gpt", "params": {"max_steps": 100000}}'
    refused = runner.run_step(lab2, lab2.steps[0], [big], "k", LabContext())
    assert not refused.passed and "max_steps" in refused.message


def test_job_specs_must_be_tiny() -> None:
    assert check_job_spec({"kind": "gpt", "params": {"max_steps": 50, "n_layer": 2}})[0] == "gpt"
    for bad in ({"kind": "shell", "params": {}}, {"kind": "gpt", "params": {}},
                {"kind": "gpt", "params": {"max_steps": 20, "n_embd": 4096}}):  # fmt: skip
        with pytest.raises(ValueError):
            check_job_spec(bad)
