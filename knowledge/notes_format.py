"""The course-note format: YAML front matter, Markdown body, heading-based chunks.

A note looks like::

    ---
    topic_id: m1.numpy
    title: NumPy
    module: m1
    covers:
      - ndarrays
      - broadcasting rules
    ---
    # NumPy
    intro ...
    ## Broadcasting rules
    ...

``parse_note`` checks the front matter and ``chunk_note`` splits the body at headings (``#`` lines
inside fenced code are not headings), keeping the heading path ("NumPy > Broadcasting rules") with
every chunk so that a chunk still says what it is about once it is cut out of its note.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

REQUIRED_FIELDS = ("topic_id", "title", "module")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
_CODE_BLOCK = re.compile(r"^```([^\n]*)\n(.*?)^```\s*$", re.S | re.M)


class NoteFormatError(ValueError):
    """A note file that cannot be read as a course note (bad or missing front matter)."""


@dataclass(frozen=True)
class Note:
    topic_id: str
    title: str
    module: str
    covers: list[str]
    body: str
    path: Path
    content_hash: str


@dataclass(frozen=True)
class Chunk:
    """One heading section (or a part of a long one) of a note."""

    topic_id: str
    module: str
    title: str
    heading: str  # the section's own heading ("Broadcasting rules")
    heading_path: str  # "NumPy > Broadcasting rules"
    anchor: str  # GitHub-style slug of the heading, for links
    text: str  # the section text without its heading line
    part: int = 0  # 0 for the first (or only) part of a section


def split_front_matter(text: str, where: str = "note") -> tuple[dict, str]:
    """Return (front matter dict, body). Raise NoteFormatError when the block is missing or not YAML."""
    if not text.startswith("---"):
        raise NoteFormatError(f"{where}: expected YAML front matter starting with '---' on line 1")
    end = re.search(r"^---\s*$", text[3:], re.M)
    if end is None:
        raise NoteFormatError(f"{where}: front matter opened with '---' is never closed by a '---' line")
    raw = text[3 : 3 + end.start()]
    try:
        meta = yaml.load(raw, Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as exc:
        raise NoteFormatError(f"{where}: front matter is not valid YAML ({exc})") from exc
    if not isinstance(meta, dict):
        raise NoteFormatError(f"{where}: front matter must be a mapping, got {type(meta).__name__}")
    return meta, text[3 + end.end() :].lstrip("\n")


def parse_note(path: Path) -> Note:
    """Read and validate one note; the hash covers the whole file so any edit re-indexes it."""
    text = path.read_text(encoding="utf-8")
    meta, body = split_front_matter(text, where=str(path))
    missing = [k for k in REQUIRED_FIELDS if not isinstance(meta.get(k), str) or not meta[k].strip()]
    if missing:
        raise NoteFormatError(
            f"{path}: front matter lacks {', '.join(missing)} (needs topic_id, title and module as strings)"
        )
    covers = meta.get("covers") or []
    if not isinstance(covers, list) or not all(isinstance(c, str) for c in covers):
        raise NoteFormatError(f"{path}: 'covers' must be a list of strings, got {covers!r}")
    return Note(
        topic_id=meta["topic_id"].strip(),
        title=meta["title"].strip(),
        module=str(meta["module"]).strip(),
        covers=[c.strip() for c in covers],
        body=body,
        path=path,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def slugify(heading: str) -> str:
    """GitHub's anchor rule: lower case, drop punctuation except '-' and '_', spaces to '-'."""
    text = re.sub(r"[`*_]{1,2}(.+?)[`*_]{1,2}", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def code_blocks(body: str) -> list[tuple[str, str]]:
    """(info string, code) of every fenced block, e.g. ("python", ...) or ("python no-run", ...)."""
    return [(m.group(1).strip(), m.group(2)) for m in _CODE_BLOCK.finditer(body)]


def runnable_code(body: str) -> str:
    """All ```python blocks (not ``python no-run``) joined in order: one script per note."""
    return "\n\n".join(code for info, code in code_blocks(body) if info.split() == ["python"])


def prose(body: str) -> str:
    """The body without fenced code blocks."""
    return _CODE_BLOCK.sub("", body)


def _sections(body: str) -> list[tuple[list[str], list[str]]]:
    """Split into (heading path, lines) sections; a '#' inside a code fence is not a heading."""
    sections: list[tuple[list[str], list[str]]] = [([], [])]
    stack: list[tuple[int, str]] = []
    in_fence = False
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if m:
            level = len(m.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, m.group(2).strip()))
            sections.append(([h for _, h in stack], []))
        else:
            sections[-1][1].append(line)
    return sections


def _split_long(text: str, max_chars: int) -> list[str]:
    """Cut a long section at blank lines (never inside a code fence) into parts of <= ~max_chars."""
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence and current:
            blocks.append("\n".join(current))
            current = []
        elif line.strip() or current:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    parts: list[str] = []
    for block in blocks:
        if parts and len(parts[-1]) + len(block) + 2 <= max_chars:
            parts[-1] += "\n\n" + block
        else:
            parts.append(block)
    return parts


def chunk_note(note: Note, max_chars: int = 800) -> list[Chunk]:
    """Heading chunks of a note; sections longer than ``max_chars`` are split at paragraph breaks.

    The H1 title itself is not repeated in the path of the intro chunk's children: a note's path
    starts with its front-matter title, then the H2/H3 headings below the H1.
    """
    chunks: list[Chunk] = []
    seen_anchors: dict[str, int] = {}
    for path, lines in _sections(note.body):
        anchor = slugify(path[-1]) if path else ""  # text above the first heading: no anchor
        if anchor:
            n = seen_anchors.get(anchor, 0)
            seen_anchors[anchor] = n + 1
            if n:  # GitHub numbers repeated headings: "examples", "examples-1", ...
                anchor = f"{anchor}-{n}"
        text = "\n".join(lines).strip()
        if not text:
            continue
        inner = path[1:] if path and path[0].strip().lower() == note.title.lower() else path
        heading = inner[-1] if inner else note.title
        heading_path = " > ".join([note.title, *inner])
        for i, part in enumerate(_split_long(text, max_chars)):
            chunks.append(
                Chunk(
                    topic_id=note.topic_id,
                    module=note.module,
                    title=note.title,
                    heading=heading,
                    heading_path=heading_path,
                    anchor=anchor,
                    text=part,
                    part=i,
                )
            )
    return chunks
