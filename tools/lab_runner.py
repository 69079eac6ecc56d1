"""Runs lab steps in sandboxed kernels and judges them out here.

A step is: the learner's cells (run in the learner's kernel, so state carries from step to step),
then the step's *probe*, wrapped by ``probe_cell``, then the lab's trusted check on the facts the
probe reported. Learner code and the probe share one kernel, so the report is guarded:

* every probe run gets a fresh random nonce that no learner cell has seen; only a line
  ``__LAB__:<nonce>:<json>`` in the probe execution's own output counts, so a fake ``__LAB__``
  line printed by a learner cell (an earlier execution) or without the nonce is ignored;
* the probe runs in a snapshot of the learner's namespace without names that shadow builtins
  (a learner's ``print = ...`` or ``len = ...`` does not reach it), and its ``print`` is
  captured: the wrapper emits ONE line from the LAST ``__LAB__`` line the probe printed, with
  the real ``builtins.print``; when that or ``sys.stdout`` was replaced the probe cell FAILS
  instead (an error status, which no rewritten output can turn into a pass);
* more than one nonce line (a hook that read the cell and printed its own) fails the step;
* checks recompute what they can from the lab's own bundled data (outside the sandbox), so a
  fact only passes when it is the right value, not when it says "passed".

Limits (stated plainly): code in the same process can in principle rewrite anything, e.g. an
IPython hook that reads the probe cell and rewrites stdout; faking a report that way needs the
right values, which is the lab's work itself. Exams go through ``tools.grader`` instead.

Steps may declare ``action: train_job``: the probe reports a job spec, and ``job_hook`` (the
tutor's job manager, as the learner, with tiny sizes enforced) starts it; later steps get the
job as ``facts["job"]``.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from curriculum.labs import Lab, Step
from curriculum.labs.notebook import Segment, data_setup_code
from tutor.errors import BadInput

log = logging.getLogger(__name__)

MARKER = "__LAB__"
TAMPERED = "lab probe refused: "
JOB_TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")
# what a lab may ask the job manager for: seconds-long jobs on a 2-core machine
LAB_JOB_LIMITS = {"max_steps": 300, "n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 128,
                  "batch_size": 32}  # fmt: skip
JobHook = Callable[[dict[str, Any]], dict[str, Any]]  # job spec -> job (ValueError when refused)
JobGetter = Callable[[str], dict[str, Any]]


@dataclass
class StepResult:
    """The verdict on one step plus what the learner's cells printed (for the UI)."""

    id: str
    passed: bool
    message: str
    status: str = "ok"  # ok | error (a cell raised) | timeout | killed | no-report | busy
    hint: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)  # RunResult dicts of the learner's cells
    job_id: str | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "passed": self.passed, "message": self.message}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LabContext:
    """State that travels from step to step of one lab run (and is saved with UI progress)."""

    job_id: str | None = None
    need_data: bool = True


def probe_cell(probe: str, nonce: str) -> str:
    """The cell that runs ``probe`` in a snapshot of the learner's namespace and prints one
    ``__LAB__:<nonce>:{"facts": <the probe's last __LAB__ payload>, "error": ...}`` line."""
    return f'''def __lab_probe_run():
    import builtins, json
    _OWN = ("ipykernel.iostream", "IPython.core.interactiveshell")  # OutStream.write, IPython's tee
    ip = get_ipython()
    out = []
    def capture(*args, sep=" ", end="\\n", file=None, flush=False):
        out.append(builtins.str(sep).join(builtins.str(a) for a in args) + builtins.str(end))
    ns = {{k: v for k, v in ip.user_ns.items() if not k.startswith("_") and not hasattr(builtins, k)}}
    ns["__builtins__"] = builtins
    ns["__name__"] = "__main__"
    ns["print"] = capture
    error = None
    try:
        exec(compile({probe!r}, "<lab probe>", "exec"), ns)
    except BaseException as e:
        error = type(e).__name__ + ": " + str(e)[:300]
    lines = [l for l in "".join(out).splitlines() if l.startswith("{MARKER}")]
    report = {{"facts": lines[-1][{len(MARKER)}:] if lines else None, "error": error}}
    import sys
    real_print, out_type = builtins.print, type(sys.stdout)
    # printing through a replaced print or stdout could be rewritten: refuse by failing the cell
    if type(real_print).__name__ != "builtin_function_or_method":
        raise RuntimeError("{TAMPERED}builtins.print was replaced")
    if (out_type.__module__ != "ipykernel.iostream"
            or getattr(out_type.write, "__module__", None) != "ipykernel.iostream"
            or getattr(sys.stdout.write, "__module__", None) not in _OWN):
        raise RuntimeError("{TAMPERED}sys.stdout was replaced")
    real_print("{MARKER}:{nonce}:" + json.dumps(report))
try:
    __lab_probe_run()
finally:
    del __lab_probe_run
'''


