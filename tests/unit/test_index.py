"""NoteIndex: heading chunks into Chroma, incremental by content hash (hashing embedder, no model)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.embedding import HashingEmbedder
from knowledge.index import (
    IndexMissing,
    IndexUnavailable,
    NoteIndex,
    NotesMissing,
    parse_chroma_url,
    source_of,
)
from knowledge.notes_format import NoteFormatError

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "sample_notes"


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    dst = tmp_path / "notes"
    shutil.copytree(SAMPLES, dst)
    return dst


def make_index(notes: Path, tmp_path: Path, embedder: HashingEmbedder | None = None) -> NoteIndex:
    return NoteIndex(notes, chroma_dir=tmp_path / "chroma", embedder=embedder or HashingEmbedder())


def test_first_build_indexes_every_heading_chunk(notes: Path, tmp_path: Path) -> None:
    index = make_index(notes, tmp_path)
    assert not index.is_built()
    summary = index.build()
    assert summary.chunks == summary.added == 9  # 3 notes x (intro + 2 sections)
    assert summary.removed == 0 and summary.seconds >= 0
    assert index.is_built()
    metas = {c.metadata["heading_path"]: c.metadata for c in index.stored_chunks()}
    m = metas["Tables > Merging tables"]
    assert (m["topic_id"], m["module"], m["title"], m["heading"]) == (
        "t1.tables",
        "t1",
        "Tables",
        "Merging tables",
    )
    assert m["source"].endswith("notes/t1.tables.md#merging-tables")
    assert len(m["note_hash"]) == 64
    assert set(summary.to_dict()) == {"chunks", "added", "removed", "seconds"}


def test_unchanged_notes_are_not_re_embedded(notes: Path, tmp_path: Path) -> None:
    emb = HashingEmbedder()
    make_index(notes, tmp_path, emb).build()
    calls = emb.calls
    # a new NoteIndex on the same directory (a restarted process) sees the stored hashes
    summary = make_index(notes, tmp_path, emb).build()
    assert (summary.chunks, summary.added, summary.removed) == (9, 0, 0)
    assert emb.calls == calls


def test_changed_note_replaces_only_its_chunks(notes: Path, tmp_path: Path) -> None:
    emb = HashingEmbedder()
    index = make_index(notes, tmp_path, emb)
    index.build()
    before = emb.calls
    path = notes / "t2.clusters.md"
    path.write_text(path.read_text() + "\n## Hierarchical clustering\n\nMerge the closest clusters.\n")
    summary = index.build()
    assert (summary.chunks, summary.added, summary.removed) == (10, 4, 3)
    assert emb.calls - before == 4
    headings = [c.metadata["heading_path"] for c in index.stored_chunks()]
    assert "Clustering > Hierarchical clustering" in headings
    assert len(headings) == len(set(headings))  # the old version's chunks are gone


def test_deleted_note_chunks_are_removed(notes: Path, tmp_path: Path) -> None:
    index = make_index(notes, tmp_path)
    index.build()
    (notes / "t1.arrays.md").unlink()
    summary = index.build()
    assert (summary.chunks, summary.added, summary.removed) == (6, 0, 3)
    assert {c.metadata["topic_id"] for c in index.stored_chunks()} == {"t1.tables", "t2.clusters"}


def test_rebuild_re_embeds_everything(notes: Path, tmp_path: Path) -> None:
    index = make_index(notes, tmp_path)
    index.build()
    summary = index.build(rebuild=True)
    assert (summary.chunks, summary.added) == (9, 9)


def test_another_embedder_forces_a_full_rebuild(notes: Path, tmp_path: Path) -> None:
    make_index(notes, tmp_path).build()
    other = NoteIndex(notes, chroma_dir=tmp_path / "chroma", embedder=HashingEmbedder(name="other-model"))
    assert other.build().added == 9  # vectors of two models must never be mixed


def test_fingerprint_changes_with_content(notes: Path, tmp_path: Path) -> None:
    index = make_index(notes, tmp_path)
    assert index.fingerprint() == ""
    index.build()
    first = index.fingerprint()
    index.build()
    assert index.fingerprint() == first
    (notes / "t1.tables.md").write_text((notes / "t1.tables.md").read_text() + "\nMore.\n")
    index.build()
    assert index.fingerprint() not in ("", first)


def test_progress_bar_goes_to_stderr(notes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_index(notes, tmp_path).build(progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "indexing notes" in err and "9/9" in err


def test_broken_note_fails_the_build_naming_it(notes: Path, tmp_path: Path) -> None:
    (notes / "bad.md").write_text("no front matter here\n")
    index = make_index(notes, tmp_path)
    with pytest.raises(NoteFormatError, match=r"bad\.md.*front matter"):
        index.build()
    assert not index.is_built()


def test_missing_notes_dir_and_missing_index_say_what_to_do(tmp_path: Path) -> None:
    index = make_index(tmp_path / "nowhere", tmp_path)
    with pytest.raises(NotesMissing, match="does not exist"):
        index.build()
    with pytest.raises(IndexMissing, match="tutor index"):
        index.stored_chunks()
    assert issubclass(IndexMissing, RuntimeError)


def test_in_memory_client_when_no_dir_or_url(notes: Path) -> None:
    index = NoteIndex(notes, embedder=HashingEmbedder(), collection="in_memory_test")
    assert index.build(rebuild=True).chunks == 9


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8123", ("127.0.0.1", 8123, False)),
        ("https://chroma.example.org", ("chroma.example.org", 443, True)),
        ("localhost:9000", ("localhost", 9000, False)),
        ("http://chroma", ("chroma", 8000, False)),
    ],
)
def test_parse_chroma_url(url: str, expected: tuple[str, int, bool]) -> None:
    assert parse_chroma_url(url) == expected


def test_bad_chroma_url_is_rejected_early(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http://host:port"):
        NoteIndex(tmp_path, chroma_url="ftp://x")


def test_unreachable_chroma_server_is_index_unavailable(notes: Path) -> None:
    index = NoteIndex(notes, chroma_url="http://127.0.0.1:9", embedder=HashingEmbedder())
    with pytest.raises(IndexUnavailable, match="cannot reach the Chroma server at http://127.0.0.1:9"):
        index.is_built()
    assert issubclass(IndexUnavailable, RuntimeError)


def test_source_is_repo_relative_inside_the_repo() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert source_of(repo / "knowledge" / "notes" / "m1.numpy.md", "broadcasting-rules") == (
        "knowledge/notes/m1.numpy.md#broadcasting-rules"
    )
