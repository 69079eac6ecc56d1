"""Reading a teacher's own course material (Markdown, text, PDF, Jupyter notebook, HTML) into
heading sections.

Files are loaded with ``langchain-community``'s document loaders where they keep the structure we
need: ``TextLoader`` (Markdown, text) and ``PyPDFLoader`` (PDF, one document per page, needs
``pypdf``); HTML goes through ``BSHTMLLoader`` (needs ``bs4``) extended to keep headings,
paragraphs, lists and code as Markdown, because its plain ``get_text`` runs paragraphs together.
Notebooks are read with ``nbformat`` (validated): ``NotebookLoader`` renders every cell as
``'markdown' cell: '[...]'`` with Python list reprs, which is not text a learner should read.

Everything becomes Markdown and is split at headings with the course notes' own splitter
(``knowledge.notes_format``), so answers can quote whole paragraphs; a PDF page is one section
("Page 3"), its lines re-flowed into paragraphs. Any problem raises ``MaterialError`` naming the
file: an unknown type, an empty or too large file, text that is not UTF-8, a corrupt PDF, a PDF
with no text layer, a notebook that is not valid JSON.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.notes_format import _sections, _split_long, slugify
from tutor.errors import BadInput

KINDS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".pdf": "pdf",
    ".ipynb": "notebook",
    ".html": "html",
    ".htm": "html",
}
MAX_SECTIONS = 2000  # chunks per file: bounds the embedding time of one upload (~1 min on 2 cores)
MAX_NAME_CHARS = 200
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.S)
_BAD_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]")


class MaterialError(BadInput):
    """A file that cannot be added as course material; the message names the file."""


@dataclass(frozen=True)
class Section:
    heading_path: str  # "Kalman filters > Predict step"
    heading: str  # "Predict step"
    anchor: str  # "predict-step"
    text: str  # the section (or a part of a long one) without its heading line
    part: int = 0


@dataclass(frozen=True)
class LoadedMaterial:
    name: str  # the file name as uploaded ("week3.pdf")
    kind: str  # "markdown" | "text" | "pdf" | "notebook" | "html"
    title: str
    text: str  # the whole material as Markdown (what ``GET /api/materials/{id}`` returns)
    sections: list[Section]
    content_hash: str  # sha256 of the file's bytes
    size: int  # bytes


def clean_name(name: str) -> str:
    """The file's base name, without path parts or control characters."""
    base = _BAD_NAME_CHARS.sub("", Path(str(name).replace("\\", "/")).name).strip()
    if not base or base in (".", ".."):
        raise MaterialError(f"{name!r}: a file needs a name with an extension such as .md or .pdf")
    if len(base) > MAX_NAME_CHARS:
        raise MaterialError(f"{base[:60]}...: the file name is over {MAX_NAME_CHARS} characters")
    return base


def kind_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in KINDS:
        known = ", ".join(sorted(KINDS))
        what = f"{suffix} files are" if suffix else "files without an extension are"
        raise MaterialError(
            f"{name}: {what} not supported; add Markdown, text, PDF, notebook or HTML ({known})"
        )
    return KINDS[suffix]


def load_material(name: str, data: bytes, max_bytes: int, max_chunk_chars: int = 800) -> LoadedMaterial:
    """Validate and read one file; every failure is a ``MaterialError`` that names it."""
    name = clean_name(name)
    kind = kind_of(name)
    if not data:
        raise MaterialError(f"{name}: the file is empty")
    if len(data) > max_bytes:
        raise MaterialError(
            f"{name}: {_size(len(data))} is over the limit of {_size(max_bytes)} "
            "(TUTOR_MAX_MATERIAL_BYTES); split it into smaller files"
        )
    with tempfile.TemporaryDirectory(prefix="tutor-material-") as tmp:
        path = Path(tmp) / f"upload{Path(name).suffix.lower()}"
        path.write_bytes(data)
        try:
            title, text, sections = _READERS[kind](path, Path(name).stem, max_chunk_chars)
        except MaterialError as e:
            raise MaterialError(f"{name}: {e}") from e
    if not sections:
        raise MaterialError(f"{name}: no text found in the file")
    if len(sections) > MAX_SECTIONS:
        raise MaterialError(
            f"{name}: {len(sections)} sections, the limit is {MAX_SECTIONS}; split it into smaller files"
        )
    return LoadedMaterial(
        name=name,
        kind=kind,
        title=title,
        text=text,
        sections=sections,
        content_hash=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} KB" if n >= 1e3 else f"{n} bytes"


