"""Checks of the text-eda-tokens lab: counts and medians are recomputed here from the bundled
CSV with the same rules the steps state."""

from __future__ import annotations

import csv
import re
import statistics
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "note_sections.csv"
HELD_OUT = ("m10", "m11")
STOP = set(
    """the a an and or of to in is are be it this that for on with as by at from
you your we can not but if then so than its into each one two which what when how do does
use used using more most all any also only same other these those their there has have
was were will would should could may might just like such very much many""".split()
)
Verdict = tuple[bool, str]


@lru_cache(maxsize=1)
def _rows() -> list[dict[str, str]]:
    csv.field_size_limit(10_000_000)
    with DATA.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _tokenize(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@lru_cache(maxsize=1)
def _counts() -> Counter[str]:
    return Counter(t for r in _rows() for t in _tokenize(r["text"]))


def check_load(facts: dict[str, Any]) -> Verdict:
    rows = _rows()
    if facts.get("type") != "DataFrame":
        return (
            False,
            f"`sections` is not a DataFrame yet (it is {facts.get('type', 'missing')}): read it with `pd.read_csv`.",
        )
    if facts.get("shape") != [len(rows), 4]:
        return (
            False,
            f"`sections` has shape {facts.get('shape')}; the file has {len(rows)} rows and 4 columns.",
        )
    if facts.get("columns") != ["topic_id", "module", "heading", "text"]:
        return False, f"The columns should be topic_id, module, heading, text; got {facts.get('columns')}."
    top = Counter(r["module"] for r in rows).most_common(1)[0]
    return True, f"{len(rows)} sections loaded; module {top[0]} has the most ({top[1]})."


def check_lengths(facts: dict[str, Any]) -> Verdict:
    rows = _rows()
    n_words = [len(r["text"].split()) for r in rows]
    if not facts.get("has_n_words"):
        return (
            False,
            '`sections` has no `n_words` column yet: `sections["n_words"] = sections["text"].str.split().str.len()`.',
        )
    if facts.get("n_words_sum") != sum(n_words):
        return (
            False,
            f"`n_words` adds up to {facts.get('n_words_sum')}; counting whitespace-separated words gives {sum(n_words)}.",
        )
    want = {}
    for m in sorted({r["module"] for r in rows}):
        want[m] = float(statistics.median(n for n, r in zip(n_words, rows, strict=True) if r["module"] == m))
    got = facts.get("median_words")
    if facts.get("median_type") != "Series" or not isinstance(got, dict):
        return (
            False,
            f"`median_words` should be a Series indexed by module; it is {facts.get('median_type', 'missing')}.",
        )
    if sorted(got) != sorted(want):
        return (
            False,
            f"`median_words` should have one value per module ({', '.join(want)}); it has {sorted(got)}.",
        )
    for m, v in want.items():
        g = got.get(m)
        if not isinstance(g, int | float) or abs(g - v) > 1e-6:
            mean = statistics.mean(n for n, r in zip(n_words, rows, strict=True) if r["module"] == m)
            if isinstance(g, int | float) and abs(g - mean) < 1e-3:
                return False, f"`median_words['{m}']` is the mean ({g:.1f}); use `.median()`."
            return False, f"`median_words['{m}']` is {g}; the median of that module's `n_words` is {v:g}."
    lo, hi = min(want, key=want.__getitem__), max(want, key=want.__getitem__)
    return (
        True,
        f"Medians run from {want[lo]:g} words ({lo}) to {want[hi]:g} ({hi}); the longest section has {max(n_words)}.",
    )


def check_histogram(facts: dict[str, Any]) -> Verdict:
    n = len(_rows())
    if facts.get("type") != "Figure":
        return (
            False,
            f"`fig` should be a matplotlib Figure (`fig, ax = plt.subplots()`); it is {facts.get('type', 'missing')}.",
        )
    bars = facts.get("n_bars")
    if not isinstance(bars, int) or bars < 10:
        return (
            False,
            f"The histogram has {bars} bars; use at least 10 bins (`ax.hist(sections['n_words'], bins=30)`).",
        )
    total = facts.get("total_height")
    if not isinstance(total, int | float) or abs(total - n) > 0.5:
        return (
            False,
            f"The bar heights add up to {total}, not {n}: draw one histogram of `n_words` (counts, not densities).",
        )
    missing = [k for k in ("xlabel", "ylabel", "title") if not str(facts.get(k) or "").strip()]
    if missing:
        return False, f"The histogram is right but has no {', no '.join(missing)}."
    return (
        True,
        f"A labelled histogram of {n} sections in {bars} bins: most sections are short, with a long right tail.",
    )


def check_tokenize(facts: dict[str, Any]) -> Verdict:
    samples = ["Don't PANIC: x_1 = 3.14!", "GPT-2 uses BPE.", "  Mean  squared   error  "]
    want = [_tokenize(s) for s in samples]
    got = facts.get("samples")
    if got is None:
        return False, f"`tokenize` failed: {facts.get('tokenize_error', 'not defined')}."
    for text, w, g in zip(samples, want, got, strict=False):
        if g != w:
            return (
                False,
                f"`tokenize({text!r})` gives {g}; expected {w} (lowercase runs of letters and digits).",
            )
    if facts.get("counts_type") != "Counter":
        return False, f"`counts` should be a collections.Counter; it is {facts.get('counts_type')}."
    c = _counts()
    if facts.get("total") != sum(c.values()):
        return (
            False,
            f"`counts` holds {facts.get('total')} tokens; tokenizing every section gives {sum(c.values())}.",
        )
    some = facts.get("some") or {}
    for word, n in some.items():
        if c.get(word, 0) != n:
            return False, f"`counts['{word}']` is {n}; expected {c.get(word, 0)}."
    return True, f"{sum(c.values())} tokens, {len(c)} distinct; 'the' alone appears {c['the']} times."


def check_top_terms(facts: dict[str, Any]) -> Verdict:
    got = facts.get("top_terms")
    if not isinstance(got, list) or len(got) != 10:
        return (
            False,
            f"`top_terms` should be a list of 10 (token, count) pairs; it has {len(got) if isinstance(got, list) else got!r}.",
        )
    c = _counts()
    ranked = [(w, n) for w, n in c.most_common() if w not in STOP and len(w) >= 3]
    tenth = ranked[9][1]
    for pair in got:
        if not isinstance(pair, list) or len(pair) != 2:
            return False, "Each entry of `top_terms` should be a (token, count) pair."
        w, n = pair
        if w in STOP or len(str(w)) < 3:
            return False, f"`{w}` should have been filtered out (a stop word, or shorter than 3 characters)."
        if c.get(w, 0) != n:
            return False, f"`{w}` appears {c.get(w, 0)} times, not {n}."
        if n < tenth:
            return False, f"`{w}` ({n}) is not in the top 10; the tenth term has {tenth}."
    if len({p[0] for p in got}) != 10:
        return False, "`top_terms` repeats a token."
    return True, "Top terms: " + ", ".join(
        f"{w} ({n})" for w, n in ranked[:5]
    ) + "... the course's vocabulary shows."


def check_bpe(facts: dict[str, Any]) -> Verdict:
    rows = _rows()
    n_train = sum(1 for r in rows if r["module"] not in HELD_OUT)
    if facts.get("type") != "Tokenizer":
        return (
            False,
            f"`tok` should be a trained `tokenizers.Tokenizer`; it is {facts.get('type', 'missing')}.",
        )
    if facts.get("error"):
        return False, f"Using `tok` failed: {facts['error']}."
    if facts.get("train_overlap") or facts.get("train_texts_len") != n_train:
        return False, (f"`train_texts` should hold the {n_train} sections of m1-m9 only; it has "
                       f"{facts.get('train_texts_len')} ({facts.get('train_overlap')} held out). Testing on text you "
                       "trained on flatters the tokenizer.")  # fmt: skip
    vs = facts.get("vocab_size")
    if not isinstance(vs, int) or not 400 <= vs <= 800:
        return False, f"The vocabulary has {vs} tokens; train with `vocab_size=800`."
    if not facts.get("roundtrip"):
        return False, "Decoding the encoding of 'gradient descent' does not give the text back."
    ratio = facts.get("held_ratio")
    if not isinstance(ratio, int | float) or not 1.2 <= ratio <= 3.0:
        return (
            False,
            f"On the held-out modules `tok` makes {ratio} tokens per word; expected between 1.2 and 3.",
        )
    tpw = facts.get("tokens_per_word")
    if not isinstance(tpw, int | float) or abs(tpw - ratio) > 0.05:
        return (
            False,
            f"`tokens_per_word` is {tpw}, but encoding the held-out sections with `tok` gives {ratio} tokens per whitespace word.",
        )
    return True, (f"{ratio:.2f} tokens per word on unseen modules (vs {facts.get('train_ratio')} on training text): "
                  "frequent words are single tokens, rare ones split into pieces.")  # fmt: skip
