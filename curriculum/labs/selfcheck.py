"""``python -m curriculum.labs check [LAB_ID...]``: validate labs and run them for real.

For each lab: ``lab.yaml`` and ``checks.py`` are validated, the reference solution
(``tests/data/lab_solutions/<lab_id>.yaml``, ``steps: {step_id: code}``) runs through a real
sandboxed kernel and must pass every step, and the starter of the first step runs in a fresh
kernel and must FAIL with a message. One kernel per lab for the solution (state carries from step
to step, as for a learner), one more for the starter. Exit status 0 when every lab is fine.

Labs with an ``action: train_job`` step start real (tiny) training jobs through a job manager on
a temporary store. ``TUTOR_UNSAFE_NO_SANDBOX=1`` runs kernels unconfined where bubblewrap is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curriculum.labs import LABS_DIR, Lab, LabError, lab_dirs, load_lab
from curriculum.labs.notebook import Segment

REPO = LABS_DIR.parent.parent
SOLUTIONS_DIR = REPO / "tests" / "data" / "lab_solutions"


@dataclass
class LabCheck:
    lab_id: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    solution: dict[str, Any] | None = None  # the submission report of the reference solution
    starter: dict[str, Any] | None = None  # the first step's verdict on the starter
    seconds: float = 0.0


def load_solution(lab_id: str, root: Path = SOLUTIONS_DIR) -> dict[str, str]:
    path = root / f"{lab_id}.yaml"
    if not path.is_file():
        raise LabError(f"no reference solution {path}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = raw.get("steps") if isinstance(raw, dict) else None
    if not isinstance(steps, dict) or not all(isinstance(v, str) for v in steps.values()):
        raise LabError(f"{path}: must be `steps: {{<step_id>: <code>}}`")
    return {str(k): v for k, v in steps.items()}


def solution_segments(lab: Lab, solution: dict[str, str]) -> list[Segment]:
    extra = set(solution) - {s.id for s in lab.steps}
    if extra:
        raise LabError(f"the solution of {lab.id} names unknown steps {sorted(extra)}")
    return [Segment(s.id, (solution.get(s.id, ""),)) for s in lab.steps]


def check_lab(runner: Any, lab: Lab, solution: dict[str, str]) -> LabCheck:
    """Run the reference solution (every step must pass) and the first starter (must fail)."""
    start = time.monotonic()
    out = LabCheck(lab.id, ok=True)
    report = runner.run_segments(lab, solution_segments(lab, solution))
    out.solution = report
    for s in report["steps"]:
        if not s["passed"]:
            out.problems.append(f"solution fails step {s['id']}: {s['message']}")
    first = lab.steps[0]
    starter = runner.run_segments(lab, [Segment(first.id, (first.starter,))], probe_missing=False)
    verdict = starter["steps"][0]
    out.starter = verdict
    if verdict["passed"]:
        out.problems.append(
            f"the starter of step {first.id} passes its check; it must fail until the TODO is done"
        )
    elif len(verdict["message"].strip()) < 15:
        out.problems.append(f"the starter's failure message is too short to help: {verdict['message']!r}")
    out.ok = not out.problems
    out.seconds = round(time.monotonic() - start, 2)
    return out


def make_runner(work: Path, *, with_jobs: bool) -> tuple[Any, list[Any]]:
    """A LabRunner on real sandboxed kernels (and a job manager on a temporary store when asked);
    returns it with the things to close."""
    from tools.kernel import KernelManager
    from tools.lab_runner import LabRunner, check_job_spec

    unsafe = os.environ.get("TUTOR_UNSAFE_NO_SANDBOX", "").lower() in ("1", "true", "yes")
    kernels = KernelManager(work / "kernels", sandbox=not unsafe, default_timeout_s=30, max_timeout_s=120,
                            pool_size=2)  # fmt: skip
    closers: list[Any] = [kernels]
    hook = getter = None
    if with_jobs:
        from storage.store import Store
        from tools.training.jobs import JobManager

        store = Store(f"sqlite:///{work / 'labs-check.db'}")
        jobs = JobManager(store, work / "runs", work / "models", REPO / "models",
                          notes_dir=REPO / "knowledge" / "notes")  # fmt: skip
        closers[:0] = [jobs, store]

        def hook(spec: dict[str, Any]) -> dict[str, Any]:
            kind, params = check_job_spec(spec)
            return dict(jobs.submit(kind, params, learner_id="labs-check"))

        getter = jobs.get
    return LabRunner(kernels, job_hook=hook, job_getter=getter, job_wait_s=180.0), closers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m curriculum.labs", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="validate labs and run their solutions and starters in real kernels")
    c.add_argument("lab_ids", nargs="*", help="labs to check (default: all)")
    c.add_argument("--validate-only", action="store_true", help="only validate lab.yaml and checks.py")
    c.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)
    from curriculum.catalog import load_catalog

    topics = set(load_catalog().topics)
    folders = [f for f in lab_dirs() if not args.lab_ids or f.name in args.lab_ids]
    missing = set(args.lab_ids) - {f.name for f in folders}
    results: list[LabCheck] = [
        LabCheck(m, ok=False, problems=["no such lab folder"]) for m in sorted(missing)
    ]
    labs: list[tuple[Lab, dict[str, str]]] = []
    for folder in folders:
        try:
            lab = load_lab(folder, topics)
            labs.append((lab, load_solution(lab.id)))
        except LabError as e:
            results.append(LabCheck(folder.name, ok=False, problems=[str(e)]))
    if not args.validate_only and labs:
        with tempfile.TemporaryDirectory(prefix="labs-check-") as tmp:
            with_jobs = any(s.action == "train_job" for lab, _ in labs for s in lab.steps)
            runner, closers = make_runner(Path(tmp), with_jobs=with_jobs)
            try:
                for lab, solution in labs:
                    try:
                        res = check_lab(runner, lab, solution)
                    except Exception as e:  # report and go on with the other labs
                        res = LabCheck(lab.id, ok=False, problems=[f"{type(e).__name__}: {e}"])
                    results.append(res)
                    if not args.json:
                        _print(res)
            finally:
                for obj in closers:
                    obj.close()
    elif not args.json:
        for lab, _ in labs:
            print(f"ok    {lab.id}: valid ({len(lab.steps)} steps)")
    if not args.json:
        for res in results:
            if not res.ok and res.solution is None:
                _print(res)
    ok = all(r.ok for r in results)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=1))
    else:
        print(f"{sum(r.ok for r in results) + (len(labs) if args.validate_only else 0)}/"
              f"{len(results) + (len(labs) if args.validate_only else 0)} labs ok")  # fmt: skip
    return 0 if ok else 1


def _print(res: LabCheck) -> None:
    head = "ok   " if res.ok else "FAIL "
    print(f"{head} {res.lab_id} ({res.seconds:.1f} s)")
    for p in res.problems:
        print(f"      - {p}")
    if res.starter and res.ok:
        print(f"      starter: {res.starter['message'][:160]}")


if __name__ == "__main__":
    sys.exit(main())
