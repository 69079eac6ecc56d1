"""tutor/llm/recipe.py: the tiny recipe end to end in a temporary dir (seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutor.errors import BadInput
from tutor.llm.recipe import MANIFEST, MODEL_FILES, build


@pytest.mark.slow
def test_tiny_recipe_builds_a_loadable_documented_model(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stages: list[str] = []
    m = build(tmp_path / "m", tiny=True, seed=3, on_progress=lambda p: stages.append(p["stage"]))
    out = tmp_path / "m"
    for name in [*MODEL_FILES, "MODEL_CARD.md", "metrics.json", MANIFEST]:
        assert (out / name).exists(), name
    assert not (out / ".build").exists()
    assert {"corpus", "tokenizer", "pretrain", "data", "finetune", "evaluate"} <= set(stages)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["data"]["notes_heldout"] and saved["data"]["finetune_examples"]["plan"] > 0
    ev = saved["eval"]
    assert ev["plans"]["strict"]["valid_after_repair_rate"] == 1.0
    assert ev["plans"]["ids"]["valid_after_repair_rate"] == 1.0
    held = ev["heldout"]
    assert 0 < held["bits_per_byte"] and 0 < held["xz_bits_per_byte"] < 8 and held["bytes"] > 1000
    assert ev["explanations"]["supported_share"] >= 0.95  # the check + fallback, even for an untrained model
    assert ev["latency"]["tokens"] == 150 and ev["heldout"]["perplexity"] > 1
    card = (out / "MODEL_CARD.md").read_text()
    assert "raw validity" in card and saved["data"]["notes_sha256"] in card and "bits per byte" in card
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.convert_tokens_to_ids("m1.numpy") != tok.unk_token_id and tok.chat_template
    AutoModelForCausalLM.from_pretrained(str(out))
    assert m["wall_s"] < 120


@pytest.mark.slow
def test_tiny_recipe_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = build(tmp_path / "a", tiny=True, seed=1, evaluate=False, keep_pretrain=tmp_path / "pre")
    b = build(tmp_path / "b", tiny=True, seed=1, evaluate=False)
    # a kept pre-training run, reused: the same weights as the full run, and its times counted
    c = build(tmp_path / "c", tiny=True, seed=1, evaluate=False, pretrained=tmp_path / "pre")
    for other in ("b", "c"):
        for name in ("model.safetensors", "tokenizer.json"):
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / other / name).read_bytes()
    assert a["finetune"]["val_loss"] == b["finetune"]["val_loss"] == c["finetune"]["val_loss"]
    assert (
        c["pretrain"]["reused_from_an_identical_run"] and c["stage_s"]["pretrain"] == a["stage_s"]["pretrain"]
    )
    assert c["wall_s"] > c["run_s"]
    with pytest.raises(BadInput, match="other inputs"):  # another seed: not the same pre-training
        build(tmp_path / "d", tiny=True, seed=2, evaluate=False, pretrained=tmp_path / "pre")


def test_a_missing_notes_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="course notes"):
        build(tmp_path / "m", tiny=True, notes_dir=tmp_path / "empty")
