"""Tokenizers for our GPT models, saved as ordinary Hugging Face model-dir tokenizers.

Two kinds, both wrapped as a transformers ``PreTrainedTokenizerFast`` so that
``AutoTokenizer.from_pretrained(model_dir)`` loads either one and the chat backend needs no
special case:

- ``train_bpe``: byte-level BPE (GPT-2 style) trained with HF ``tokenizers`` on our own text.
  Byte-level means no unknown characters ever. Training is deterministic for the same input.
- ``char_tokenizer``: one token per character seen in the text (nanoGPT's tiny-Shakespeare
  recipe); characters never seen map to the unknown token.

Special tokens (chat markers, end of text) are passed in by the caller: this layer does not know
the chat format (``tutor/llm/chat_format.py`` does).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

EOS = "<|endoftext|>"
PAD = "<|pad|>"
UNK = "<|unk|>"


def _wrap(tok: Any, extra_special: Sequence[str], chat_template: str | None, max_length: int) -> Any:
    from transformers import PreTrainedTokenizerFast

    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        model_max_length=max_length,
        extra_special_tokens=[t for t in extra_special if t not in (EOS, PAD, UNK)],
    )
    if chat_template:
        wrapped.chat_template = chat_template
    return wrapped


def _specials(special_tokens: Sequence[str]) -> list[str]:
    # fixed order: EOS, PAD, UNK first so their ids (0, 1, 2) never depend on the caller
    out = [EOS, PAD, UNK]
    out += [t for t in special_tokens if t not in out]
    return out


def train_bpe(
    texts: Iterable[str],
    vocab_size: int = 4096,
    special_tokens: Sequence[str] = (),
    *,
    chat_template: str | None = None,
    max_length: int = 1024,
    min_frequency: int = 2,
    whole_words: Sequence[str] = (),
) -> Any:
    """Train a byte-level BPE tokenizer on ``texts``; returns a ``PreTrainedTokenizerFast``.

    ``whole_words`` become single (non-special) tokens wherever they occur, e.g. topic ids like
    "m1.numpy" that the byte-level pre-tokenizer would otherwise cut into 4 pieces.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < 300:
        raise ValueError(
            f"vocab_size must be >= 300 for byte-level BPE (256 bytes + merges), got {vocab_size}"
        )
    specials = _specials(special_tokens)
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    if whole_words:
        tok.add_tokens([AddedToken(w, normalized=False, special=False) for w in dict.fromkeys(whole_words)])
    logger.info("trained byte-level BPE: %d tokens", tok.get_vocab_size())
    return _wrap(tok, specials, chat_template, max_length)


def char_tokenizer(
    text: str,
    special_tokens: Sequence[str] = (),
    *,
    chat_template: str | None = None,
    max_length: int = 1024,
) -> Any:
    """One token per distinct character of ``text`` (sorted, like nanoGPT), plus the specials."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    specials = _specials(special_tokens)
    chars = sorted(set(text))
    if not chars:
        raise ValueError("char tokenizer needs some text to take its characters from; got an empty text")
    vocab = {t: i for i, t in enumerate(specials)}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # every single character (newlines included) is its own pre-token
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(specials)
    return _wrap(tok, specials, chat_template, max_length)


def save_tokenizer(tokenizer: Any, out_dir: str | Path) -> None:
    tokenizer.save_pretrained(str(out_dir))


def load_tokenizer(model_dir: str | Path) -> Any:
    """Load the tokenizer saved in a model directory (ours or any HF model's)."""
    from transformers import AutoTokenizer

    path = Path(model_dir)
    if not (path / "tokenizer.json").exists() and not (path / "tokenizer_config.json").exists():
        raise FileNotFoundError(
            f"no tokenizer in {path}: expected tokenizer.json or tokenizer_config.json; "
            "train one with tools.training.tokenizer.train_bpe and save it into the model dir"
        )
    return AutoTokenizer.from_pretrained(str(path))
