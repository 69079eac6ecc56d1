"""tools/training/tokenizer.py and tools/training/data.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.training.data import encode, encode_documents, read_texts, split_train_val
from tools.training.tokenizer import EOS, char_tokenizer, load_tokenizer, train_bpe

TEXT = "Broadcasting stretches size-1 axes. Café ünïcode, m1.numpy and m2.calculus!\n" * 30
SPECIALS = ["<|user|>", "<|end|>"]


@pytest.fixture(scope="module")
def bpe():  # type: ignore[no-untyped-def]
    return train_bpe(
        [TEXT], 320, SPECIALS, chat_template="{{ messages[0]['content'] }}", whole_words=["m1.numpy"]
    )


def test_bpe_is_deterministic(bpe) -> None:  # type: ignore[no-untyped-def]
    again = train_bpe([TEXT], 320, SPECIALS, whole_words=["m1.numpy"])
    assert again.get_vocab() == bpe.get_vocab()


def test_bpe_round_trips_any_text_byte_level(bpe) -> None:  # type: ignore[no-untyped-def]
    text = "never seen: ∑ 日本 🙂 tabs\tand\nnewlines"
    assert bpe.decode(bpe(text)["input_ids"]) == text


def test_special_tokens_and_whole_words_are_single_tokens(bpe) -> None:  # type: ignore[no-untyped-def]
    ids = bpe("<|user|>m1.numpy<|end|>", add_special_tokens=False)["input_ids"]
    assert len(ids) == 3
    assert bpe.convert_ids_to_tokens(ids) == ["<|user|>", "m1.numpy", "<|end|>"]
    assert bpe.eos_token == EOS and bpe.eos_token_id == 0


def test_bpe_rejects_a_vocab_too_small_for_bytes() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        train_bpe([TEXT], 100)


def test_bpe_saves_and_loads_as_a_model_dir_tokenizer(bpe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bpe.save_pretrained(str(tmp_path))
    loaded = load_tokenizer(tmp_path)
    assert loaded("m1.numpy broadcasting")["input_ids"] == bpe("m1.numpy broadcasting")["input_ids"]
    assert loaded.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False) == "hi"


def test_char_tokenizer_maps_characters_and_unknowns(tmp_path: Path) -> None:
    tok = char_tokenizer("abc\n", SPECIALS)
    ids = tok("ab\nc", add_special_tokens=False)["input_ids"]
    assert len(ids) == 4 and tok.decode(ids) == "ab\nc"
    assert tok("z", add_special_tokens=False)["input_ids"] == [tok.unk_token_id]
    assert tok("<|user|>a", add_special_tokens=False)["input_ids"][0] == tok.convert_tokens_to_ids("<|user|>")
    tok.save_pretrained(str(tmp_path))
    assert load_tokenizer(tmp_path)("ab\nc", add_special_tokens=False)["input_ids"] == ids


def test_char_tokenizer_needs_text() -> None:
    with pytest.raises(ValueError, match="empty"):
        char_tokenizer("")


def test_load_tokenizer_explains_a_missing_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        load_tokenizer(tmp_path)


def test_encode_in_chunks_equals_one_call() -> None:
    text = ("line of text number\n" * 5000) + "end"
    tok = char_tokenizer(text)
    ids = encode(tok, text)
    assert ids.dtype == np.uint16 and len(ids) == len(text)
    assert tok.decode(ids.tolist()) == text


def test_encode_by_character_table_gives_the_tokenizers_own_ids() -> None:
    """``encode`` looks a char tokenizer's ids up in a table; they must be what it gives itself,
    unknown and non-BMP characters included, and special-token strings still become their ids."""
    from tools.training.data import _char_ids

    tok = char_tokenizer("hello world\n", SPECIALS)
    backend = tok.backend_tokenizer
    for text in ("héllo\r\n\U0001f600 zq\tA w", "hello <|user|> world" + EOS):
        assert encode(tok, text).tolist() == backend.encode(text, add_special_tokens=False).ids
    assert _char_ids(backend, "hello", np.uint16) is not None  # the table was really used
    assert _char_ids(backend, "hello" + EOS, np.uint16) is None  # and not where a special is in
    assert _char_ids(train_bpe(["some text here"] * 50, 300).backend_tokenizer, "x", np.uint16) is None


def test_encode_documents_separates_with_eos(bpe) -> None:  # type: ignore[no-untyped-def]
    ids = encode_documents(bpe, ["a b", "c"])
    assert (ids == bpe.eos_token_id).sum() == 2 and ids[-1] == bpe.eos_token_id


def test_split_is_first_90_last_10() -> None:
    train, val = split_train_val(np.arange(100))
    assert len(train) == 90 and val[0] == 90 and len(val) == 10


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1])
def test_split_rejects_bad_fractions(bad: float) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        split_train_val(np.arange(100), bad)


def test_read_texts_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_texts([tmp_path / "nope.txt"])