# --- splitting ----------------------------------------------------------------------------------
def markdown_sections(body: str, title: str, max_chars: int) -> list[Section]:
    """Heading sections of a Markdown text (the notes' splitter: ``#`` in code is no heading)."""
    out: list[Section] = []
    seen: dict[str, int] = {}
    for path, lines in _sections(body):
        text = "\n".join(lines).strip()
        anchor = slugify(path[-1]) if path else ""
        if anchor:
            n = seen.get(anchor, 0)
            seen[anchor] = n + 1
            anchor = f"{anchor}-{n}" if n else anchor
        if not text:
            continue
        inner = path[1:] if path and path[0].strip().lower() == title.lower() else path
        heading = inner[-1] if inner else title
        heading_path = " > ".join([title, *inner])
        for i, part in enumerate(_split_long(text, max_chars)):
            out.append(Section(heading_path, heading, anchor, part, i))
    return out


def _title_from_markdown(body: str, fallback: str) -> str:
    for path, _ in _sections(body):
        if path:
            return path[0]
    return fallback


# --- readers: (path, stem, max_chars) -> (title, markdown text, sections) -------------------------
Read = tuple[str, str, list[Section]]


def _langchain_loaders() -> Any:
    with warnings.catch_warnings():  # "langchain-community is being sunset": noise for our users
        warnings.simplefilter("ignore")
        from langchain_community import document_loaders

    return document_loaders


def _read_utf8(path: Path) -> str:
    loader = _langchain_loaders().TextLoader(str(path), encoding="utf-8")
    try:
        docs = loader.load()
    except Exception as e:  # TextLoader wraps UnicodeDecodeError in RuntimeError
        cause = e.__cause__ or e
        if isinstance(cause, UnicodeDecodeError):
            raise MaterialError(f"not UTF-8 text (byte {cause.start}); save it as UTF-8") from e
        raise MaterialError(f"cannot be read ({cause})") from e
    return "".join(d.page_content for d in docs).replace("\r\n", "\n").lstrip("\ufeff")


def _read_markdown(path: Path, stem: str, max_chars: int) -> Read:
    body = _FRONT_MATTER.sub("", _read_utf8(path), count=1)
    title = _title_from_markdown(body, stem)
    return title, body.strip(), markdown_sections(body, title, max_chars)


def _read_text(path: Path, stem: str, max_chars: int) -> Read:
    body = _read_utf8(path).strip()
    parts = _split_long(body, max_chars) if body else []
    return stem, body, [Section(stem, stem, "", p, i) for i, p in enumerate(parts)]


def _read_notebook(path: Path, stem: str, max_chars: int) -> Read:
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # NotJSONError, ValidationError, UnicodeDecodeError, KeyError
        detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise MaterialError(f"not a valid Jupyter notebook ({detail})") from e
    blocks = []
    for cell in nb.cells:
        src = str(cell.get("source", "")).strip()
        if not src:
            continue
        if cell.cell_type == "markdown":
            blocks.append(src)
        elif cell.cell_type == "code":
            blocks.append(f"```python\n{src}\n```")
    body = "\n\n".join(blocks)
    title = _title_from_markdown(body, stem)
    return title, body, markdown_sections(body, title, max_chars)


