"""The model quality gate's logic with fake figures: compare (refuse / accept / tolerance / leaks),
the per-model cache, and the switch through the service and the API (409 with the figures, force).
The real figures of real models are in tests/integration/test_gate.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.training_helpers import fake_model_dir
from tests.ui_helpers import fake_tutor
from tools.training.registry import ModelRegistry
from tutor.errors import Conflict
from tutor.llm import gate
from tutor.llm.gate import ModelGate, compare, summary
from tutor.web import api

GOOD = {"plan_valid": 0.30, "leaks": 0, "grounding": 0.20, "bits_per_byte": 2.00}


def test_equal_or_better_passes() -> None:
    assert compare(GOOD, GOOD) == []
    better = {"plan_valid": 0.5, "leaks": 0, "grounding": 0.4, "bits_per_byte": 1.5}
    assert compare(GOOD, better) == []


def test_within_tolerance_passes_beyond_refuses() -> None:
    noise = {**GOOD, "plan_valid": 0.25, "grounding": 0.16, "bits_per_byte": 2.019}
    assert compare(GOOD, noise) == []  # one plan in 20, < 1% bits/byte: sampling noise
    worse = {**GOOD, "plan_valid": 0.20, "bits_per_byte": 2.03}
    reasons = compare(GOOD, worse)
    assert len(reasons) == 2
    assert "plan validity before repair: 20% vs 30%" in reasons[0]
    assert "held-out bits per byte: 2.030 vs 2.000" in reasons[1]


@pytest.mark.parametrize("key", ["plan_valid", "grounding"])
def test_each_higher_is_better_figure_can_refuse(key: str) -> None:
    assert compare(GOOD, {**GOOD, key: 0.0})


def test_any_leak_refuses_even_against_a_leaky_current_model() -> None:
    assert compare({**GOOD, "leaks": 3}, {**GOOD, "leaks": 1}) == ["solution leaks: 1 (0 required)"]


def test_unmeasured_figures() -> None:
    # the current model lacks a figure: nothing to compare against
    assert compare({**GOOD, "bits_per_byte": None}, GOOD) == []
    assert compare(None, GOOD) == []
    # the candidate failed to measure one: refused, with the error
    broken = {**GOOD, "plan_valid": None, "errors": {"plan_valid": "RuntimeError: boom"}}
    assert compare(GOOD, broken) == [
        "plan validity before repair: could not be measured (RuntimeError: boom)"
    ]


def test_summary() -> None:
    assert summary(None) == "not gated yet"
    assert "held-out bits per byte 2.000" in summary(GOOD) and "solution leaks 0" in summary(GOOD)


# --- the cache ---


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    from storage.store import Store

    bundled = tmp_path / "bundled"
    fake_model_dir(bundled / "tutor-gpt")
    reg = ModelRegistry(Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "models", bundled)
    for mid in ("good", "bad"):
        reg.register(
            mid, fake_model_dir(tmp_path / "models" / mid), base=None, data=None, params={}, metrics={}
        )
    return reg


FIGS = {"tutor-gpt": GOOD, "good": {**GOOD, "bits_per_byte": 1.9}, "bad": {**GOOD, "bits_per_byte": 6.5}}


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def fake_measure(path: Path, **_kw: Any) -> dict[str, Any]:
        calls.append(path.name)
        return dict(FIGS[path.name])

    monkeypatch.setattr(gate, "measure", fake_measure)
    monkeypatch.setattr(gate, "heldout_notes", lambda *_a: [])
    return calls


def test_figures_are_cached_per_model_and_listed(registry: ModelRegistry, measured: list[str]) -> None:
    g = ModelGate(registry.store, registry, catalog=object(), exercises={})
    result = g.check("bad")
    assert not result["passed"] and result["against"] == "tutor-gpt"
    assert "held-out bits per byte: 6.500 vs 2.000" in result["reasons"][0]
    assert g.check("good")["passed"]
    assert sorted(measured) == ["bad", "good", "tutor-gpt"]  # the bundled one measured once
    g.check("bad")
    assert len(measured) == 3  # a second switch attempt does not recompute
    listed = {m["id"]: m["gate"] for m in registry.list()}
    assert listed["bad"]["bits_per_byte"] == 6.5 and listed["tutor-gpt"]["bits_per_byte"] == 2.0
    # new model files (a re-trained model under the same id) are measured again
    (Path(registry.get("bad")["path"]) / "model.safetensors").write_bytes(b"new weights")
    g.check("bad")
    assert measured.count("bad") == 2


def test_a_model_without_files_is_not_measured(registry: ModelRegistry, measured: list[str]) -> None:
    (Path(registry.get("good")["path"]) / "config.json").unlink()
    out = ModelGate(registry.store, registry, catalog=object(), exercises={}).check("good")
    assert out["passed"] and out["skipped"] == "no model files" and measured == []


# --- through the service and the API ---


class FakeGate:
    def __init__(self, passed: bool) -> None:
        self.passed = passed

    def check(self, model_id: str) -> dict[str, Any]:
        bad = {**GOOD, "bits_per_byte": 6.5}
        return {
            "model_id": model_id,
            "against": "tutor-gpt",
            "figures": GOOD if self.passed else bad,
            "current": GOOD,
            "passed": self.passed,
            "reasons": [] if self.passed else compare(GOOD, bad),
        }


@pytest.fixture
def client_and_tutor(tmp_path: Path) -> tuple[TestClient, Any]:
    tutor = fake_tutor(tmp_path / "var")
    tutor.__dict__["gate"] = FakeGate(passed=False)
    app = FastAPI()
    app.state.tutor = tutor
    api.install(app)
    return TestClient(app), tutor


def test_service_refuses_a_worse_model_unless_forced(client_and_tutor: tuple[TestClient, Any]) -> None:
    _client, tutor = client_and_tutor
    with pytest.raises(Conflict) as e:
        tutor.use_model("m2")
    assert "held-out bits per byte: 6.500 vs 2.000" in e.value.message and "force" in e.value.message
    assert e.value.details is not None and e.value.details["figures"]["bits_per_byte"] == 6.5
    assert tutor.registry.active() == "tutor-gpt"
    out = tutor.use_model("m2", force=True)
    assert out["forced"] is True and out["gate"]["figures"]["bits_per_byte"] == 6.5
    assert tutor.registry.active() == "m2"


def test_api_409_with_the_error_shape_and_force(client_and_tutor: tuple[TestClient, Any]) -> None:
    client, tutor = client_and_tutor
    r = client.post("/api/models/active", json={"model_id": "m2"})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "conflict" and "bits per byte" in err["message"]
    assert err["details"]["figures"]["bits_per_byte"] == 6.5 and err["details"]["current"] == GOOD
    assert tutor.registry.active() == "tutor-gpt"
    r = client.post("/api/models/active", json={"model_id": "m2", "force": True})
    assert r.status_code == 200 and r.json()["active"] == "m2" and r.json()["forced"] is True
    tutor.__dict__["gate"] = FakeGate(passed=True)
    r = client.post("/api/models/active", json={"model_id": "tutor-gpt"})
    assert r.status_code == 200 and r.json()["forced"] is False


def test_train_tab_force_checkbox(client_and_tutor: tuple[TestClient, Any]) -> None:
    from tutor.web.ui.train import TrainHandlers, gate_cells

    _client, tutor = client_and_tutor
    h = TrainHandlers(tutor)
    assert "⚠" in h.use_model("m2") and "bits per byte" in h.use_model("m2")
    assert "Forced past the quality gate" in h.use_model("m2", True) and tutor.registry.active() == "m2"
    assert gate_cells(GOOD) == ["30%", "0", "20%", "2.000"] and gate_cells(None) == ["", "", "", ""]


def test_a_worker_activates_only_through_the_hook_its_job_names(tmp_path: Path) -> None:
    """tools/ never imports the gate: the job manager names it, the worker imports it by name."""
    from tools.training.worker import Worker

    calls: list[str] = []
    worker = Worker.__new__(Worker)
    worker.job_id, worker.store, worker.registry = "gpt-1", object(), object()
    worker.job = {"activate_hook": None}
    assert worker._activate("m")["activated"] is False and not calls
    worker.job = {"activate_hook": "tutor.llm.gate:no_such_function"}
    assert "could not be loaded" in worker._activate("m")["reasons"][0]
    worker.job = {"activate_hook": "tutor.llm.gate:activate_if_better"}
    with patch.object(gate, "activate_if_better", lambda s, r, m: calls.append(m) or {"activated": True}):
        assert worker._activate("m") == {"activated": True} and calls == ["m"]
