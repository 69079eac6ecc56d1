"""Checks of the rag-over-notes lab (TRUSTED: runs outside the sandbox on the probe's facts).

Each ``check_<name>(facts) -> (passed, message)`` reads only plain JSON values and fails with a
message, never an exception, when a fact is missing or of the wrong type. Expected note names and
body lengths are recomputed here from the lab's own ``data/`` folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from curriculum.labs.guard import guard_checks
from curriculum.labs.guard import number as _num
from curriculum.labs.guard import probe_error as _probe_error

Verdict = tuple[bool, str]
DATA = Path(__file__).resolve().parent / "data"


def _notes() -> dict[str, str]:
    """The bundled notes' bodies (front matter removed), as the learner should read them."""
    out = {}
    for path in sorted(DATA.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---"):
            text = text.split("---", 2)[2]
        out[path.name] = text
    return out


def check_load(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("is_dict"):
        return False, "`notes` should be a dict `{file name: body}`."
    want = _notes()
    names = facts.get("names")
    if names != sorted(want):
        return False, f"`notes` has keys {names}; expected the four files {sorted(want)}."
    fm = facts.get("with_front_matter")
    if fm:
        return False, (
            f"{', '.join(map(str, fm))} still start with the front matter (`---`, `topic_id: ...`). Keep only "
            "what follows the second `---` line, e.g. `text.split('---', 2)[2]`."
        )
    lengths = facts.get("lengths")
    if not isinstance(lengths, dict):
        return False, "The bodies in `notes` should be strings."
    for name, body in want.items():
        got = lengths.get(name)
        if not isinstance(got, int) or abs(got - len(body.strip())) > len(body) * 0.02 + 5:
            return False, (
                f"The body of {name} has {got} characters; the note without its front matter has about "
                f"{len(body.strip())}. Keep the whole body."
            )
    return (
        True,
        f"Four notes read, {sum(len(b) for b in want.values()):,} characters of teaching text, metadata left out.",
    )


def check_chunk(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("has_fn"):
        return False, "`chunk_words` is not defined."
    n, lens, overlaps = facts.get("n"), facts.get("lens"), facts.get("overlaps")
    example = "On 100 words with size=30, overlap=10"
    if not isinstance(lens, list) or not isinstance(n, int):
        return False, f"{example}, `chunk_words` should return a list of strings."
    if n == 1:
        return (
            False,
            f"{example}, `chunk_words` returns one chunk: cut the words into windows of `size` words.",
        )
    if any(not isinstance(x, int) or x > 30 for x in lens):
        return False, f"{example} the chunks have {lens} words; none may exceed `size` (30)."
    if facts.get("first") != ["w0"] or facts.get("last_word") != "w99":
        return (
            False,
            f"{example} the chunks should start at the first word and end at the last one (w0 ... w99).",
        )
    if facts.get("covered") != 100:
        return (
            False,
            f"{example} only {facts.get('covered')} of the 100 words appear in a chunk; windows must not skip words.",
        )
    if not isinstance(overlaps, list) or any(o != 10 for o in overlaps):
        return False, (
            f"{example} consecutive chunks share {overlaps} words; they should share exactly `overlap` (10): "
            "start a window every `size - overlap` words."
        )
    if n != 5:
        return (
            False,
            f"{example} you return {n} chunks; windows start at words 0, 20, 40, 60 and 80, so expect 5.",
        )
    if not facts.get("single_spaces"):
        return False, "Join the words of a chunk with single spaces (`' '.join(words[i:i + size])`)."
    if facts.get("short") != ["just five words right here"]:
        return (
            False,
            f"A text shorter than `size` should give one chunk, the whole text; got {facts.get('short')!r}.",
        )
    if facts.get("empty") != []:
        return False, f"An empty text should give no chunks (`[]`), got {facts.get('empty')!r}."
    total, good = facts.get("n_chunks"), facts.get("well_formed")
    if not isinstance(total, int) or total < 20:
        return (
            False,
            f"`chunks` holds {total} chunks; chunk all four notes with size=120, overlap=20 (about 50 chunks).",
        )
    if good != total:
        return (
            False,
            f"{total - (good or 0)} entries of `chunks` are not dicts with `id`, `source` and `text`.",
        )
    if facts.get("unique_ids") != total:
        return False, "Chunk ids repeat: make them unique, e.g. `f'{name}#{i}'`."
    if facts.get("sources") != sorted(_notes()):
        return False, f"`chunks` come from {facts.get('sources')}; chunk all four notes."
    if facts.get("empty_chunks"):
        return False, "Some chunks are empty; drop them."
    mw = facts.get("max_words")
    if not isinstance(mw, int) or mw > 120:
        return (
            False,
            f"The longest chunk has {mw} words; use `chunk_words(body)` with its defaults (size 120).",
        )
    return (
        True,
        f"{total} chunks of at most {mw} words, each sharing 20 words with the next, all with a source and a unique id.",
    )


def check_model(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("has_embedder"):
        return False, "`embedder` is not a loaded model; run the starter's loading line."
    if facts.get("dim") != 384:
        return False, f"The embedder makes {facts.get('dim')}-number vectors; all-MiniLM-L6-v2 makes 384."
    close, far = _num(facts, "sim_close"), _num(facts, "sim_far")
    rc, rf = _num(facts, "ref_close"), _num(facts, "ref_far")
    if close is None or far is None:
        return False, "`sim_close` and `sim_far` should be numbers: dot products of normalised embeddings."
    if rc is None or rf is None:
        return False, "The check could not embed the sentences; run the step again."
    if abs(close) > 1.001 or abs(far) > 1.001:
        return False, (
            f"A similarity of {max(abs(close), abs(far)):.2f} is outside [-1, 1]: the vectors are not normalised. "
            "Pass `normalize_embeddings=True`."
        )
    if abs(close - rc) > 0.01 or abs(far - rf) > 0.01:
        return False, (
            f"Expected sim_close = {rc:.3f} and sim_far = {rf:.3f}, got {close:.3f} and {far:.3f}: compare the "
            "question with the paraphrase, and the question with the unrelated sentence."
        )
    return True, (
        f"The paraphrase scores {rc:.2f} and the unrelated sentence {rf:.2f}, although the paraphrase shares "
        "almost no words with the question: embeddings capture meaning, not spelling."
    )


def check_embed(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    n, shape = facts.get("n_chunks"), facts.get("shape")
    if not isinstance(n, int):
        return False, "`chunks` is missing; rerun the chunking step."
    if shape != [n, 384]:
        return False, f"`embeddings` has shape {shape}; expected ({n}, 384): one row per chunk."
    lo, hi = _num(facts, "min_norm"), _num(facts, "max_norm")
    if lo is None or hi is None or lo < 0.99 or hi > 1.01:
        return (
            False,
            f"Row lengths range from {lo} to {hi}; with `normalize_embeddings=True` every row has length 1.",
        )
    match = facts.get("row_match")
    if not isinstance(match, list) or not match or not all(isinstance(m, int | float) for m in match):
        return False, "The check could not compare your rows with the chunks' embeddings."
    if min(match) < 0.99:
        return False, (
            "Some rows of `embeddings` are not the embedding of the chunk at the same position: embed "
            "`[c['text'] for c in chunks]` in order."
        )
    return True, f"{n} chunks embedded: a {n} x 384 matrix of unit vectors, row i belonging to chunk i."


def check_store(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("has_collection"):
        return False, "`collection` is not a Chroma collection."
    n, count = facts.get("n_chunks"), facts.get("count")
    if facts.get("name") != "notes":
        return False, f"The collection is named {facts.get('name')!r}; call it 'notes'."
    if facts.get("space") != "cosine":
        return False, (
            f"The collection measures {facts.get('space') or 'l2'} distance; create it with "
            "`metadata={'hnsw:space': 'cosine'}` (delete the old one with `client.delete_collection('notes')`)."
        )
    if count != n:
        return False, f"The collection holds {count} vectors but there are {n} chunks; add every chunk once."
    if not facts.get("first_found"):
        return False, "The first chunk's id is not in the collection: use the chunks' own ids."
    if not facts.get("first_doc_matches"):
        return (
            False,
            "The stored document of the first chunk differs from its text: pass `documents=[c['text'] ...]`.",
        )
    if facts.get("first_source") != facts.get("want_source"):
        return False, "Store each chunk's source as metadata: `metadatas=[{'source': c['source']} ...]`."
    return True, f"{count} vectors stored with their text and source, compared by cosine distance."


def check_retrieve(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("has_fn"):
        return False, "`retrieve` is not defined."
    asks = facts.get("asks")
    if not isinstance(asks, list) or not asks:
        return False, "The check could not call `retrieve`."
    right = 0
    wrong: list[str] = []
    for row in asks:
        if not isinstance(row, dict):
            return False, "The check could not read the retrieval results."
        if row.get("n") != 3:
            return False, f"`retrieve(question, k=3)` returned {row.get('n')} results; return k of them."
        if not row.get("keys_ok"):
            return False, "Each result should be a dict with `source`, `text` and `distance`."
        d = row.get("distances")
        if not isinstance(d, list) or any(not isinstance(x, int | float) for x in d):
            return False, "The `distance` of each result should be a number."
        if any(b < a - 1e-6 for a, b in zip(d, d[1:], strict=False)):
            return False, f"Distances {d} are not in increasing order: return the nearest chunk first."
        sources = row.get("sources") or []
        if sources and sources[0] == row.get("want"):
            right += 1
        else:
            wrong.append(f"{row.get('question')!r} -> {sources[0] if sources else None}")
    if facts.get("n_for_k2") != 2:
        return (
            False,
            f"`retrieve(question, k=2)` returned {facts.get('n_for_k2')} results; pass k on as `n_results`.",
        )
    if right < len(asks) - 1:
        return False, (
            f"The right note came first for {right} of {len(asks)} questions ({'; '.join(wrong)}). Embed the "
            "question with the same model, normalised, and query with `query_embeddings`."
        )
    return True, f"The right note came first for {right} of {len(asks)} unseen questions."


def check_evaluate(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("questions_unchanged"):
        return False, "Keep `questions` as given: a test set you edit until it passes measures nothing."
    ref, hits = facts.get("ref_hits"), facts.get("hits")
    if not isinstance(ref, list) or not ref:
        return False, "The check could not run `retrieve` on the questions."
    if not isinstance(hits, list) or len(hits) != len(ref):
        return False, f"`hits` should hold one boolean per question ({len(ref)})."
    if hits != ref:
        bad = [i for i, (a, b) in enumerate(zip(hits, ref, strict=True)) if a != b]
        return (
            False,
            f"`hits` disagrees with `retrieve(question, k=3)` for question(s) {bad}: look at the top-3 sources.",
        )
    rate, want = _num(facts, "hit_rate"), sum(ref) / len(ref)
    if rate is None or abs(rate - want) > 1e-6:
        return False, f"`hit_rate` should be the mean of `hits` ({want:.3f}), got {facts.get('hit_rate')}."
    if want < 0.75:
        return (
            False,
            f"A hit rate of {want:.2f} is low; the retriever of the last step should reach 0.75 or more.",
        )
    return True, (
        f"hit@3 = {want:.2f} on {len(ref)} questions. Rerun this after every change to chunking, model or k: "
        "it tells you whether the change helped."
    )


def check_serve(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("has_app"):
        return False, "`app` should be a `FastAPI()` application."
    status = facts.get("ok_status")
    if status == 404 or status == 405:
        return False, f"POST /search answered {status}: define it with `@app.post('/search')`."
    if status != 200:
        return False, f"POST /search with a good question answered {status}; expected 200."
    keys = facts.get("keys") or []
    if "results" not in keys or "question" not in keys:
        return False, f"The response has keys {keys}; return `{{'question': ..., 'results': [...]}}`."
    if facts.get("n_results") != 2:
        return (
            False,
            f"Asked for k=2, the endpoint returned {facts.get('n_results')} results; pass k to `retrieve`.",
        )
    if facts.get("missing_status") != 422:
        return (
            False,
            "A request without a question should be refused with 422: make `question` a required field.",
        )
    if facts.get("empty_status") != 422:
        return False, "An empty question should be refused with 422: `question: str = Field(min_length=1)`."
    if facts.get("k0_status") != 422 or facts.get("k99_status") != 422:
        return False, (
            f"k=0 answered {facts.get('k0_status')} and k=99 answered {facts.get('k99_status')}; bound it with "
            "`k: int = Field(3, ge=1, le=10)` so both are refused with 422."
        )
    return True, (
        f"POST /search answers 200 with the top results (first: {facts.get('first_source')}), and refuses a "
        "missing or empty question and an out-of-range k with 422 before your code runs."
    )


guard_checks(globals())  # every check_* fails with a message instead of raising