def _read_pdf(path: Path, stem: str, max_chars: int) -> Read:
    loader = _langchain_loaders().PyPDFLoader(str(path), mode="page")
    try:
        pages = loader.load()
    except Exception as e:  # pypdf.errors.PdfReadError and friends on a corrupt file
        raise MaterialError(f"not a readable PDF ({type(e).__name__}: {str(e)[:200]})") from e
    title = stem
    if pages:
        meta_title = str(pages[0].metadata.get("title") or "").strip()
        title = meta_title or stem
    sections: list[Section] = []
    texts: list[str] = []
    for doc in pages:
        number = int(doc.metadata.get("page", len(texts))) + 1
        body = "\n\n".join(reflow(doc.page_content))
        if not body:
            continue
        heading = f"Page {number}"
        texts.append(f"## {heading}\n\n{body}")
        for i, part in enumerate(_split_long(body, max_chars)):
            sections.append(Section(f"{title} > {heading}", heading, f"page-{number}", part, i))
    if pages and not sections:
        raise MaterialError("the PDF has no text layer (scanned pages?); run OCR on it first")
    return title, f"# {title}\n\n" + "\n\n".join(texts), sections


def reflow(page: str) -> list[str]:
    """Paragraphs of a PDF page's text: lines are joined until one ends a sentence well short of
    the page's line width (or is a short line with no full stop, such as a heading)."""
    lines = [" ".join(line.split()) for line in page.splitlines()]
    width = max((len(line) for line in lines), default=0)
    paras: list[str] = []
    buf: list[str] = []
    for line in lines:
        if not line:
            if buf:
                paras.append(" ".join(buf))
                buf = []
            continue
        buf.append(line)
        short = len(line) < 0.75 * width
        if (short and line[-1] in ".!?:") or (len(line) < 0.5 * width and line[-1] not in ",;"):
            paras.append(" ".join(buf))
            buf = []
    if buf:
        paras.append(" ".join(buf))
    return [re.sub(r"(\w)- (\w)", r"\1\2", p) for p in paras if p]


def _read_html(path: Path, stem: str, max_chars: int) -> Read:
    docs = list(_html_loader(path).lazy_load())
    title = str(docs[0].metadata.get("title") or "").strip() if docs else ""
    body = docs[0].page_content if docs else ""
    title = title or _title_from_markdown(body, stem)
    return title, body, markdown_sections(body, title, max_chars)


def _html_loader(path: Path) -> Any:
    """``BSHTMLLoader`` whose text is Markdown: headings, paragraphs, lists, code blocks."""
    base = _langchain_loaders().BSHTMLLoader
    from langchain_core.documents import Document

    class MarkdownHTMLLoader(base):  # type: ignore[misc, valid-type]
        def lazy_load(self) -> Iterator[Document]:
            from bs4 import BeautifulSoup

            try:
                raw = Path(self.file_path).read_bytes().decode("utf-8")
            except UnicodeDecodeError as e:
                raise MaterialError(f"not UTF-8 text (byte {e.start}); save it as UTF-8") from e
            soup = BeautifulSoup(raw, "html.parser")
            title = soup.title.get_text(" ", strip=True) if soup.title else ""
            yield Document(page_content=html_markdown(soup), metadata={"source": "", "title": title})

    return MarkdownHTMLLoader(str(path), bs_kwargs={"features": "html.parser"})


_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "pre", "li", "blockquote", "dt", "dd", "td")


def html_markdown(soup: Any) -> str:
    """The readable blocks of an HTML page as Markdown (scripts, styles and navigation dropped)."""
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "template", "head"]):
        tag.decompose()
    root = soup.body or soup
    blocks: list[str] = []
    for el in root.find_all(_BLOCKS):
        if el.find_parent(_BLOCKS) is not None and el.name != "li":
            continue  # inside a block already taken whole (a <p> in a <li>, code in a <pre>)
        if el.name == "pre":
            blocks.append("```\n" + el.get_text().strip("\n") + "\n```")
            continue
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            blocks.append("#" * int(el.name[1:]) + " " + text)
        elif el.name == "li":
            if el.find_parent("li") is None:
                blocks.append(f"- {text}")
        else:
            blocks.append(text)
    if not blocks:  # a page of bare text without block tags
        text = root.get_text("\n", strip=True)
        return text.strip()
    out = blocks[0]
    for prev, b in zip(blocks, blocks[1:], strict=False):  # a list stays one paragraph
        out += ("\n" if b.startswith("- ") and prev.startswith("- ") else "\n\n") + b
    return out.strip()


_READERS = {
    "markdown": _read_markdown,
    "text": _read_text,
    "notebook": _read_notebook,
    "pdf": _read_pdf,
    "html": _read_html,
}
