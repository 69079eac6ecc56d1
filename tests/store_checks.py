"""Store behaviours checked on every backend (SQLite in unit tests, a real Postgres in
integration tests), so both run the very same assertions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from storage.store import Store


def attempts_are_per_learner(s: Store) -> None:
    s.add_attempt("ada", "pca", "m5.dimensionality-reduction", False, 0.25, {"tests": 4})
    s.add_attempt("ada", "pca", "m5.dimensionality-reduction", True, 1.0)
    s.add_attempt("bob", "kmeans", "m5.clustering", True, 1.0)
    ada = s.attempts("ada")
    assert [a["passed"] for a in ada] == [False, True] and ada[0]["score"] == 0.25
    assert [a["exercise_id"] for a in s.attempts("bob")] == ["kmeans"]
    assert set(s.list_learners()) >= {"ada", "bob"}


def mastery_upserts(s: Store) -> None:
    s.set_mastery("ada", "m1.numpy", 0.3)
    s.set_mastery("ada", "m1.numpy", 0.7)
    s.set_mastery("ada", "m1.pandas", 0.1)
    assert s.get_mastery("ada") == {"m1.numpy": 0.7, "m1.pandas": 0.1}
    assert s.get_mastery("bob") == {}
    with pytest.raises(ValueError):
        s.set_mastery("ada", "m1.numpy", -0.1)


def plans_keep_the_latest(s: Store) -> None:
    assert s.get_plan("ada") is None
    s.save_plan("ada", {"items": [{"topic_id": "m1.numpy", "activity": "study", "minutes": 30}]})
    s.save_plan("ada", {"items": [{"topic_id": "m1.pandas", "activity": "study", "minutes": 45}]})
    plan = s.get_plan("ada")
    assert plan is not None and plan["items"][0]["topic_id"] == "m1.pandas"


def jobs_round_trip(s: Store) -> None:
    job = s.create_job("job-1", "gpt", {"max_steps": 10}, learner_id="ada")
    assert job["status"] == "queued" and job["progress"] == 0.0 and job["metrics"] == {"history": []}
    s.update_job("job-1", status="running", progress=0.5, metrics={"history": [{"step": 5, "loss": 2.0}]})
    s.create_job("job-2", "sklearn", {"dataset": "iris"})
    got = s.get_job("job-1")
    assert got is not None and got["status"] == "running" and got["metrics"]["history"][0]["loss"] == 2.0
    assert {j["job_id"] for j in s.list_jobs()} == {"job-1", "job-2"}
    assert [j["job_id"] for j in s.list_jobs("ada")] == ["job-1"]
    assert s.get_job("nope") is None
    with pytest.raises(ValueError, match="unknown job fields"):
        s.update_job("job-1", colour="red")


def models_and_kv(s: Store) -> None:
    s.register_model(
        "m-1", "/models/m-1", base="tutor-gpt", data="notes", params={"lr": 1e-3}, metrics={"val_loss": 2}
    )
    s.register_model("m-1", "/models/m-1b", base="tutor-gpt")
    assert [m["id"] for m in s.list_models()] == ["m-1"]
    model = s.get_model("m-1")
    assert model is not None and model["path"] == "/models/m-1b"
    assert s.get_kv("active_model", "tutor-gpt") == "tutor-gpt"
    s.set_kv("active_model", "m-1")
    assert s.get_kv("active_model") == "m-1"


def threads_belong_to_one_learner(s: Store) -> None:
    s.add_thread("t-1", "ada", "numpy questions")
    s.add_thread("t-1", "bob")  # a second add never changes the owner
    s.add_thread("t-2", "bob")
    assert s.thread_owner("t-1") == "ada" and s.thread_owner("t-x") is None
    assert [t["thread_id"] for t in s.list_threads("ada")] == ["t-1"]


def guests_are_renamed_with_their_progress(store: Store) -> None:
    """A guest who picks a name keeps attempts, mastery and threads; an existing name is refused."""
    store.ensure_learner("guest-1a2b3c")
    store.set_mastery("guest-1a2b3c", "m1.numpy", 0.7)
    store.add_thread("t-guest", "guest-1a2b3c", "numpy")
    store.ensure_learner("bob")
    with pytest.raises(ValueError, match="already exists"):
        store.rename_learner("guest-1a2b3c", "bob")
    store.rename_learner("guest-1a2b3c", "ada-renamed")
    assert store.get_mastery("ada-renamed") == {"m1.numpy": 0.7}
    assert store.thread_owner("t-guest") == "ada-renamed"
    assert "guest-1a2b3c" not in store.list_learners()


STORE_CHECKS: list[Callable[[Store], None]] = [
    attempts_are_per_learner,
    mastery_upserts,
    plans_keep_the_latest,
    jobs_round_trip,
    models_and_kv,
    threads_belong_to_one_learner,
    guests_are_renamed_with_their_progress,
]
