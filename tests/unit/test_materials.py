"""Teachers' own material (knowledge/material_loaders.py, knowledge/materials.py,
tutor/usecases/materials.py): loading and splitting each file type, clear errors per bad file,
indexing, replacing and removing in real Chroma, nothing half-indexed, and answers drawn from a
material only where it matches clearly better than the notes. Embeddings are the hashing fake
(the real model's thresholds are checked in the one slow test at the end)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from knowledge import materials as km
from knowledge.embedding import HashingEmbedder
from knowledge.index import NoteIndex
from knowledge.material_loaders import MaterialError, load_material, reflow
from knowledge.materials import MaterialIndex, MaterialSearch, material_id
from knowledge.retriever import Retriever
from tutor.usecases.explain import Explainer

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = DATA / "materials"
MB = 1_000_000


def load(name: str, max_bytes: int = 10 * MB) -> Any:
    return load_material(name, (FILES / name).read_bytes(), max_bytes)


# --- loading and splitting ------------------------------------------------------------------------
def test_markdown_is_split_at_headings_with_whole_paragraphs_and_code() -> None:
    m = load("kalman.md")
    assert (m.kind, m.title) == ("markdown", "Kalman filters")
    assert [s.heading_path for s in m.sections] == [
        "Kalman filters",
        "Kalman filters > Predict step",
        "Kalman filters > Update step",
    ]
    predict = m.sections[1]
    assert predict.anchor == "predict-step"
    assert predict.text.startswith("The predict step moves the state estimate forward")
    assert "```python\n# predict\nx = F @ x" in predict.text  # '#' in code is not a heading
    assert "\n\n```python" in predict.text  # paragraphs stay apart
    assert m.text.startswith("# Kalman filters")


def test_text_is_one_section_named_after_the_file() -> None:
    m = load("syllabus.txt")
    assert (m.kind, m.title, len(m.sections)) == ("text", "syllabus", 1)
    assert "Office hours are on Thursdays" in m.sections[0].text
    assert m.sections[0].text.count("\n\n") == 2


def test_notebook_markdown_cells_give_headings_and_code_cells_fenced_code() -> None:
    m = load("clipping.ipynb")
    assert (m.kind, m.title) == ("notebook", "Gradient clipping")
    assert [s.heading for s in m.sections] == ["Gradient clipping", "Clipping by norm"]
    assert m.sections[1].text.endswith(
        "```python\ntorch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n```"
    )
    assert "cell:" not in m.text  # not NotebookLoader's "'markdown' cell: '...'" rendering


def test_html_keeps_headings_paragraphs_lists_and_code_and_drops_scripts_and_navigation() -> None:
    m = load("dijkstra.html")
    assert (m.kind, m.title) == ("html", "Shortest paths")
    assert [s.heading for s in m.sections] == ["Shortest paths", "How Dijkstra's algorithm works"]
    body = m.sections[1].text
    assert body.startswith("It keeps a priority queue of nodes")
    assert "\n\n- start: distance 0\n- every other node: infinity\n\n```\ndist[v]" in body
    assert "console.log" not in m.text and "Home | Courses" not in m.text and "color:red" not in m.text


def test_pdf_is_split_into_pages_with_lines_reflowed_into_paragraphs() -> None:
    m = load("bloom.pdf")
    assert (m.kind, m.title) == ("pdf", "Bloom filters")  # the PDF's own title
    assert [(s.heading, s.anchor) for s in m.sections] == [("Page 1", "page-1"), ("Page 2", "page-2")]
    assert "membership questions with no false negatives" in m.sections[0].text  # lines joined
    assert m.sections[1].text.startswith("A lookup checks the same k bits")


def test_reflow_breaks_after_short_sentence_ends_and_heading_lines() -> None:
    page = "Title\nA long line of text that goes on and on across the page\nand ends here.\nNext one."
    assert reflow(page) == [
        "Title",
        "A long line of text that goes on and on across the page and ends here.",
        "Next one.",
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.docx", b"PK\x03\x04", "notes.docx: .docx files are not supported"),
        ("README", b"text", "README: files without an extension are not supported"),
        ("empty.md", b"", "empty.md: the file is empty"),
        ("blank.md", b"   \n\n  \n", "blank.md: no text found"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "latin.txt: not UTF-8 text"),
        ("broken.ipynb", b'{"cells": [', "broken.ipynb: not a valid Jupyter notebook"),
        ("corrupt.pdf", (FILES / "corrupt.pdf").read_bytes(), "corrupt.pdf: not a readable PDF"),
        ("../../etc/evil.md", b"", "evil.md: the file is empty"),  # only the base name is kept
    ],
)
def test_bad_files_get_a_clear_error_naming_the_file(name: str, data: bytes, message: str) -> None:
    with pytest.raises(MaterialError) as e:
        load_material(name, data, MB)
    assert str(e.value).startswith(message)


def test_a_file_over_the_limit_is_refused_with_the_setting_named() -> None:
    with pytest.raises(
        MaterialError,
        match=r"kalman.md: 834 bytes is over the limit of 100 bytes \(TUTOR_MAX_MATERIAL_BYTES\)",
    ):
        load("kalman.md", max_bytes=100)


def test_a_pdf_without_a_text_layer_says_so(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = plt.figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    fig.gca().set_axis_off()
    path = tmp_path / "scan.pdf"
    fig.savefig(path, format="pdf")
    plt.close(fig)
    with pytest.raises(MaterialError, match="scan.pdf: the PDF has no text layer"):
        load_material("scan.pdf", path.read_bytes(), MB)


def test_material_ids_are_readable_and_follow_the_file_name() -> None:
    assert material_id("Week 3 notes.md") == material_id("Week 3 notes.md")
    assert material_id("Week 3 notes.md").startswith("week-3-notes-md-")
    assert material_id("a b.md") != material_id("a-b.md")


# --- indexing -------------------------------------------------------------------------------------
@pytest.fixture
def notes(tmp_path: Path) -> NoteIndex:
    index = NoteIndex(DATA / "sample_notes", chroma_dir=tmp_path / "chroma", embedder=HashingEmbedder())
    index.build()
    return index


@pytest.fixture
def mindex(notes: NoteIndex) -> MaterialIndex:
    return MaterialIndex(notes, max_bytes=MB)


def add(mindex: MaterialIndex, name: str, who: str = "teacher") -> Any:
    return mindex.add(name, (FILES / name).read_bytes(), who)


def test_added_material_is_listed_searchable_and_readable(mindex: MaterialIndex) -> None:
    rec = add(mindex, "kalman.md", "ms-frizzle")
    assert rec.id == material_id("kalman.md") and rec.sections == 3 and rec.uploader == "ms-frizzle"
    assert [r.id for r in mindex.records()] == [rec.id]
    record, text = mindex.source(rec.id)
    assert record == rec and text.startswith("# Kalman filters")
    hits = MaterialSearch(mindex).search("predict step process noise covariance", k=2)
    assert hits[0].heading == "Kalman filters > Predict step"
    assert hits[0].source == f"/api/materials/{rec.id}" and hits[0].topic_id == rec.id
    assert mindex.count() == 3
    assert mindex.notes.collection().count() == len(mindex.notes.stored_chunks())  # notes untouched


def test_every_type_indexes(mindex: MaterialIndex) -> None:
    for name in ("kalman.md", "syllabus.txt", "clipping.ipynb", "dijkstra.html", "bloom.pdf"):
        add(mindex, name)
    assert sorted(r.kind for r in mindex.records()) == ["html", "markdown", "notebook", "pdf", "text"]
    top = MaterialSearch(mindex).search("bloom filter false positives", k=1)[0]
    assert top.title == "Bloom filters" and top.heading == "Bloom filters > Page 1"


def test_re_adding_the_same_file_replaces_it(mindex: MaterialIndex) -> None:
    first = add(mindex, "kalman.md")
    changed = (FILES / "kalman.md").read_text().replace("## Update step", "## Correction step")
    second = mindex.add("kalman.md", changed.encode(), "teacher")
    assert second.id == first.id and second.content_hash != first.content_hash
    assert [r.content_hash for r in mindex.records()] == [second.content_hash]
    headings = {c.metadata["heading"] for c in mindex.stored_chunks()}
    assert headings == {"Kalman filters", "Predict step", "Correction step"}  # no old sections left
    assert mindex.count() == 3


def test_remove_by_id_takes_it_out_of_search_and_the_list(mindex: MaterialIndex) -> None:
    kalman, syllabus = add(mindex, "kalman.md"), add(mindex, "syllabus.txt")
    search = MaterialSearch(mindex)
    assert search.search("kalman gain", k=5)
    assert mindex.remove(kalman.id) == kalman
    assert [r.id for r in mindex.records()] == [syllabus.id]
    assert {p.topic_id for p in search.search("kalman gain predict step", k=5)} == {syllabus.id}
    with pytest.raises(LookupError, match="not found"):
        mindex.remove(kalman.id)
    mindex.remove(syllabus.id)
    assert search.search("kalman", k=5) == [] and mindex.count() == 0


def test_a_batch_indexes_good_files_and_nothing_of_bad_ones(mindex: MaterialIndex) -> None:
    out = mindex.add_many(
        [
            ("kalman.md", (FILES / "kalman.md").read_bytes()),
            ("corrupt.pdf", (FILES / "corrupt.pdf").read_bytes()),
        ],
        "teacher",
    )
    assert [a["source_name"] for a in out["added"]] == ["kalman.md"]
    assert [e["file"] for e in out["errors"]] == ["corrupt.pdf"]
    assert "not a readable PDF" in out["errors"][0]["error"]
    assert {c.metadata["material"] for c in mindex.stored_chunks()} == {material_id("kalman.md")}


def test_a_failed_write_leaves_nothing_half_indexed_and_the_old_version_intact(
    mindex: MaterialIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = add(mindex, "kalman.md")
    before = sorted(c.id for c in mindex.stored_chunks())
    monkeypatch.setattr(km, "_ADD_BATCH", 1)  # one section per write, so the failure is mid-file
    coll = mindex._collection()
    real_add, calls = coll.add, []

    def flaky_add(**kw: Any) -> None:
        calls.append(kw["ids"])
        if len(calls) == 2:
            raise RuntimeError("chroma went away")
        real_add(**kw)

    monkeypatch.setattr(
        mindex,
        "_collection",
        lambda name=km.COLLECTION: (
            coll if name == km.COLLECTION else mindex.notes.client.get_collection(name)
        ),
    )
    monkeypatch.setattr(coll, "add", flaky_add)
    changed = (FILES / "kalman.md").read_text().replace("blends", "mixes").encode()
    with pytest.raises(RuntimeError, match="chroma went away"):
        mindex.add("kalman.md", changed, "teacher")
    assert len(calls) == 2  # the first section was written, then rolled back
    assert sorted(c.id for c in mindex.stored_chunks()) == before
    assert [r.content_hash for r in mindex.records()] == [old.content_hash]


# --- answers --------------------------------------------------------------------------------------
class NoCards:
    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def cards(self) -> dict[str, Any]:
        return {}


def explainer(notes: NoteIndex, search: Any) -> Explainer:
    return Explainer(NoCards(), Retriever(notes), lambda t: t.title(), lambda t: [], materials=search)


def test_a_question_only_the_material_answers_is_answered_from_it_with_a_citation(
    mindex: MaterialIndex, notes: NoteIndex
) -> None:
    rec = add(mindex, "kalman.md")
    # the hashing embedder knows no meaning: a lower floor than the real model's, same margin rule
    ex = explainer(notes, MaterialSearch(mindex, min_similarity=0.2))
    a = ex.answer("what does the predict step do to the state estimate and its covariance?")
    assert a.kind == "material" and a.topic_id is None and a.card_id is None
    assert a.text.startswith("From your teacher's material **Kalman filters › Predict step**")
    assert "The predict step moves the state estimate forward in time" in a.text  # a whole paragraph
    assert [c.to_dict() for c in a.citations] == [
        {"topic_id": "material", "source": f"/api/materials/{rec.id}", "section": "Predict step"}
    ]
    assert f"**Sources:** [Kalman filters › Predict step](/api/materials/{rec.id})" in a.text


def test_a_question_the_notes_answer_as_well_stays_with_the_notes(
    mindex: MaterialIndex, notes: NoteIndex
) -> None:
    add(mindex, "kalman.md")
    ex = explainer(notes, MaterialSearch(mindex, min_similarity=0.2))
    a = ex.answer("what do the broadcasting rules say about shapes")
    assert a.kind == "notes" and a.topic_id == "t1.arrays"
    assert ex.answer("what does the predict step do", topic_id="t1.arrays").kind != "material"  # a follow-up


def test_without_material_or_with_a_broken_search_answers_come_from_the_notes(notes: NoteIndex) -> None:
    class Broken:
        def match(self, query: str) -> Any:
            raise RuntimeError("chroma is down")

    q = "what do the broadcasting rules say about shapes"
    assert explainer(notes, None).answer(q).kind == "notes"
    assert explainer(notes, Broken()).answer(q).kind == "notes"
    assert explainer(notes, MaterialSearch(MaterialIndex(notes))).answer(q).kind == "notes"  # empty


def test_a_card_still_comes_first(mindex: MaterialIndex, notes: NoteIndex) -> None:
    from knowledge.card_index import CardHit
    from tests.unit.test_explain import card

    add(mindex, "kalman.md")
    hit = CardHit(card("predict", topic="t1.arrays"), 0.9, 0.9, "what does the predict step do")

    class OneCard(NoCards):
        def search(self, *args: Any, **kwargs: Any) -> list[Any]:
            return [hit]

    ex = Explainer(
        OneCard(), Retriever(notes), str, lambda t: [], materials=MaterialSearch(mindex, min_similarity=0.2)
    )
    assert ex.answer("what does the predict step do to the state estimate").kind == "card"


@pytest.mark.slow
def test_real_model_prefers_material_only_where_it_is_better(tmp_path: Path) -> None:
    """The bundled MiniLM over the real course notes: the thresholds send questions about the
    material to it and course questions to the notes."""
    from knowledge.embedding import get_embedder

    notes = NoteIndex(DATA / "sample_notes", chroma_dir=tmp_path / "chroma", embedder=get_embedder())
    notes.build()
    mindex = MaterialIndex(notes)
    for name in ("kalman.md", "dijkstra.html", "bloom.pdf"):
        add(mindex, name)
    search = MaterialSearch(mindex)
    for q in ("how does the predict step of a kalman filter work", "what is a bloom filter"):
        assert search.match(q) is not None, q
    for q in ("what are the broadcasting rules for array shapes", "how do I bake bread"):
        assert search.match(q) is None, q


def test_fixture_notebook_is_valid_json() -> None:
    assert json.loads((FILES / "clipping.ipynb").read_text())["nbformat"] == 4
