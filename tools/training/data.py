"""Text -> token id arrays for GPT training, and the 90/10 train/validation split.

Arrays are plain numpy (``uint16`` when the vocabulary fits, like nanoGPT, else ``int32``) so a
corpus of a few MB costs a few MB; batches are cut from them in ``gpt.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Rust-side batch encoding of ~64 KB pieces is several times faster than one huge call and avoids
# transformers' "sequence longer than the model" warning; pieces end at a newline.
_CHUNK_CHARS = 65_536


def _dtype(vocab_size: int) -> type[np.unsignedinteger[Any]] | type[np.signedinteger[Any]]:
    return np.uint16 if vocab_size <= 65_535 else np.int32


def _chunks(text: str) -> list[str]:
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + _CHUNK_CHARS, len(text))
        if end < len(text):
            nl = text.rfind("\n", start, end)
            if nl > start:
                end = nl + 1
        out.append(text[start:end])
        start = end
    return out


def encode(tokenizer: Any, text: str) -> np.ndarray:
    """Token ids of ``text`` (special-token strings in it become their ids; none are added)."""
    backend = tokenizer.backend_tokenizer
    encs = backend.encode_batch(_chunks(text), add_special_tokens=False)
    ids = [i for e in encs for i in e.ids]
    return np.asarray(ids, dtype=_dtype(len(tokenizer)))


def encode_documents(tokenizer: Any, docs: Sequence[str]) -> np.ndarray:
    """Documents joined into one stream, each followed by the end-of-text token."""
    if tokenizer.eos_token_id is None:
        raise ValueError("tokenizer has no eos token; documents need a separator between them")
    eos = int(tokenizer.eos_token_id)
    encs = tokenizer.backend_tokenizer.encode_batch(list(docs), add_special_tokens=False)
    ids: list[int] = []
    for e in encs:
        ids.extend(e.ids)
        ids.append(eos)
    return np.asarray(ids, dtype=_dtype(len(tokenizer)))


def split_train_val(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """First ``1 - val_fraction`` for training, the rest for validation (nanoGPT's split)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    if len(ids) < 4:
        raise ValueError(f"need at least 4 tokens to split into train and validation, got {len(ids)}")
    n = int(len(ids) * (1.0 - val_fraction))
    n = min(max(n, 2), len(ids) - 2)
    return ids[:n], ids[n:]


def read_texts(paths: Sequence[str | Path]) -> list[str]:
    """Read UTF-8 text files; a missing file is a clear error, not an empty corpus."""
    texts = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise FileNotFoundError(f"training text {path} does not exist; pass an existing UTF-8 text file")
        texts.append(path.read_text(encoding="utf-8"))
    return texts
