"""Retriever: hybrid search, filters, typo fixing, refresh, and clear errors on bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedding import HashingEmbedder, get_embedder
from knowledge.index import IndexMissing, NoteIndex
from knowledge.retriever import MAX_QUERY_CHARS, Passage, Retriever, _by_note

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "sample_notes"


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    dst = tmp_path / "notes"
    shutil.copytree(SAMPLES, dst)
    return dst


@pytest.fixture
def index(notes: Path, tmp_path: Path) -> NoteIndex:
    idx = NoteIndex(notes, chroma_dir=tmp_path / "chroma", embedder=HashingEmbedder())
    idx.build()
    return idx


@pytest.fixture
def retriever(index: NoteIndex) -> Retriever:
    return Retriever(index)


def test_search_returns_passages_best_first(retriever: Retriever) -> None:
    hits = retriever.search("how does broadcasting line up shapes", k=3)
    assert len(hits) == 3
    top = hits[0]
    assert isinstance(top, Passage)
    assert (top.topic_id, top.title, top.heading) == ("t1.arrays", "Arrays", "Arrays > Broadcasting rules")
    assert top.source.endswith("t1.arrays.md#broadcasting-rules")
    assert "from the right" in top.text
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1
    assert set(top.to_dict()) == {"topic_id", "title", "source", "heading", "text", "score"}


@pytest.mark.parametrize(
    ("query", "topic"),
    [
        ("my mrege produced more rows than either tabel", "t1.tables"),
        ("brodcasting shapes", "t1.arrays"),
        ("choosing k with the elbwo", "t2.clusters"),
    ],
)
def test_typos_are_corrected_against_the_notes_vocabulary(
    retriever: Retriever, query: str, topic: str
) -> None:
    assert retriever.search(query, k=1)[0].topic_id == topic


def test_topic_and_module_filters(retriever: Retriever) -> None:
    assert {p.topic_id for p in retriever.search("rows and columns", k=10, topic_id="t2.clusters")} == {
        "t2.clusters"
    }
    assert {p.topic_id for p in retriever.search("rows", k=10, module="t1")} <= {"t1.arrays", "t1.tables"}
    both = retriever.search("rows", k=10, topic_id="t1.tables", module="t1")
    assert both and {p.topic_id for p in both} == {"t1.tables"}


def test_unknown_filter_is_lookup_error_with_suggestion(retriever: Retriever) -> None:
    with pytest.raises(LookupError, match="did you mean 't1.tables'"):
        retriever.search("merge", topic_id="t1.table")
    with pytest.raises(LookupError, match="module 'm7'"):
        retriever.search("merge", module="m7")
    with pytest.raises(LookupError, match="both in topic"):
        retriever.search("merge", topic_id="t2.clusters", module="t1")


def test_a_clear_best_note_gives_several_passages_first() -> None:
    topics = np.array(["a", "a", "a", "b"])
    order = _by_note([(0, 0.10), (1, 0.09), (2, 0.08), (3, 0.05)], topics, k=4)
    assert [topics[r] for r, _ in order] == ["a", "a", "b", "a"]


def test_a_note_with_several_good_sections_beats_one_lucky_chunk() -> None:
    topics = np.array(["a", "b", "b", "a"])
    order = _by_note([(0, 0.100), (1, 0.095), (2, 0.090), (3, 0.050)], topics, k=4)
    assert [int(r) for r, _ in order] == [1, 0, 2, 3]
    scores = [s for _, s in order]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] < scores[0] <= 1


def test_topic_filter_keeps_every_passage_in_the_topic(retriever: Retriever) -> None:
    hits = retriever.search("tables rows merge groupby aggregation DataFrame", k=3, topic_id="t1.tables")
    assert [p.topic_id for p in hits] == ["t1.tables"] * 3


@pytest.mark.parametrize(
    ("query", "k", "message"),
    [
        ("", 5, "query is empty"),
        ("   \n\t", 5, "query is empty"),
        ("x" * (MAX_QUERY_CHARS + 1), 5, "the limit is"),
        (None, 5, "query must be text"),
        ("merge", 0, "k must be a whole number from 1 to 50"),
        ("merge", 51, "k must be a whole number from 1 to 50"),
        ("merge", 2.5, "k must be a whole number"),
        ("merge", True, "k must be a whole number"),
    ],
)
def test_bad_input_is_value_error(retriever: Retriever, query: object, k: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        retriever.search(query, k=k)  # type: ignore[arg-type]


def test_k_larger_than_the_index_returns_all_chunks(retriever: Retriever) -> None:
    assert len(retriever.search("anything at all", k=50)) == 9


def test_missing_index_raises_index_missing(notes: Path, tmp_path: Path) -> None:
    r = Retriever(NoteIndex(notes, chroma_dir=tmp_path / "empty", embedder=HashingEmbedder()))
    with pytest.raises(IndexMissing, match="run `tutor index`"):
        r.search("merge")


def test_index_of_another_model_is_stale_not_mixed(notes: Path, tmp_path: Path) -> None:
    NoteIndex(notes, chroma_dir=tmp_path / "c", embedder=HashingEmbedder(name="old-model")).build()
    index = NoteIndex(notes, chroma_dir=tmp_path / "c", embedder=HashingEmbedder())
    assert index.state()[0] == "stale"
    with pytest.raises(IndexMissing, match="another version of the chunker or embedding model"):
        Retriever(index).search("merge")
    assert Retriever(index, auto_build=True).search("merge rows", k=1)[0].topic_id == "t1.tables"
    assert index.state()[0] == "ok"


def test_auto_build_builds_a_missing_index(notes: Path, tmp_path: Path) -> None:
    r = Retriever(NoteIndex(notes, chroma_dir=tmp_path / "auto", embedder=HashingEmbedder()), auto_build=True)
    assert r.search("elbow silhouette", k=1)[0].topic_id == "t2.clusters"


def test_bm25_is_rebuilt_after_the_index_changes(index: NoteIndex, notes: Path, retriever: Retriever) -> None:
    with pytest.raises(LookupError, match="module 't3'"):
        retriever.search("perplexity", module="t3")
    (notes / "t3.tsne.md").write_text(
        "---\ntopic_id: t3.tsne\ntitle: t-SNE\nmodule: t3\n---\n# t-SNE\n\nPerplexity sets the neighbourhood size.\n"
    )
    index.build()
    assert (
        retriever.search("perplexity", k=1, module="t3")[0].text == "Perplexity sets the neighbourhood size."
    )
    assert "t3.tsne" in {p.topic_id for p in retriever.search("perplexity", k=3)}


def test_change_by_another_process_is_seen_after_refresh(notes: Path, tmp_path: Path) -> None:
    chroma = tmp_path / "shared"
    NoteIndex(notes, chroma_dir=chroma, embedder=HashingEmbedder()).build()
    reader = Retriever(NoteIndex(notes, chroma_dir=chroma, embedder=HashingEmbedder()), refresh_s=0.0)
    reader.search("merge", k=1)
    (notes / "t1.arrays.md").unlink()
    NoteIndex(notes, chroma_dir=chroma, embedder=HashingEmbedder()).build()  # "another process"
    assert "t1.arrays" not in {p.topic_id for p in reader.search("broadcasting views", k=10)}


@pytest.mark.slow
def test_real_model_understands_learner_phrasing(notes: Path, tmp_path: Path) -> None:
    """The bundled MiniLM, loaded once per process, with the hub offline."""
    assert get_embedder() is get_embedder()
    r = Retriever(NoteIndex(notes, chroma_dir=tmp_path / "real"), auto_build=True)
    top = r.search("I wrote into part of my array and the whole thing changed", k=1)[0]
    assert top.heading == "Arrays > Slices are views"
    assert r.search("put similar customers into segments without labels", k=1)[0].topic_id == "t2.clusters"
