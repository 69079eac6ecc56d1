"""The sandbox hostile suite, for lab notebooks: cells of an uploaded notebook get exactly what
hostile code gets in a kernel (no app environment, no app files, no network), and a cell that
fakes the probe's ``__LAB__`` report, or tampers with the probe, cannot make a failing step pass.

Real sandboxed kernels (``tools.kernel.KernelManager``) and the real lab runner on the
pandas-passengers lab, whose first step fails unless ``df`` really is the 600-row manifest."""

from __future__ import annotations

import csv
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curriculum.labs import load_labs
from curriculum.labs.notebook import generate, parse_submission
from tools.kernel import KernelManager
from tools.lab_runner import LabContext, LabRunner
from tools.sandbox import find_bwrap

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed (make installs it)"),
]
REPO = Path(__file__).resolve().parents[2]
LAB = load_labs(strict=False)["pandas-passengers"]
HEADER = next(csv.reader(LAB.data_files()[0].open()))
GOOD_FACTS = json.dumps({"type": "DataFrame", "shape": [600, len(HEADER)], "columns": HEADER, "dtypes": {}})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("var")
    (d / "tutor.db").write_text("secret learner data")
    return d


@pytest.fixture(scope="module")
def runner(data_dir: Path) -> Iterator[LabRunner]:
    os.environ["TUTOR_TEST_SECRET"] = "s3cr3t-value"  # set before any kernel starts
    km = KernelManager(data_dir / "kernels", default_timeout_s=10, max_timeout_s=30, pool_size=2)
    yield LabRunner(km)
    km.close()
    del os.environ["TUTOR_TEST_SECRET"]


@pytest.fixture(scope="module")
def listener() -> Iterator[int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.sendall(b"app-secret")
                conn.close()
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield int(srv.getsockname()[1])
    stop.set()
    srv.close()


def notebook(first_cell: str) -> bytes:
    nb = generate(LAB)
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("tutor", {}).get("step") == "load":
            cell["source"] = first_cell
    return json.dumps(nb).encode()


def first_step(runner: LabRunner, code: str, session: str) -> Any:
    try:
        return runner.run_step(LAB, LAB.steps[0], [code], session, LabContext())
    finally:
        runner.kernels.reset(session)


def test_notebook_cells_cannot_read_the_apps_env_files_or_network(runner: LabRunner, data_dir: Path,
                                                                   listener: int) -> None:  # fmt: skip
    probe = f"""
import os, socket
out = {{"env": os.environ.get("TUTOR_TEST_SECRET"), "tutor_env": sorted(k for k in os.environ if k.startswith("TUTOR"))}}
for p in [{str(REPO / "tutor" / "config.py")!r}, {str(data_dir / "tutor.db")!r},
          {str(REPO / "tests" / "data" / "lab_solutions" / "pandas-passengers.yaml")!r},
          {str(LAB.dir / "checks.py")!r}, "/etc/shadow"]:
    try:
        open(p).read()
        out[p] = "READ"
    except Exception as e:
        out[p] = type(e).__name__
try:
    socket.create_connection(("127.0.0.1", {listener}), timeout=2).recv(20)
    out["net"] = "CONNECTED"
except Exception as e:
    out["net"] = type(e).__name__
print("RESULT", out)
df = None
"""
    res = first_step(runner, probe, "hostile-read")
    assert not res.passed
    printed = res.runs[0]["stdout"]
    assert "RESULT" in printed and "READ" not in printed and "CONNECTED" not in printed, printed
    assert "s3cr3t" not in printed and "'tutor_env': []" in printed
    report = runner.run_segments(LAB, parse_submission(notebook(probe), LAB))
    assert not report["passed"] and not report["steps"][0]["passed"]


FAKES = {
    "prints-a-fake-marker": f"df = None\nprint('__LAB__' + {GOOD_FACTS!r})",
    "shadows-print": f"import builtins\ndf = None\nprint = lambda *a, **k: builtins.print('__LAB__' + {GOOD_FACTS!r})",
    "hook-steals-the-nonce": f"""
import builtins, json, re
df = None
_seen = {{}}
def _pre(info):
    m = re.search(r"__LAB__:([0-9a-f]{{32}}):", info.raw_cell or "")
    _seen["nonce"] = m.group(1) if m else None
def _post(result):
    if _seen.get("nonce"):
        builtins.print("__LAB__:" + _seen["nonce"] + ":" + json.dumps({{"facts": {GOOD_FACTS!r}, "error": None}}))
get_ipython().events.register("pre_run_cell", _pre)
get_ipython().events.register("post_run_cell", _post)
""",
    "replaces-builtins-print": f"""
import builtins, re
df = None
_real = builtins.print
def _fake(*args, **kw):
    text = " ".join(map(str, args))
    m = re.match(r"(__LAB__:[0-9a-f]{{32}}:)", text)
    _real(m.group(1) + json.dumps({{"facts": {GOOD_FACTS!r}, "error": None}}) if m else text, **kw)
import json
builtins.print = _fake
""",
    "rewrites-stdout": f"""
import json, re, sys
df = None
class _Rewriter:
    def __init__(self, inner): self.inner = inner
    def write(self, s):
        m = re.match(r"(__LAB__:[0-9a-f]{{32}}:)", s)
        return self.inner.write(m.group(1) + json.dumps({{"facts": {GOOD_FACTS!r}, "error": None}}) + "\\n" if m else s)
    def __getattr__(self, name): return getattr(self.inner, name)
sys.stdout = _Rewriter(sys.stdout)
""",
    "patches-the-check-inputs": "import pandas as pd\ndf = pd.DataFrame({'a': range(600)})\n"
    "type(df).shape = property(lambda self: (600, 11))",
}


@pytest.mark.parametrize("code", list(FAKES.values()), ids=list(FAKES))
def test_faked_or_tampered_reports_do_not_pass(runner: LabRunner, code: str) -> None:
    res = first_step(runner, code, f"hostile-{abs(hash(code))}")
    assert res.runs and res.runs[0]["status"] == "ok", res.runs
    assert not res.passed, res.message
    report = runner.run_segments(LAB, parse_submission(notebook(code), LAB))
    assert not report["steps"][0]["passed"], report["steps"][0]


def test_a_cell_that_kills_its_kernel_fails_its_step_and_the_rest_still_run(runner: LabRunner) -> None:
    report = runner.run_segments(LAB, parse_submission(notebook("import os\nos._exit(0)"), LAB))
    first, *rest = report["steps"]
    assert not first["passed"] and (
        "stopped the kernel" in first["message"] or "Not checked" in first["message"]
    )
    assert len(rest) == len(LAB.steps) - 1 and all(isinstance(s["message"], str) for s in rest)
    ok = first_step(runner, "import pandas as pd\ndf = pd.read_csv('passengers.csv')", "after-kill")
    assert ok.passed, ok.message  # the manager keeps serving, with the data copied in again
