"""A tiny random-weight GPT model dir for tests of the chat backends and tasks (seconds, offline)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

CORPUS = (
    "NumPy arrays broadcast when trailing dimensions match. Pandas groups rows with groupby. "
    "hello world, the tutor explains gradient descent and attention step by step.\n"
) * 20


def tiny_model_dir(
    path: Path, *, whole_words: Sequence[str] = (), vocab: int = 400, n_positions: int = 256
) -> Path:
    """Random-weight 1-layer GPT + our BPE tokenizer with the chat template, saved as an HF dir."""
    from tools.training.gpt import GPTTrainConfig, build_model, save_model_dir
    from tools.training.tokenizer import train_bpe
    from tutor.llm.chat_format import CHAT_TEMPLATE, SPECIAL_TOKENS

    tok = train_bpe([CORPUS], vocab, SPECIAL_TOKENS, chat_template=CHAT_TEMPLATE, whole_words=whole_words)
    cfg = GPTTrainConfig(n_layer=1, n_head=2, n_embd=32, block_size=n_positions)
    model = build_model(cfg, len(tok), tok.eos_token_id, tok.pad_token_id)
    save_model_dir(model, path, tok)
    return path


class ForceText:
    """Logits processor that makes any model write ``text`` (then the end token): scripted
    output through the real decoding loop. Counts its calls, to observe cancellation."""

    def __init__(self, tokenizer: Any, text: str, end_id: int):
        self.ids = [*tokenizer(text, add_special_tokens=False)["input_ids"], end_id]
        self.calls = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        target = self.ids[min(self.calls, len(self.ids) - 1)]
        self.calls += 1
        out = torch.full_like(scores, float("-inf"))
        out[0, target] = 0.0
        return out
