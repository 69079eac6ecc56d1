"""tools/training/gpt.py: config checks, schedule, batches, the loop, stop/resume, the model dir."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tools.training.data import Windows
from tools.training.gpt import CHECKPOINT_DIR, GPTTrainConfig, _ThreadTuner, lr_at, train_gpt

PATTERN = np.tile(np.arange(16, dtype=np.uint16), 400)  # perfectly predictable after one period


def tiny(**kw: Any) -> GPTTrainConfig:
    base = dict(
        n_layer=1,
        n_head=2,
        n_embd=32,
        block_size=32,
        batch_size=4,
        max_steps=40,
        lr=3e-3,
        warmup_steps=2,
        eval_interval=20,
        eval_iters=2,
        log_interval=5,
        vocab_size=16,
        num_threads=1,
    )
    return GPTTrainConfig(**{**base, **kw})


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("n_layer", 0, "n_layer"),
        ("n_embd", 33, "divisible"),
        ("max_steps", -1, "max_steps"),
        ("dropout", 1.0, "dropout"),
        ("lr", 0.0, "lr"),
        ("block_size", 1, "block_size"),
        ("precision", "fp16", "precision"),
    ],
)
def test_config_refuses_absurd_values(field: str, value: Any, match: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=match):
        train_gpt(tiny(**{field: value}), PATTERN, PATTERN, tmp_path)


def test_schedule_warms_up_peaks_and_decays_to_min() -> None:
    cfg = GPTTrainConfig(lr=1e-3, warmup_steps=10, max_steps=100)
    assert lr_at(0, cfg) < lr_at(9, cfg) <= 1e-3
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(55, cfg) == pytest.approx((1e-3 + 1e-4) / 2)
    assert lr_at(100, cfg) == pytest.approx(1e-4) and lr_at(500, cfg) == pytest.approx(1e-4)


def test_batches_shift_targets_and_mask_them() -> None:
    ids = np.arange(20)
    mask = (np.arange(20) >= 10).astype(np.uint8)
    b = Windows(ids, 4, mask, np.array([0, 8]))
    x, y = b.get(8, torch.Generator().manual_seed(0))
    assert set(x[:, 0].tolist()) <= {0, 8}
    for row_x, row_y in zip(x.tolist(), y.tolist(), strict=True):
        for xi, yi in zip(row_x, row_y, strict=True):
            assert yi == (xi + 1 if xi + 1 >= 10 else -100)


def test_training_learns_a_pattern_and_saves_a_normal_model_dir(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    seen: list[dict[str, Any]] = []
    m = train_gpt(tiny(max_steps=60), PATTERN[:5000], PATTERN[5000:], tmp_path, on_progress=seen.append)
    assert m["val_loss"] < 0.5 * math.log(16), m["history"]
    assert not m["stopped"] and m["steps"] == 60 and m["tokens_per_s"] > 0
    assert (
        seen[-1]["progress"] == 1.0 and {"step", "loss", "val_loss", "lr", "tokens_per_s"} <= seen[-1].keys()
    )
    assert (tmp_path / "model.safetensors").exists() and not (tmp_path / CHECKPOINT_DIR).exists()
    model = AutoModelForCausalLM.from_pretrained(str(tmp_path))
    assert model.config.model_type == "gpt2" and model.config.n_positions == 32


def test_stop_then_resume_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    cfg = tiny(max_steps=30, checkpoint_interval=10, dropout=0.1)
    full = train_gpt(cfg, PATTERN[:5000], PATTERN[5000:], tmp_path / "full")
    steps = iter(range(10**6))
    stopped = train_gpt(
        cfg, PATTERN[:5000], PATTERN[5000:], tmp_path / "cut", should_stop=lambda: next(steps) >= 17
    )
    assert stopped["stopped"] and stopped["steps"] == 17
    assert (tmp_path / "cut" / CHECKPOINT_DIR / "state.json").exists()
    resumed = train_gpt(cfg, PATTERN[:5000], PATTERN[5000:], tmp_path / "cut", resume=True)
    assert resumed["steps"] == 30 and resumed["val_loss"] == full["val_loss"]
    a, b = (
        load_file(tmp_path / "full" / "model.safetensors"),
        load_file(tmp_path / "cut" / "model.safetensors"),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_changed_settings(tmp_path: Path) -> None:
    train_gpt(tiny(max_steps=10), PATTERN, PATTERN, tmp_path, should_stop=lambda: True)
    with pytest.raises(ValueError, match="differ"):
        train_gpt(tiny(max_steps=10, lr=1e-2), PATTERN, PATTERN, tmp_path, resume=True)


def test_resume_from_a_checkpoint_older_than_a_setting(tmp_path: Path) -> None:
    """A checkpoint written before ``precision`` existed resumes when the run keeps its default,
    and is refused when the run asks for something else."""
    train_gpt(tiny(max_steps=10), PATTERN, PATTERN, tmp_path, should_stop=lambda: True)
    state_path = tmp_path / CHECKPOINT_DIR / "state.json"
    state = json.loads(state_path.read_text())
    del state["config"]["precision"]
    state_path.write_text(json.dumps(state))
    with pytest.raises(ValueError, match="precision"):
        train_gpt(tiny(max_steps=10, precision="bf16"), PATTERN, PATTERN, tmp_path, resume=True)
    assert train_gpt(tiny(max_steps=10), PATTERN, PATTERN, tmp_path, resume=True)["steps"] == 10


def test_bf16_autocast_trains_and_is_deterministic(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    runs = []
    for name, precision in (("a", "bf16"), ("b", "bf16"), ("fp32", "fp32")):
        m = train_gpt(
            tiny(max_steps=6, eval_interval=3, precision=precision), PATTERN, PATTERN, tmp_path / name
        )
        assert (
            math.isfinite(m["loss"])
            and math.isfinite(m["val_loss"])
            and m["config"]["precision"] == precision
        )
        runs.append(load_file(tmp_path / name / "model.safetensors"))
    a, b, full = runs
    assert all(torch.equal(a[k], b[k]) for k in a)  # same seed, same weights
    assert not all(torch.equal(a[k], full[k]) for k in a)  # and autocast really ran: fp32 differs


def test_fine_tune_from_a_model_dir_and_lora_merge(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    train_gpt(tiny(max_steps=5), PATTERN, PATTERN, tmp_path / "base")
    m = train_gpt(
        tiny(max_steps=5, lora_r=2), PATTERN, PATTERN, tmp_path / "ft", init_model_dir=tmp_path / "base"
    )
    assert m["steps"] == 5
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "ft"))
    assert not any("lora" in n for n, _ in merged.named_parameters())
    with pytest.raises(ValueError, match="positions"):
        train_gpt(tiny(block_size=64), PATTERN, PATTERN, tmp_path / "x", init_model_dir=tmp_path / "base")


def test_ids_beyond_the_vocabulary_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vocabulary"):
        train_gpt(tiny(vocab_size=8), PATTERN, PATTERN, tmp_path)


def test_thread_tuner_keeps_the_faster_count() -> None:
    before = torch.get_num_threads()
    try:
        tuner = _ThreadTuner(4, every=100, warm=0, trial=2, load=lambda: None)
        cost = {1: 0.5, 2: 0.1, 4: 3.0}
        for step in range(12):
            tuner.before(step)
            tuner.after(cost[torch.get_num_threads()])
        assert torch.get_num_threads() == 2
        assert len(tuner.times[4]) == 1  # a candidate twice as slow is dropped after one step
    finally:
        torch.set_num_threads(before)


def test_thread_tuner_logs_a_change_of_count_and_not_a_kept_one(caplog: pytest.LogCaptureFixture) -> None:
    before = torch.get_num_threads()
    try:
        tuner = _ThreadTuner(2, every=4, warm=0, trial=1, max_every=4, load=lambda: None)
        cost = {1: 0.1, 2: 0.5}
        with caplog.at_level(logging.INFO, logger="tools.training.gpt"):
            for step in range(12):
                tuner.before(step)
                tuner.after(cost[torch.get_num_threads()])
        changes = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
        assert changes == ["step 1: 1 torch threads (fastest step in ms by count: {1: 100, 2: 500})"]
    finally:
        torch.set_num_threads(before)


def test_thread_tuner_keeps_all_cores_unless_fewer_are_clearly_faster() -> None:
    before = torch.get_num_threads()
    try:
        for one, two, picked in ((0.100, 0.110, 2), (0.100, 0.125, 1)):  # within / beyond 20%
            tuner = _ThreadTuner(2, every=100, warm=0, trial=1, load=lambda: None)
            for step in range(3):
                tuner.before(step)
                tuner.after({1: one, 2: two}[torch.get_num_threads()])
            assert tuner.best == picked and torch.get_num_threads() == picked
    finally:
        torch.set_num_threads(before)


def test_thread_tuner_probes_less_often_while_its_choice_holds() -> None:
    before = torch.get_num_threads()
    try:
        tuner = _ThreadTuner(2, every=10, warm=0, trial=1, max_every=40, load=lambda: None)
        cost = {1: 0.1, 2: 0.5}
        starts = []
        for step in range(300):
            idle = tuner.cur is None
            tuner.before(step)
            if idle and tuner.cur is not None:
                starts.append(step)
            if step == 200:  # the machine changes: now 2 threads are the faster
                cost = {1: 0.5, 2: 0.1}
            tuner.after(cost[torch.get_num_threads()])
        # a round takes 2 steps; the gap after it doubles while 1 thread stays best, up to 40,
        # and goes back to 10 once the round at step 202 picks 2 threads
        assert starts == [0, 12, 34, 76, 118, 160, 202, 214, 236, 278]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_thread_tuner_skips_a_slow_count_while_the_load_says_its_cores_are_taken() -> None:
    before = torch.get_num_threads()
    try:
        load = [3.0]  # 2 cores, this run on 1 thread: 2 other runnable processes
        tuner = _ThreadTuner(2, every=10, warm=0, trial=1, max_every=10, load=lambda: load[0])
        cost = {1: 0.1, 2: 0.5}
        tried: list[tuple[int, int]] = []
        for step in range(60):
            if step == 30:  # the neighbours finish; now 2 threads are the faster
                load[0], cost = 1.0, {1: 0.1, 2: 0.04}
            tuner.before(step)
            tried.append((step, torch.get_num_threads()))
            tuner.after(cost[torch.get_num_threads()])
        two = [s for s, n in tried if n == 2]
        assert two[0] == 1  # the first round times both counts, whatever the load
        assert not [s for s in two if 2 < s < 30]  # then 2 lost by 2x and its cores stay taken
        assert two[1] < 45 and torch.get_num_threads() == 2  # timed again once they are free
    finally:
        torch.set_num_threads(before)


def test_a_loss_on_few_positions_runs_the_head_there_only_with_the_same_numbers() -> None:
    """Fine-tuning takes its loss on the replies; the head then runs on those positions alone
    (gpt._loss), and the loss and every gradient are those of the whole-window computation."""
    import torch.nn.functional as F

    from tools.training import gpt as g

    model = g._scratch_model(GPTTrainConfig(n_layer=2, n_head=2, n_embd=32, block_size=16, seed=3), 50)
    forward = g._Forward(model)
    x, y = torch.randint(50, (3, 16)), torch.randint(50, (3, 16))
    y[:, :12] = -100  # 25% of the positions have a target: the sparse path
    calls: list[int] = []
    head = model.lm_head.forward
    model.lm_head.forward = lambda h: calls.append(h.numel() // h.shape[-1]) or head(h)  # type: ignore[method-assign]
    sparse = g._loss(forward, x, y)
    sparse.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    dense = F.cross_entropy(forward(x).reshape(-1, 50), y.reshape(-1), ignore_index=-100)
    dense.backward()
    assert calls == [12, 3 * 16]  # the head saw the 12 targeted positions, then the whole batch
    assert torch.allclose(sparse, dense, atol=1e-6)
    for name, p in model.named_parameters():
        assert torch.allclose(grads[name], p.grad, atol=1e-6), name
    total = g._loss(forward, x, y, reduction="sum")
    assert torch.allclose(total, dense * 12, atol=1e-4)


def test_a_loss_on_every_position_runs_the_head_once_on_the_whole_batch() -> None:
    from tools.training import gpt as g

    model = g._scratch_model(GPTTrainConfig(n_layer=1, n_head=2, n_embd=32, block_size=8), 20)
    calls: list[int] = []
    head = model.lm_head.forward
    model.lm_head.forward = lambda h: calls.append(h.numel() // h.shape[-1]) or head(h)  # type: ignore[method-assign]
    g._loss(g._Forward(model), torch.randint(20, (2, 8)), torch.randint(20, (2, 8)))
    assert calls == [16]


def test_the_final_sweep_gives_the_same_loss_in_big_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.training import gpt as g

    cfg = GPTTrainConfig(n_layer=1, n_head=2, n_embd=32, block_size=8, batch_size=2)
    model = g._scratch_model(cfg, 20)
    val = Windows(np.random.default_rng(0).integers(0, 20, 400), 8, None, None)
    assert g._sweep_batch(cfg, 8, 20) == 256 and g._sweep_batch(cfg, 1024, 50_257) == 2
    big = g._estimate(g._Forward(model), val, cfg, final=True)
    monkeypatch.setattr(g, "EVAL_LOGITS", 1)  # the training batch size, as before
    assert g._estimate(g._Forward(model), val, cfg, final=True) == pytest.approx(big, abs=1e-6)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("eval_logits", [1 << 24, 3 * 8 * 20])  # all windows at once; 3 rows at a time
def test_the_periodic_estimate_is_the_mean_of_its_batches_whatever_the_forward_passes(
    monkeypatch: pytest.MonkeyPatch, masked: bool, eval_logits: int
) -> None:
    from tools.training import gpt as g

    cfg = GPTTrainConfig(n_layer=1, n_head=2, n_embd=32, block_size=8, batch_size=2, eval_iters=5, seed=3)
    model = g._scratch_model(cfg, 20)
    rng = np.random.default_rng(0)
    mask = (rng.random(400) < 0.15).astype(np.int64) if masked else None
    val = Windows(rng.integers(0, 20, 400), 8, mask, None)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    with torch.no_grad():  # the figure as eval_iters separate batches of the training size give it
        by_batch = [float(g._loss(g._Forward(model), *val.get(cfg.batch_size, gen))) for _ in range(5)]
    monkeypatch.setattr(g, "EVAL_LOGITS", eval_logits)
    assert g._sweep_batch(cfg, 8, 20) == (256 if eval_logits > 1000 else 3)
    assert g._estimate(g._Forward(model), val, cfg) == pytest.approx(sum(by_batch) / 5, rel=1e-6)
