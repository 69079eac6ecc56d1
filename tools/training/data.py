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
    fast = _char_ids(backend, text, _dtype(len(tokenizer)))
    if fast is not None:
        return fast
    encs = backend.encode_batch(_chunks(text), add_special_tokens=False)
    ids = [i for e in encs for i in e.ids]
    return np.asarray(ids, dtype=_dtype(len(tokenizer)))


def _char_ids(backend: Any, text: str, dtype: Any) -> np.ndarray | None:
    """A character tokenizer's ids by table lookup, or None when ``backend`` is not one (or the
    text holds a special-token string): the same ids as the tokenizer gives, ~20x sooner (the
    per-character regex split took ~1.5 s of a job's start on tiny Shakespeare's 1.1 MB)."""
    pre = backend.pre_tokenizer
    if type(backend.model).__name__ != "WordLevel" or backend.normalizer is not None or pre is None:
        return None
    if "Split" not in repr(pre) or r'Regex("[\s\S]")' not in repr(pre):
        return None
    vocab = backend.get_vocab(with_added_tokens=False)
    singles = {t: i for t, i in vocab.items() if len(t) == 1}
    specials = [t.content for t in backend.get_added_tokens_decoder().values()]
    unk = backend.token_to_id(backend.model.unk_token) if backend.model.unk_token else None
    if unk is None or any(s and s in text for s in specials):
        return None
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    table = np.full(max(int(points.max(initial=0)), max(map(ord, singles), default=0)) + 1, unk, dtype)
    for ch, i in singles.items():
        table[ord(ch)] = i
    return table[points]


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


class Windows:
    """Training windows cut from a token stream (x = ids[i:i+block], y = the next tokens).

    ``mask`` (0/1 per token) hides targets from the loss (-100); ``starts`` restricts windows to
    begin at those positions (e.g. the start of each fine-tuning example). The stream is padded
    by one block so windows near the end never index past it; padding is never a target.
    """

    def __init__(self, ids: np.ndarray, block: int, mask: np.ndarray | None, starts: np.ndarray | None):
        import torch

        if mask is not None and len(mask) != len(ids):
            raise ValueError(f"loss mask has {len(mask)} entries but the ids have {len(ids)}")
        self.block = min(block, len(ids) - 1)
        if self.block < 1:
            raise ValueError(f"need at least 2 tokens of data, got {len(ids)}")
        pad = self.block + 1  # windows near the end wrap into padding that is never a target
        self.data = torch.from_numpy(np.concatenate([ids.astype(np.int64), np.zeros(pad, np.int64)]))
        keep = np.ones(len(ids), bool) if mask is None else mask.astype(bool)
        self.keep = torch.from_numpy(np.concatenate([keep, np.zeros(pad, bool)]))
        if starts is None:
            self.starts = None
            self.n = len(ids) - self.block
        else:
            self.starts = torch.from_numpy(np.asarray(starts, np.int64))
            self.n = len(self.starts)
        self.offsets = torch.arange(self.block + 1)

    def get(self, batch_size: int, gen: Any) -> tuple[Any, Any]:
        return self.at(self.pick(batch_size, gen))

    def pick(self, batch_size: int, gen: Any) -> Any:
        """Which windows ``get`` would take (random, from ``gen``)."""
        import torch

        return torch.randint(self.n, (batch_size,), generator=gen)

    def sweep(self, batch_size: int, max_windows: int) -> Any:
        """Window picks covering the data once (non-overlapping; every start when starts are
        given), thinned evenly to at most ``max_windows``, in batches."""
        import torch

        picks = torch.arange(0, self.n, self.block) if self.starts is None else torch.arange(self.n)
        if len(picks) > max_windows:
            picks = picks[torch.linspace(0, len(picks) - 1, max_windows).long()]
        return torch.split(picks, batch_size)

    def at(self, pick: Any) -> tuple[Any, Any]:
        first = pick if self.starts is None else self.starts[pick]
        idx = first[:, None] + self.offsets[None, :]
        chunk = self.data[idx]
        x = chunk[:, :-1]
        y = chunk[:, 1:].clone()
        y[~self.keep[idx[:, 1:]]] = -100
        return x, y