def read_report(stdout: str, nonce: str) -> tuple[dict[str, Any] | None, str | None]:
    """(facts, None) from the probe's output, or (None, why not) in words for the learner."""
    prefix = f"{MARKER}:{nonce}:"
    found = [line[line.index(prefix) + len(prefix) :] for line in stdout.splitlines() if prefix in line]
    if not found:
        return (
            None,
            "the check got no report from your kernel (did your code replace `print` or stop the kernel?)",
        )
    if len(found) > 1:
        return None, ("the check's report came more than once: something in your code prints on the "
                      "check's behalf (an IPython hook?); remove it and check again")  # fmt: skip
    try:
        report = json.loads(found[0])
        if report.get("error"):
            return None, f"the check could not look at your work: {report['error']}"
        facts = json.loads(report["facts"]) if report.get("facts") is not None else None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None, "the check's report could not be read; restart the kernel and run the steps again"
    if not isinstance(facts, dict):
        return None, "the check got no facts from your kernel"
    return facts, None


def _describe_run(n: int, run: dict[str, Any]) -> str:
    status = run.get("status")
    where = f"cell {n}" if n else "your code"
    if status == "error":
        err = run.get("error") or {}
        return f"{where} raised {err.get('name', 'an error')}: {str(err.get('message', ''))[:300]}"
    if status == "timeout":
        return f"{where} ran past the time limit"
    if status == "killed":
        return f"{where} stopped the kernel (out of memory, or it exited); its state is gone"
    return f"{where} did not run"


