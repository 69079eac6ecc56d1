"""ModelRegistry: the bundled model is always listed; registration; switching the active model."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.store import Store
from tests.training_helpers import fake_model_dir
from tools.training.registry import BUNDLED_ID, ModelFilesMissing, ModelRegistry


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_bundled_model_listed_even_before_it_is_built(store: Store, tmp_path: Path) -> None:
    reg = ModelRegistry(store, tmp_path / "models", tmp_path / "bundled")
    [bundled] = reg.list()
    assert bundled["id"] == BUNDLED_ID and bundled["bundled"] is True
    assert bundled["available"] is False and bundled["active"] is True
    assert reg.active() == BUNDLED_ID and reg.active_model()["id"] == BUNDLED_ID
    with pytest.raises(ModelFilesMissing, match="tutor model build"):
        reg.set_active(BUNDLED_ID)


def test_bundled_model_shape_read_from_its_config(store: Store, tmp_path: Path) -> None:
    fake_model_dir(tmp_path / "bundled" / BUNDLED_ID, n_layer=2, n_embd=32)
    reg = ModelRegistry(store, tmp_path / "models", tmp_path / "bundled")
    bundled = reg.get(BUNDLED_ID)
    assert bundled["available"] is True and bundled["created"] is not None
    assert bundled["params"]["n_layer"] == 2 and bundled["params"]["n_embd"] == 32


def test_register_list_and_switch(store: Store, tmp_path: Path) -> None:
    reg = ModelRegistry(store, tmp_path / "models", tmp_path / "bundled")
    path = fake_model_dir(reg.model_dir_for("gpt-abc"))
    model = reg.register(
        "gpt-abc",
        path,
        base="tutor-gpt",
        data={"kind": "topics", "topics": ["m8.gpt"]},
        params={"max_steps": 10},
        metrics={"val_loss": 3.2},
    )
    assert model["available"] is True and model["active"] is False
    assert [m["id"] for m in reg.list()] == [BUNDLED_ID, "gpt-abc"]
    reg.set_active("gpt-abc")
    # another registry on the same store (another process) sees the switch at once
    other = ModelRegistry(Store(store.url), tmp_path / "models", tmp_path / "bundled")
    assert other.active() == "gpt-abc"
    active = other.active_model()
    assert active["path"] == str(path) and active["metrics"] == {"val_loss": 3.2}
    assert [m["active"] for m in other.list()] == [False, True]


def test_unknown_and_reserved_ids(store: Store, tmp_path: Path) -> None:
    reg = ModelRegistry(store, tmp_path / "models", tmp_path / "bundled")
    path = fake_model_dir(tmp_path / "m")
    reg.register("gpt-abc", path, base=None, data=None, params={}, metrics={})
    with pytest.raises(LookupError, match="did you mean 'gpt-abc'"):
        reg.set_active("gpt-abd")
    with pytest.raises(ValueError, match="reserved"):
        reg.register(BUNDLED_ID, path, base=None, data=None, params={}, metrics={})
    with pytest.raises(ModelFilesMissing, match="no config.json"):
        reg.register("empty", tmp_path, base=None, data=None, params={}, metrics={})


def test_active_falls_back_when_the_chosen_model_is_gone(store: Store, tmp_path: Path) -> None:
    reg = ModelRegistry(store, tmp_path / "models", tmp_path / "bundled")
    store.set_kv("active_model", "deleted-model")
    assert reg.active() == BUNDLED_ID
    assert [m["active"] for m in reg.list()] == [True]
