"""The note format: front matter checks and heading chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.notes_format import (
    NoteFormatError,
    chunk_note,
    parse_note,
    prose,
    runnable_code,
    slugify,
)

GOOD = """---
topic_id: m9.demo
title: Demo topic
module: m9
covers:
  - alpha
  - beta things
---
# Demo topic

Intro paragraph about alpha.

## First section

Text of the first section.

```python
# this is a comment, not a heading
x = 1
```

### A sub part

Sub text.

## Examples

One.

## Examples

Two.

```python no-run
import something_missing
```
"""


def write(tmp_path: Path, text: str, name: str = "m9.demo.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_parse_note_reads_front_matter_and_hash(tmp_path: Path) -> None:
    note = parse_note(write(tmp_path, GOOD))
    assert (note.topic_id, note.title, note.module) == ("m9.demo", "Demo topic", "m9")
    assert note.covers == ["alpha", "beta things"]
    assert note.body.startswith("# Demo topic")
    assert len(note.content_hash) == 64
    assert parse_note(write(tmp_path, GOOD + "\nmore\n")).content_hash != note.content_hash


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# no front matter\n", "expected YAML front matter"),
        ("---\ntopic_id: a\n# never closed\n", "never closed"),
        ("---\ntopic_id: [a\n---\nbody\n", "not valid YAML"),
        ("---\n- a\n- b\n---\nbody\n", "must be a mapping"),
        ("---\ntopic_id: a\ntitle: T\n---\nbody\n", "lacks module"),
        ("---\ntopic_id: a\ntitle: T\nmodule: m1\ncovers: one\n---\nbody\n", "'covers' must be a list"),
    ],
)
def test_broken_front_matter_names_file_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text, "broken.md")
    with pytest.raises(NoteFormatError, match=expected) as err:
        parse_note(path)
    assert "broken.md" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_chunks_follow_headings_with_paths_and_anchors(tmp_path: Path) -> None:
    chunks = chunk_note(parse_note(write(tmp_path, GOOD)))
    assert [c.heading_path for c in chunks] == [
        "Demo topic",
        "Demo topic > First section",
        "Demo topic > First section > A sub part",
        "Demo topic > Examples",
        "Demo topic > Examples",
    ]
    assert [c.anchor for c in chunks] == [
        "demo-topic",
        "first-section",
        "a-sub-part",
        "examples",
        "examples-1",
    ]
    # a '#' comment inside a code fence stays in its section
    assert "# this is a comment, not a heading" in chunks[1].text
    assert all(c.topic_id == "m9.demo" and c.module == "m9" for c in chunks)
    assert chunks[0].heading == "Demo topic" and chunks[2].heading == "A sub part"


def test_long_sections_split_at_paragraphs_not_inside_code(tmp_path: Path) -> None:
    paragraphs = "\n\n".join(f"Paragraph {i} " + "word " * 40 for i in range(8))
    code = "```python\n" + "\n\n".join(f"y{i} = {i}" for i in range(30)) + "\n```"
    text = GOOD.replace("Sub text.", paragraphs + "\n\n" + code)
    chunks = [
        c for c in chunk_note(parse_note(write(tmp_path, text)), max_chars=500) if c.heading == "A sub part"
    ]
    assert len(chunks) > 2
    assert [c.part for c in chunks] == list(range(len(chunks)))
    assert all(c.heading_path == "Demo topic > First section > A sub part" for c in chunks)
    fenced = [c for c in chunks if "```python" in c.text]
    assert len(fenced) == 1 and fenced[0].text.count("```") == 2  # the code block was kept whole


def test_runnable_code_skips_no_run_blocks(tmp_path: Path) -> None:
    body = parse_note(write(tmp_path, GOOD)).body
    code = runnable_code(body)
    assert "x = 1" in code
    assert "something_missing" not in code
    assert "x = 1" not in prose(body) and "Intro paragraph" in prose(body)


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Broadcasting rules", "broadcasting-rules"),
        ("Indexing/slicing: getting at parts", "indexingslicing-getting-at-parts"),
        ("`groupby` and **merge**", "groupby-and-merge"),
        ("Scaling by sqrt(d_k)", "scaling-by-sqrtd_k"),
    ],
)
def test_slugify_matches_github_anchors(heading: str, slug: str) -> None:
    assert slugify(heading) == slug