class LabRunner:
    """Runs steps through a ``tools.kernel.KernelManager`` (or anything with its ``execute``)."""

    def __init__(self, kernels: Any, *, job_hook: JobHook | None = None, job_getter: JobGetter | None = None,
                 job_wait_s: float = 0.0) -> None:  # fmt: skip
        self.kernels = kernels
        self.job_hook, self.job_getter, self.job_wait_s = job_hook, job_getter, job_wait_s

    def _timeout(self, step: Step) -> float:
        cap = float(getattr(self.kernels, "max_timeout_s", step.timeout_s))
        return min(step.timeout_s, cap)

    def install_data(self, lab: Lab, session_id: str) -> None:
        """Copy the lab's data files into the kernel's working directory (only missing ones)."""
        r = self.kernels.execute(data_setup_code(lab), session_id=session_id, timeout_s=self._setup_timeout())
        if r.status != "ok":
            raise RuntimeError(
                f"could not copy the lab's data into the kernel: {_describe_run(0, r.to_dict())}"
            )

    def _setup_timeout(self) -> float:
        return min(30.0, float(getattr(self.kernels, "max_timeout_s", 30.0)))

    def run_step(self, lab: Lab, step: Step, cells: Sequence[str], session_id: str,
                 ctx: LabContext | None = None) -> StepResult:  # fmt: skip
        """Run ``cells`` then the probe in the session's kernel, and judge the step."""
        ctx = ctx or LabContext()
        timeout = self._timeout(step)
        if ctx.need_data:
            self.install_data(lab, session_id)
            ctx.need_data = False
        runs: list[dict[str, Any]] = []
        for n, code in enumerate(cells, 1):
            if not code.strip():
                continue
            r = self.kernels.execute(code, session_id=session_id, timeout_s=timeout).to_dict()
            runs.append(r)
            if r["status"] != "ok":
                if r["status"] in ("timeout", "killed"):
                    ctx.need_data = True  # the kernel may have been restarted
                msg = _describe_run(n if len(cells) > 1 else 0, r)
                return StepResult(step.id, False, msg[0].upper() + msg[1:] + ".", status=r["status"],
                                  hint=step.hint, runs=runs)  # fmt: skip
        facts, why = self._probe(step, session_id, timeout, ctx)
        if facts is None:
            return StepResult(
                step.id, False, f"Not checked: {why}.", status="no-report", hint=step.hint, runs=runs
            )
        if ctx.job_id and self.job_getter is not None:
            facts["job"] = self._job_facts(ctx.job_id)
        passed, message = lab.judge(step, facts)
        result = StepResult(step.id, passed, message, hint="" if passed else step.hint, runs=runs)
        if passed and step.action == "train_job":
            self._start_job(step, facts, ctx, result)
        return result

    def _probe(
        self, step: Step, session_id: str, timeout: float, ctx: LabContext
    ) -> tuple[dict[str, Any] | None, str]:
        nonce = secrets.token_hex(16)
        r = self.kernels.execute(probe_cell(step.probe, nonce), session_id=session_id, timeout_s=timeout)
        if r.status != "ok":
            if r.status in ("timeout", "killed"):
                ctx.need_data = True
            message = str((r.error or {}).get("message", ""))
            if TAMPERED in message:
                return None, f"the check refused to run: {message.split(TAMPERED, 1)[1]}; restart the kernel"
            return (
                None,
                f"looking at your work {'timed out' if r.status == 'timeout' else 'failed'} ({r.status})",
            )
        facts, why = read_report(r.stdout, nonce)
        return facts, why or ""

    def _start_job(self, step: Step, facts: dict[str, Any], ctx: LabContext, result: StepResult) -> None:
        if self.job_hook is None:
            result.passed, result.message = (
                False,
                "This step starts a training job, which is not available here.",
            )
            return
        spec = facts.get("job_spec", facts)
        try:
            job = self.job_hook(spec if isinstance(spec, dict) else {})
        except ValueError as e:  # refused: too big, bad data, unknown kind
            result.passed = False
            result.message = f"The tutor refused the job spec: {e}"
            result.hint = step.hint
            return
        ctx.job_id = result.job_id = str(job["job_id"])
        result.message += f" Training job {ctx.job_id} started ({job.get('status', 'queued')})."

    def _job_facts(self, job_id: str) -> dict[str, Any]:
        assert self.job_getter is not None
        deadline = time.monotonic() + self.job_wait_s
        while True:
            try:
                job = self.job_getter(job_id)
            except LookupError:
                return {"job_id": job_id, "status": "missing"}
            if job.get("status") in JOB_TERMINAL or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        metrics = job.get("metrics") or {}
        return {"job_id": job_id, "status": job.get("status"), "progress": job.get("progress"),
                "metrics": metrics, "model_id": job.get("model_id"), "error": job.get("error")}  # fmt: skip

    def run_segments(self, lab: Lab, segments: Sequence[Segment], *, session_id: str | None = None,
                     ctx: LabContext | None = None, on_step: Callable[[StepResult], None] | None = None,
                     probe_missing: bool = True) -> dict[str, Any]:  # fmt: skip
        """Run a whole lab (an uploaded notebook or a reference solution) top to bottom; without
        ``session_id`` in a fresh kernel that is thrown away afterwards. Steps with no cells in the
        notebook are probed at the end. Returns ``{"lab_id", "steps": [{"id", "passed",
        "message"}], "passed"}`` in the lab's step order."""
        own = session_id is None
        sid = session_id or f"lab.{lab.id}.{secrets.token_hex(8)}"
        ctx = ctx or LabContext()
        results: dict[str, StepResult] = {}
        try:
            for seg in segments:
                res = self.run_step(lab, lab.step(seg.step_id), seg.cells, sid, ctx)
                results[seg.step_id] = res
                if on_step:
                    on_step(res)
            for step in lab.steps if probe_missing else ():
                if step.id not in results:
                    res = self.run_step(lab, step, [], sid, ctx)
                    if not res.passed:
                        res.message = f"No cell for this step was found in the notebook. {res.message}"
                    results[step.id] = res
                    if on_step:
                        on_step(res)
        finally:
            if own:
                self.kernels.reset(sid)
        steps = [results[s.id].public() for s in lab.steps if s.id in results]
        return {"lab_id": lab.id, "steps": steps, "passed": all(s["passed"] for s in steps)}


def check_job_spec(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, params) of a lab's job spec, refusing anything that is not tiny (ValueError)."""
    kind, params = spec.get("kind"), spec.get("params")
    if kind not in ("gpt", "sklearn") or not isinstance(params, dict):
        raise BadInput('a lab job spec is {"kind": "gpt" or "sklearn", "params": {...}}')
    for key, cap in LAB_JOB_LIMITS.items():
        value = params.get(key)
        if value is not None and (not isinstance(value, int) or value > cap):
            raise BadInput(f"{key} must be an integer of at most {cap} in a lab job, got {value!r}")
    if kind == "gpt" and params.get("max_steps") is None:
        raise BadInput(f"set max_steps (at most {LAB_JOB_LIMITS['max_steps']}) for a lab job")
    return kind, dict(params)
