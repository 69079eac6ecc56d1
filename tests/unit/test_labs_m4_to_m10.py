"""The labs of modules 4-10 without kernels: they load, their reference solutions name their steps,
their checks survive any JSON and give the right verdicts on known facts, and their bundled data is
what their checks assume. (Running the solutions in real kernels: tests/integration/test_labs_solutions.py.)"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from curriculum.catalog import load_catalog
from curriculum.labs import LABS_DIR, Lab, load_lab

REPO = Path(__file__).resolve().parents[2]
LAB_IDS = [
    "supervised-models",
    "clusters-and-pca",
    "tuning-and-ensembles",
    "pytorch-digits",
    "finetune-tiny-gpt",
    "rag-over-notes",
    "capstone-starter",
]
JUNK: list[Any] = [None, "x", "", [], {}, 0, -1, 1e300, True, [None], {"a": None}, [1, "a"], 3.5]


@pytest.fixture(scope="module")
def labs() -> dict[str, Lab]:
    topics = set(load_catalog().topics)
    return {lab_id: load_lab(LABS_DIR / lab_id, topics) for lab_id in LAB_IDS}


def _check(lab: Lab, step_id: str, facts: dict[str, Any]) -> tuple[bool, str]:
    return lab.judge(lab.step(step_id), facts)


def test_labs_load_and_solutions_cover_their_steps(labs: dict[str, Lab]) -> None:
    modules = {lab.module for lab in labs.values()}
    assert modules == {"m4", "m5", "m6", "m7", "m8", "m9", "m10"}
    for lab in labs.values():
        assert 4 <= len(lab.steps) <= 8
        solution = yaml.safe_load((REPO / "tests" / "data" / "lab_solutions" / f"{lab.id}.yaml").read_text())
        assert set(solution["steps"]) == {s.id for s in lab.steps}, lab.id
        for step in lab.steps:  # the probe reports through the engine's marker and never needs a private name
            assert "__LAB__" in step.probe and "json.dumps(facts)" in step.probe
    assert [s.id for s in labs["finetune-tiny-gpt"].steps if s.action == "train_job"] == ["spec"]


def test_checks_survive_any_json(labs: dict[str, Lab]) -> None:
    rng = random.Random(0)
    for lab in labs.values():
        for step in lab.steps:
            cases: list[Any] = [{}, {"error": "ValueError: x"}, [], "x", None]
            cases += [{k: rng.choice(JUNK) for k in ("job", "facts", "n", "scores", "report", "asks")}]
            check = getattr(lab.checks, f"check_{step.check}")  # called directly: judge() would hide a raise
            for case in cases:
                passed, message = check(case)
                assert passed is False and isinstance(message, str) and len(message) > 15, (
                    lab.id,
                    step.id,
                    case,
                )


def test_finetune_token_count_matches_the_bundled_tokenizer() -> None:
    from tokenizers import Tokenizer

    data = LABS_DIR / "finetune-tiny-gpt" / "data"
    tok = Tokenizer.from_file(str(data / "tokenizer.json"))
    texts = [
        (data / n).read_text(encoding="utf-8").split("---", 2)[2]
        for n in ("m6.hyperparameter-tuning.md", "m7.activations.md")
    ]
    n_tokens = sum(len(tok.encode(t).ids) for t in texts)
    checks = load_lab(LABS_DIR / "finetune-tiny-gpt").checks
    assert n_tokens == checks.N_TOKENS
    assert checks.N_PARAMS == 4_350_208  # tutor-gpt's MODEL_CARD
    config = json.loads((REPO / "models" / "tutor-gpt" / "config.json").read_text())
    shape = (config["vocab_size"], config["n_positions"], config["n_layer"], config["n_embd"])
    assert (checks.V, checks.P, checks.L, checks.D) == shape
    assert checks.LORA_TRAINABLE == 32_768
    assert (data / "tokenizer.json").read_bytes() == (
        REPO / "models" / "tutor-gpt" / "tokenizer.json"
    ).read_bytes()


SPEC: dict[str, Any] = {
    "kind": "gpt",
    "params": {
        "base": "tutor-gpt",
        "data": ["m6.hyperparameter-tuning", "m7.activations"],
        "max_steps": 30,
        "batch_size": 8,
        "block_size": 64,
        "lr": 5e-4,
        "eval_interval": 6,
        "eval_iters": 5,
        "seed": 0,
    },
}


def _spec(**changes: Any) -> dict[str, Any]:
    return {"kind": "gpt", "params": {**SPEC["params"], **changes}}


def test_finetune_spec_check_refuses_what_a_fine_tune_should_not_do(labs: dict[str, Lab]) -> None:
    lab = labs["finetune-tiny-gpt"]
    epochs = 30 * 8 * 64 / (0.9 * 5202)
    assert _check(lab, "spec", {"job_spec": SPEC, "epochs": epochs})[0]
    for spec, words in [
        (_spec(lr=0.002), "too large"),
        (_spec(base="scratch"), "random weights"),
        (_spec(n_layer=2), "Leave out"),
        (_spec(max_steps=2000), "max_steps"),
        (_spec(max_steps=41), "max_steps"),
        (_spec(batch_size=16), "batch_size"),
        (_spec(block_size=128), "block_size"),
        (_spec(eval_interval=25), "validation points"),
        (_spec(eval_interval=1), "validating"),
        (_spec(data="notes"), "held-out"),
    ]:
        passed, message = _check(lab, "spec", {"job_spec": spec, "epochs": epochs})
        assert not passed and words in message, message
    passed, message = _check(lab, "spec", {"job_spec": SPEC, "epochs": 3.0})
    assert not passed and "3.28" in message
    # within every cap, but too many passes over 5,202 tokens (40 x 8 x 64 = 4.38 epochs) or too few
    for steps, batch in [(40, 8), (16, 8)]:
        spec, e = _spec(max_steps=steps, batch_size=batch, eval_interval=4), steps * batch * 64 / (0.9 * 5202)
        passed, message = _check(lab, "spec", {"job_spec": spec, "epochs": e})
        assert not passed and "passes over the data" in message, message


def _job(status: str, vals: list[float] | None = None, **extra: Any) -> dict[str, Any]:
    history = [{"step": 10 * (i + 1), "loss": 5.0 - 0.2 * i, "val_loss": v} for i, v in enumerate(vals or [])]
    return {"job_id": "gpt-1", "status": status, "progress": 0.4, "metrics": {"history": history},
            "model_id": "gpt-1" if status == "succeeded" else None, **extra}  # fmt: skip


def test_finetune_interpret_reads_the_real_job(labs: dict[str, Lab]) -> None:
    lab = labs["finetune-tiny-gpt"]
    answer = {"val_improved": True, "next_move": "b"}
    assert "still running" in _check(lab, "interpret", {**answer, "job": _job("running")})[1]
    passed, message = _check(lab, "interpret", {**answer, "job": _job("failed", error="out of memory")})
    assert not passed and "out of memory" in message
    assert "No training job" in _check(lab, "interpret", answer)[1]
    improved = _job("succeeded", [4.6, 4.5, 4.4, 4.5])
    passed, message = _check(lab, "interpret", {**answer, "job": improved})
    assert passed and "best 4.40 at step 30" in message and "early stopping" in message
    assert not _check(lab, "interpret", {**answer, "val_improved": False, "job": improved})[0]
    assert not _check(lab, "interpret", {**answer, "next_move": "a", "job": improved})[0]
    flat = _job("succeeded", [4.6, 4.61, 4.62, 4.63])
    assert _check(lab, "interpret", {"val_improved": False, "next_move": "b", "job": flat})[0]


def test_finetune_reference_read_curve_matches_the_steps_definition(labs: dict[str, Lab]) -> None:
    checks = labs["finetune-tiny-gpt"].checks
    out = checks.reference_read_curve(checks.CURVES["sparse"])
    assert out == {"first_val": 5.6, "best_val": 5.2, "best_step": 4, "last_val": 5.2, "overfitting": False}
    assert checks.reference_read_curve(checks.CURVES["u_shape"])["overfitting"] is True
    assert checks.reference_read_curve([])["best_val"] is None
    # the probe in lab.yaml must try the very curves the check expects answers for
    probe = labs["finetune-tiny-gpt"].step("read-curve").probe
    for name in checks.CURVES:
        assert f'"{name}"' in probe


def test_capstone_checks_fail_while_holdout_rows_are_loaded(labs: dict[str, Lab]) -> None:
    lab = labs["capstone-starter"]
    for step in ("frame", "split", "baseline", "improve"):
        passed, message = _check(lab, step, {"holdout_seen": ["holdout"]})
        assert not passed and "Holdout rows" in message
    frame: dict[str, Any] = {"holdout_seen": [], "df_shape": [2000, 10], "churn_rate": 0.2845,
             "problem": {"target": "churned", "task": "classification", "metric": "roc_auc"}}  # fmt: skip
    assert _check(lab, "frame", frame)[0]
    passed, message = _check(lab, "frame", {**frame, "problem": {**frame["problem"], "metric": "accuracy"}})
    assert not passed and "Accuracy" in message


def test_capstone_data_is_what_make_data_writes(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "capstone_make_data", LABS_DIR / "capstone-starter" / "make_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ("customers.csv", "holdout.csv"):
        assert (tmp_path / name).read_bytes() == (LABS_DIR / "capstone-starter" / "data" / name).read_bytes()


def test_rag_chunk_check_wants_overlapping_windows(labs: dict[str, Lab]) -> None:
    lab = labs["rag-over-notes"]
    good = {"has_fn": True, "n": 5, "lens": [30, 30, 30, 30, 20], "first": ["w0"], "last_word": "w99",
            "overlaps": [10, 10, 10, 10], "covered": 100, "single_spaces": True,
            "short": ["just five words right here"], "empty": [], "n_chunks": 53, "well_formed": 53,
            "unique_ids": 53, "max_words": 120, "empty_chunks": 0,
            "sources": ["m4.evaluation.md", "m5.clustering.md", "m7.activations.md", "m8.rag.md"]}  # fmt: skip
    assert _check(lab, "chunk", good)[0]
    passed, message = _check(lab, "chunk", {**good, "n": 4, "overlaps": [0, 0, 0], "lens": [30, 30, 30, 10]})
    assert not passed and "share" in message
    assert not _check(lab, "chunk", {**good, "empty": [""]})[0]


def test_cluster_plot_needs_variance_shares_in_axis_labels(labs: dict[str, Lab]) -> None:
    lab = labs["clusters-and-pca"]
    plot = {"has_fig": True, "n_axes": 1, "points": 178, "colour_groups": 3, "title": "Wines",
            "xlabel": "PC1 (36% of variance)", "ylabel": "PC2 (19%)", "has_legend": True}  # fmt: skip
    assert _check(lab, "plot", plot)[0]
    passed, message = _check(lab, "plot", {**plot, "xlabel": "PC1", "ylabel": "PC2"})
    assert not passed and "share" in message
    assert not _check(lab, "plot", {**plot, "colour_groups": 1})[0]
