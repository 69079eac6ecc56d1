"""Job specs: valid requests resolve; bad ones are refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.store import Store
from tests.training_helpers import fake_model_dir, write_corpus, write_notes
from tools.training.registry import ModelRegistry
from tools.training.spec import estimate_train_bytes, validate_job

GiB = 2**30


@pytest.fixture()
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(
        Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), tmp_path / "models", tmp_path / "bundled"
    )


@pytest.fixture()
def notes(tmp_path: Path) -> Path:
    return write_notes(tmp_path / "notes")


def gpt(registry: ModelRegistry, notes: Path, params: dict, **kw) -> dict:
    kw.setdefault("available_bytes", 16 * GiB)
    return validate_job("gpt", params, registry=registry, notes_dir=notes, **kw)


# --- sklearn ---


def test_sklearn_valid_spec_fills_defaults() -> None:
    spec = validate_job(
        "sklearn",
        {"dataset": "digits", "estimator": "random_forest", "params": {"n_estimators": 20}},
        registry=None,
    )
    assert spec["kind"] == "sklearn"
    assert spec["params"] == {
        "dataset": "digits",
        "estimator": "random_forest",
        "params": {"n_estimators": 20},
        "cv": 5,
        "seed": 0,
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dataset": "digit", "estimator": "svm"}, "did you mean 'digits'"),
        ({"dataset": "mnist", "estimator": "svm"}, "bundled datasets: digits"),
        ({"dataset": "iris", "estimator": "xgboost"}, "unknown estimator 'xgboost'"),
        ({"dataset": "diabetes", "estimator": "logistic_regression"}, "classifier only"),
        ({"dataset": "iris", "estimator": "linear_regression"}, "regressor only"),
        ({"dataset": "iris", "estimator": "svm", "params": {"gamma_x": 1}}, "allowed: C, break_ties"),
        ({"dataset": "iris", "estimator": "svm", "params": {"C": -1.0}}, "'C' parameter of SVC must be"),
        ({"dataset": "iris", "estimator": "random_forest", "params": {"n_estimators": 10**6}}, "at most 500"),
        (
            {"dataset": "iris", "estimator": "random_forest", "params": {"n_jobs": -1}},
            "set by the job runner",
        ),
        (
            {"dataset": "iris", "estimator": "mlp", "params": {"hidden_layer_sizes": [4096]}},
            "more than 1024 units",
        ),
        ({"dataset": "iris", "estimator": "svm", "cv": 1}, "cv: Input should be greater than or equal to 2"),
        ({"dataset": "iris", "estimator": "svm", "epochs": 3}, "unknown param 'epochs'"),
        ({"estimator": "svm"}, "dataset: Field required"),
    ],
)
def test_sklearn_bad_input_is_refused(params: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_job("sklearn", params)
    assert message in str(err.value)


def test_unknown_kind_is_refused_with_the_known_kinds() -> None:
    with pytest.raises(ValueError, match=r"unknown job kind 'gtp'; did you mean 'gpt'\? kinds: gpt, sklearn"):
        validate_job("gtp", {})


# --- gpt ---


def test_gpt_scratch_on_a_file(registry: ModelRegistry, notes: Path, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt")
    spec = gpt(
        registry, notes, {"data": str(corpus), "base": "scratch", "tokenizer": "char", "max_steps": 40}
    )
    r = spec["resolved"]
    assert r["data"] == {"kind": "file", "topics": [], "paths": [str(corpus.resolve())]}
    assert r["base"] == "scratch" and r["base_path"] is None and r["tokenizer"] == "char"
    assert r["train"]["n_layer"] == 4 and r["train"]["max_steps"] == 40
    assert r["train"]["eval_interval"] == 10 and r["train"]["warmup_steps"] == 4 and r["train"]["lora_r"] == 0


def test_gpt_notes_topics_and_modules(registry: ModelRegistry, notes: Path) -> None:
    every = gpt(registry, notes, {"data": "notes", "base": "scratch"})["resolved"]["data"]
    assert every["kind"] == "notes" and sorted(every["topics"]) == ["m1.numpy", "m8.attention", "m8.gpt"]
    module = gpt(registry, notes, {"data": ["m8"], "base": "scratch"})["resolved"]["data"]
    assert sorted(module["topics"]) == ["m8.attention", "m8.gpt"]
    one = gpt(registry, notes, {"data": "m1.numpy", "base": "scratch"})["resolved"]["data"]
    assert one["topics"] == ["m1.numpy"] and one["kind"] == "topics"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_steps": -5}, "max_steps: Input should be greater than or equal to 1 (got -5)"),
        ({"batch_size": 0}, "batch_size: Input should be greater than or equal to 1"),
        ({"lr": 0}, "lr: Input should be greater than 0"),
        ({"dropout": 1.5}, "dropout: Input should be less than 1"),
        ({"tokenizer": "wordpiece"}, "tokenizer: Input should be 'bpe' or 'char'"),
        ({"n_layers": 4}, "unknown param 'n_layers'"),
        ({"n_embd": 100, "n_head": 3}, "n_embd (100) must be divisible by n_head (3)"),
        ({"lora": True}, "lora adapts an existing model"),
        ({"data": ["m8.gtp"]}, "no course notes for topic or module 'm8.gtp'; did you mean 'm8.gpt'?"),
        ({"data": []}, "data is an empty list"),
        ({"data": "/nonexistent/shakespeare.txt"}, "data file /nonexistent/shakespeare.txt does not exist"),
        ({"n_layer": 48, "n_embd": 4096, "n_head": 32, "block_size": 2048}, "GiB of memory is free"),
    ],
)
def test_gpt_bad_input_is_refused(registry: ModelRegistry, notes: Path, params: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        gpt(registry, notes, {"base": "scratch", **params})
    assert message in str(err.value)


def test_data_file_checks(registry: ModelRegistry, notes: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="has 0 bytes"):
        gpt(registry, notes, {"data": str(empty), "base": "scratch"})
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 1000)
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        gpt(registry, notes, {"data": str(binary), "base": "scratch"})
    corpus = write_corpus(tmp_path / "corpus.txt")
    with pytest.raises(PermissionError, match="training files must be inside"):
        gpt(registry, notes, {"data": str(corpus), "base": "scratch"}, data_roots=[tmp_path / "uploads"])
    gpt(registry, notes, {"data": str(corpus), "base": "scratch"}, data_roots=[tmp_path])


def test_base_models(registry: ModelRegistry, notes: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown base model: model 'nope' not found.*base='scratch'"):
        gpt(registry, notes, {"base": "nope"})
    # the default base is the active model: the bundled one, whose files are not built here
    with pytest.raises(ValueError, match="base model 'tutor-gpt' has no model files.*tutor model build"):
        gpt(registry, notes, {})
    path = fake_model_dir(tmp_path / "models" / "tiny")
    registry.register("tiny", path, base=None, data="test", params={}, metrics={})
    registry.set_active("tiny")
    spec = gpt(registry, notes, {"data": ["m8"], "lora": True, "max_steps": 5})
    r = spec["resolved"]
    assert r["base"] == "tiny" and r["base_path"] == str(path) and r["tokenizer"] == "base"
    assert (r["train"]["n_layer"], r["train"]["n_embd"], r["train"]["block_size"], r["train"]["lora_r"]) == (
        1,
        16,
        32,
        8,
    )
    with pytest.raises(ValueError, match=r"n_embd=64 differs from base model 'tiny' \(n_embd=16\)"):
        gpt(registry, notes, {"base": "tiny", "n_embd": 64})
    with pytest.raises(ValueError, match="block_size 64 exceeds base model 'tiny'"):
        gpt(registry, notes, {"base": "tiny", "block_size": 64})
    with pytest.raises(ValueError, match="uses a 'char' tokenizer"):
        gpt(registry, notes, {"base": "tiny", "tokenizer": "bpe"})


def test_memory_estimate_grows_with_size_and_lora_saves() -> None:
    small = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, vocab_size=65)
    base = estimate_train_bytes(**small, lora=False)
    assert 300e6 < base < 400e6  # nanoGPT's CPU recipe: a few MB of model plus the process
    gpt2 = dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, batch_size=8, vocab_size=50257)
    full = estimate_train_bytes(**gpt2, lora=False)
    assert 8 * GiB < full < 40 * GiB
    assert estimate_train_bytes(**gpt2, lora=True) < full
