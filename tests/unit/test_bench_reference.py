"""scripts/bench_reference.py: the plain loop stands for nanoGPT's train.py (same model, same loop)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_reference.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_plain_loop_trains_nanogpts_model_without_biases() -> None:
    bench = _bench()
    text = "".join(chr(97 + (i * 7) % 26) + (" " if i % 5 else "\n") for i in range(4000))
    out = bench.reference(text, steps=3, threads=1)
    v, e, t, layers = len(set(text)), 128, 64, 4
    # nanoGPT's count with bias=False: token and position tables, per block two LayerNorm weights,
    # qkv, projection and the 4x MLP, a final LayerNorm weight; the head is tied to the table
    assert out["params"] == v * e + t * e + layers * (2 * e + 12 * e * e) + e
    assert math.isfinite(out["val_loss"]) and math.isfinite(out["val_loss_full"])
    assert out["last_log"].startswith("iter 3: loss ")  # iterations 0..steps, as train.py runs them
    assert out["val_loss"] == pytest.approx(math.log(v), abs=0.3)  # 4 updates: still near uniform


def test_a_bad_round_count_is_refused_before_anything_runs(tmp_path: Path) -> None:
    data = tmp_path / "input.txt"
    data.write_text("some text\n" * 100)
    assert _bench().main([str(data), "--rounds", "0"]) == 2
