"""Shared pieces of the training-job tests: a tiny GPT model dir, a small corpus, tiny notes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

TEXT = (
    "The tutor teaches numpy, pandas and transformers. A learner asks a question and the tutor answers.\n"
    "Attention lets every token look at the tokens before it. Softmax turns scores into weights.\n"
)


def write_corpus(path: Path, repeats: int = 200) -> Path:
    path.write_text(TEXT * repeats, encoding="utf-8")
    return path


def write_notes(notes_dir: Path) -> Path:
    notes_dir.mkdir(parents=True, exist_ok=True)
    for topic, module, body in [
        ("m1.numpy", "m1", "Arrays broadcast when trailing dimensions agree.\n" * 20),
        ("m8.gpt", "m8", "A GPT predicts the next token with a causal mask.\n" * 20),
        ("m8.attention", "m8", "Attention mixes values by softmax of query-key scores.\n" * 20),
    ]:
        (notes_dir / f"{topic}.md").write_text(
            f"---\ntopic_id: {topic}\ntitle: {topic}\nmodule: {module}\n---\n# {topic}\n{body}",
            encoding="utf-8",
        )
    return notes_dir


def make_tiny_model(
    out_dir: Path, n_layer: int = 1, n_head: int = 2, n_embd: int = 16, positions: int = 32
) -> Path:
    """A randomly initialised GPT-2 with a char tokenizer, saved as a normal HF model dir."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from tools.training.tokenizer import char_tokenizer

    tok = char_tokenizer(TEXT)
    torch.manual_seed(0)
    cfg = GPT2Config(
        vocab_size=len(tok), n_positions=positions, n_embd=n_embd, n_layer=n_layer, n_head=n_head
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    GPT2LMHeadModel(cfg).save_pretrained(str(out_dir))
    tok.save_pretrained(str(out_dir))
    return out_dir


def fake_model_dir(
    out_dir: Path, n_layer: int = 1, n_head: int = 2, n_embd: int = 16, positions: int = 32
) -> Path:
    """Only the files the registry and the spec read (config.json, tokenizer.json): no torch needed."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = {
        "model_type": "gpt2",
        "n_layer": n_layer,
        "n_head": n_head,
        "n_embd": n_embd,
        "n_positions": positions,
        "vocab_size": 60,
    }
    (out_dir / "config.json").write_text(json.dumps(cfg))
    (out_dir / "tokenizer.json").write_text(json.dumps({"model": {"type": "WordLevel"}}))
    return out_dir


def wait_until(cond: Any, timeout_s: float, every_s: float = 0.05) -> Any:
    """Poll ``cond()`` until it returns something truthy; fails the test on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s} s")
