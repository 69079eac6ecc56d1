"""The jobs use case (tutor/usecases/jobs.py): the one place of the ownership rule the facade, the
HTTP API, MCP and the chat's training node share: a learner sees, cancels and resumes only its own
and ownerless jobs (Forbidden otherwise, the same error the API always gave); a caller with no
learner (admin or teacher key, CLI) acts on any job; errors of the manager pass unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.agent_helpers import FakeJobs
from tutor.errors import Forbidden, NotFound
from tutor.usecases import jobs


class ResumableJobs(FakeJobs):
    def resume(self, job_id: str) -> dict[str, Any]:
        self.jobs[job_id].update(status="queued", error=None)
        return dict(self.jobs[job_id])


@pytest.fixture
def manager() -> ResumableJobs:
    m = ResumableJobs()
    for learner in ("ann", "bob", None):
        m.submit("gpt", {}, learner_id=learner)
    return m


def ids(manager: FakeJobs) -> dict[str | None, str]:
    return {j["learner_id"]: j["job_id"] for j in manager.jobs.values()}


@pytest.mark.parametrize(
    "owner,caller,allowed",
    [
        ("ann", "ann", True),
        ("ann", "bob", False),
        (None, "bob", True),  # an ownerless job is everyone's
        (None, None, True),
        ("ann", None, False),  # is_owner itself: a caller with no learner owns only ownerless jobs
    ],
)
def test_is_owner(owner: str | None, caller: str | None, allowed: bool) -> None:
    assert jobs.is_owner({"learner_id": owner}, caller) is allowed


def test_a_learner_gets_its_own_and_ownerless_jobs_only(manager: ResumableJobs) -> None:
    job = ids(manager)
    assert jobs.get(manager, job["ann"], "ann")["learner_id"] == "ann"
    assert jobs.get(manager, job[None], "ann")["learner_id"] is None
    with pytest.raises(Forbidden, match="belongs to another learner"):
        jobs.get(manager, job["bob"], "ann")


def test_no_learner_means_any_job(manager: ResumableJobs) -> None:
    job = ids(manager)
    assert jobs.get(manager, job["bob"])["learner_id"] == "bob"
    assert jobs.cancel(manager, job["bob"])["status"] == "cancelled"
    assert len(jobs.list_jobs(manager)) == 3
    assert [j["learner_id"] for j in jobs.list_jobs(manager, "ann")] == ["ann"]


def test_cancel_and_resume_check_the_owner_before_acting(manager: ResumableJobs) -> None:
    job = ids(manager)
    with pytest.raises(Forbidden):
        jobs.cancel(manager, job["bob"], "ann")
    with pytest.raises(Forbidden):
        jobs.resume(manager, job["bob"], "ann")
    assert manager.jobs[job["bob"]]["status"] == "queued"  # untouched
    assert jobs.cancel(manager, job["ann"], "ann")["status"] == "cancelled"
    assert jobs.resume(manager, job["ann"], "ann")["status"] == "queued"


def test_submit_records_the_learner_and_unknown_jobs_stay_not_found(manager: ResumableJobs) -> None:
    job = jobs.submit(manager, "sklearn", {"dataset": "iris"}, "cy")
    assert job["learner_id"] == "cy" and job["kind"] == "sklearn"
    with pytest.raises(NotFound):
        jobs.get(manager, "gpt-missing", "cy")
