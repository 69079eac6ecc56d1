"""Training jobs for a caller: submit, get, list, cancel, resume, with the ownership rule in one
place.

The rule: a job with no learner is everyone's; a job with a learner belongs to that learner
(``is_owner``). A caller acting as a learner (a learner's API key, a learner's chat) sees, cancels
and resumes only jobs it owns, else ``Forbidden``; a caller with no learner (an admin or teacher
key, the CLI) may act on any job. The facade (``Tutor.job``, ``cancel_job``, ``resume_job``) and
the chat's training node call these; the job manager (``tools.training.jobs.JobManager``) knows
nothing of callers.
"""

from __future__ import annotations

from typing import Any

from tutor.errors import Forbidden


def is_owner(job: dict[str, Any], learner_id: str | None) -> bool:
    """Whether ``learner_id`` owns ``job``: it is ownerless, or it is theirs."""
    return job.get("learner_id") in (None, learner_id)


def get(manager: Any, job_id: str, learner_id: str | None = None) -> dict[str, Any]:
    """The job, when the caller may see it (``learner_id`` None: any job); ``Forbidden`` when it
    belongs to another learner, ``NotFound`` (from the manager) when there is none."""
    job = dict(manager.get(job_id))
    if learner_id is not None and not is_owner(job, learner_id):
        raise Forbidden(f"job {job_id!r} belongs to another learner")
    return job


def submit(manager: Any, kind: str, params: dict[str, Any], learner_id: str | None = None) -> dict[str, Any]:
    """Queue a job for ``learner_id`` (None: ownerless); the manager validates it."""
    return dict(manager.submit(kind, params, learner_id=learner_id))


def list_jobs(manager: Any, learner_id: str | None = None) -> list[dict[str, Any]]:
    """The learner's jobs, newest first; every job for ``learner_id`` None."""
    return list(manager.list(learner_id))


def cancel(manager: Any, job_id: str, learner_id: str | None = None) -> dict[str, Any]:
    if learner_id is not None:  # the manager's own lookup says NotFound otherwise
        get(manager, job_id, learner_id)
    return dict(manager.cancel(job_id))


def resume(manager: Any, job_id: str, learner_id: str | None = None) -> dict[str, Any]:
    if learner_id is not None:  # the manager's own lookup says NotFound otherwise
        get(manager, job_id, learner_id)
    return dict(manager.resume(job_id))
