"""The pre-training corpus beyond the course notes: docstrings of the installed scientific Python stack.

The 43 notes are ~0.4 MB, far too little English for a GPT to learn the language of the field. The
packages the tutor teaches already carry tens of MB of it, under permissive licences, in their
docstrings: this module reads them at recipe time (no corpus file lives in the repo) and turns them
into plain paragraphs.

How, and why that way:
- source files are parsed with ``ast``, never imported: importing every submodule of torch or
  transformers takes minutes and runs their side effects. A package is located with
  ``importlib.util.find_spec`` (which imports nothing below the top level), the standard library
  with ``sysconfig``. Module, class and function docstrings are read, and also the string
  arguments of the statement-level calls that attach docs to C functions (``add_docstr`` in torch,
  ``add_newdoc`` in numpy), where most of those packages' reference text lives.
- ``clean_docstring`` keeps prose only: doctests, code blocks, reST directives, section headers,
  parameter name/type lines, tables and markup go; roles are unwrapped to their text.
- paragraphs are deduplicated across packages (first one wins, in the order packages are given),
  so boilerplate repeated across thousands of inherited docstrings counts once.
- everything is walked in sorted order: the same installed packages give the same bytes.
- a manifest (package, version, licence, bytes, sha256) goes next to the model, so a card can say
  exactly what the model read.
"""

from __future__ import annotations

import ast
import gc
import hashlib
import importlib.metadata as md
import importlib.util
import inspect
import json
import logging
import os
import platform
import re
import sysconfig
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STDLIB = "stdlib"
# Import names, in the order that decides which copy of a duplicated paragraph is kept: the packages
# the course teaches first. Absent ones (statsmodels, ...) are skipped with a log line.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "numpy",
    "scipy",
    "sklearn",
    "pandas",
    "matplotlib",
    "torch",
    "transformers",
    "statsmodels",
    "networkx",
    "sympy",
    STDLIB,
)
# With a byte budget, the first pass takes this many paragraphs of every file (module and first
# class docs) before a second pass goes on file by file: a budget spreads over the whole package
# instead of filling up with its alphabetically first subpackage.
FIRST_PASS_PER_FILE = 3

# Directories never read: tests, vendored code (other authors, other licences), build helpers.
SKIP_DIRS = frozenset(
    {"test", "tests", "testing", "_testing", "benchmarks", "_vendor", "vendor", "vendored", "externals"}
    | {"__pycache__", "site-packages", "dist-packages"}
)
# Files never read: tests, and transformers' conversion scripts and "modular" sources (the modeling
# files are generated from those: same docstrings, a third of its parse time).
SKIP_FILE_PREFIXES = ("test_", "conftest", "convert_", "modular_")
# The standard library's own extras that are not library documentation.
STDLIB_SKIP_DIRS = frozenset(
    {"idlelib", "lib2to3", "turtledemo", "encodings", "ensurepip", "pydoc_data", "lib-dynload", "__phello__"}
)
_DOC_CALL = re.compile(r"add_docstr|add_newdoc")  # torch / numpy attach C-function docs this way

# --- cleaning -------------------------------------------------------------------------------------

# NumPy-doc and Google-style section names -> what happens to the section's body.
_ITEMS, _DROP, _PROSE = "items", "drop", "prose"
SECTIONS: dict[str, str] = {
    **dict.fromkeys(
        [
            "parameters", "params", "args", "arguments", "other parameters", "keyword arguments",
            "keyword args", "kwargs", "attributes", "returns", "return", "yields", "yield", "raises",
            "raise", "warns", "receives", "methods", "inputs", "outputs",
        ],
        _ITEMS,
    ),
    **dict.fromkeys(["see also", "references", "shape", "shapes", "todo", "type"], _DROP),
    **dict.fromkeys(
        ["notes", "note", "warning", "warnings", "example", "examples", "extended summary", "summary"],
        _PROSE,
    ),
}  # fmt: skip
# reST directives whose body is prose (kept); every other directive's block is dropped (code, math,
# plots, autosummary tables, images, ...).
PROSE_DIRECTIVES = frozenset(
    {"note", "warning", "hint", "important", "tip", "caution", "attention", "danger", "error", "admonition"}
    | {"versionadded", "versionchanged", "deprecated", "seealso"}
)
_VERSION_DIRECTIVES = frozenset({"versionadded", "versionchanged", "deprecated"})
# Sphinx field lists: these keep their description, the others (:type x:, :rtype:) go.
_PROSE_FIELDS = frozenset(
    {"param", "parameter", "arg", "argument", "key", "keyword", "return", "returns", "raise", "raises"}
    | {"yield", "yields", "var", "ivar", "cvar", "except", "exception"}
)

_DIRECTIVE = re.compile(r"^\.\.\s+([\w:-]+)::\s*(.*)$")
_UNDERLINE = re.compile(r"^([-=~^*+#\"'`_])\1{2,}$")
_GOOGLE_HEADER = re.compile(r"^([A-Za-z][A-Za-z ]{1,30}?)\s*::?$")
_GOOGLE_ITEM = re.compile(r"^\*{0,2}[A-Za-z_][\w.]*(?:\s*\(.*\))?\s*:(?:\s+(.*))?$")
_TYPED_ITEM = re.compile(r"^\*{0,2}[A-Za-z_][\w.]*\s*\(.*\)\s*:(?:\s+(.*))?$")
_FIELD = re.compile(r"^:(\w+)\b[^:]*:\s*(.*)$")
_OPTION = re.compile(r"^:[\w-]+:")
_PROMPT = re.compile(r"^(>>>|In \[\d*\]:)")
_SIGNATURE = re.compile(r"^[\w.]+\(.*\)(\s*->.*)?$")
_HTML_TAG_LINE = re.compile(r"^</?[A-Za-z][\w-]*[^>]*>$")
_PLACEHOLDER_LINE = re.compile(r"^(%\(\w+\)s|\{\w+\})$")

_ROLE = re.compile(r"(?::[\w-]+)+:`([^`]*)`")
_DOUBLE_TICK = re.compile(r"``([^`]*)``")
_LINK = re.compile(r"`([^`<]*?)\s*<[^>`]*>`__?")
_REF = re.compile(r"`([^`]+)`__?")
_MD_REF = re.compile(r"\[`([^`\]]+)`\]")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_TICK = re.compile(r"`([^`]+)`")
_CITATION = re.compile(r"\s*\[[\w#*-]+\]_")
_EMPHASIS = re.compile(r"(?<![\w*])\*{1,2}([^*\s](?:[^*]*[^*\s])?)\*{1,2}(?![\w*])")
_PCT_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_ESCAPE = re.compile(r"\\([^\w\s])")
_SPACE = re.compile(r"\s+")
_NOT_LETTER = re.compile(r"[\W\d_]+")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block_end(lines: Sequence[str], i: int, ind: int) -> int:
    """Index after the block indented deeper than ``ind`` that follows line ``i`` (blank lines inside)."""
    end = i + 1
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > ind):
        if lines[j].strip():
            end = j + 1
        j += 1
    return end


def _target(text: str) -> str:
    """A role's or code span's shown text: ``title <target>`` -> title, ``~a.b.c`` -> c, ``!x`` -> x."""
    text = text.strip()
    if text.endswith(">") and "<" in text:
        text = text[: text.index("<")].strip() or text[text.index("<") + 1 : -1]
    if text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return text.lstrip("!")


def _drop_code(lines: list[str]) -> list[str]:
    """Pass 1: doctests, fenced and literal blocks, directives (prose ones keep their body)."""
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        s = line.strip()
        ind = _indent(line)
        if _PROMPT.match(s):  # the prompt, its continuation lines and its output, up to a blank line
            while i < n and lines[i].strip():
                i += 1
            continue
        if s.startswith("..."):  # a stray continuation line
            i += 1
            continue
        if s.startswith("```"):  # a Markdown fence (transformers)
            i += 1
            while i < n and not lines[i].strip().startswith("```"):
                i += 1
            i += 1
            continue
        m = _DIRECTIVE.match(s)
        if m:
            name, rest = m.group(1).lower(), m.group(2).strip()
            end = _block_end(lines, i, ind)
            if name in PROSE_DIRECTIVES:
                out.append("")
                if name in _VERSION_DIRECTIVES:  # ".. versionadded:: 1.2 text": the version goes
                    rest = rest.split(None, 1)[1] if " " in rest else ""
                if rest:
                    out.append(" " * ind + rest)
                out.extend(_drop_code([x for x in lines[i + 1 : end] if not _OPTION.match(x.strip())]))
                out.append("")
            i = end
            continue
        if s == ".." or s.startswith(".. "):  # comments, link targets, footnotes ".. [1] ..."
            i = _block_end(lines, i, ind)
            continue
        if s.endswith("::"):  # "Example::" / "as follows::" introduce an indented literal block
            if s[:-2].strip():
                out.append(line.rstrip()[:-2].rstrip() + ":")
            i = _block_end(lines, i, ind)
            continue
        out.append(line)
        i += 1
    return out


def _drop_sections(lines: list[str]) -> list[str]:
    """Pass 2: section headers go; parameter-like sections keep descriptions only; some sections go."""
    out: list[str] = []
    kind, google, head_ind = _PROSE, False, 0
    item_ind: int | None = None
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            out.append("")
            continue
        if _UNDERLINE.match(s):
            continue
        ind = _indent(line)
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _UNDERLINE.match(nxt) and len(nxt) >= min(len(s), 3):  # a NumPy-doc header or a title
            kind, google, head_ind, item_ind = SECTIONS.get(s.rstrip(":").lower(), _PROSE), False, ind, ind
            out.append("")
            continue
        m = _GOOGLE_HEADER.match(s)
        if m and m.group(1).lower() in SECTIONS:
            kind, google, head_ind, item_ind = SECTIONS[m.group(1).lower()], True, ind, None
            out.append("")
            continue
        if google and ind <= head_ind:  # a Google section ends where its indentation does
            kind, google = _PROSE, False
        f = _FIELD.match(s)
        if f and f.group(1).lower() in _PROSE_FIELDS | {"type", "rtype", "vartype", "meta"}:
            out.extend(["", f.group(2)] if f.group(1).lower() in _PROSE_FIELDS else [""])
            continue
        if kind == _DROP:
            continue
        if kind == _ITEMS:
            if item_ind is None:
                item_ind = ind
            if ind <= item_ind and not google:  # a NumPy-doc item's head, "x : array_like"
                out.append("")
                continue
            g = _GOOGLE_ITEM.match(s) if ind <= item_ind else None
            if g:  # a Google item, "x (int): text": the text starts a paragraph
                out.extend(["", g.group(1) or ""])
                continue
        elif kind == _PROSE:
            g = _TYPED_ITEM.match(s)
            if g:  # an item outside any Args header (transformers' config docs): "x (`int`):"
                out.extend(["", g.group(1) or ""])
                continue
        out.append(s)
    return out


def _inline(line: str) -> str:
    """Unwrap roles, code spans, links and emphasis to their text."""
    line = _ROLE.sub(lambda m: _target(m.group(1)), line)
    line = _DOUBLE_TICK.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _MD_REF.sub(lambda m: _target(m.group(1)), line)
    line = _MD_LINK.sub(r"\1", line)
    line = _REF.sub(lambda m: _target(m.group(1)), line)
    line = _TICK.sub(lambda m: _target(m.group(1)), line)
    line = _CITATION.sub("", line)
    line = _EMPHASIS.sub(r"\1", line)
    line = _PCT_PLACEHOLDER.sub(r"\1", line)
    return _ESCAPE.sub(r"\1", line)


def _letter_share(text: str) -> float:
    """Letters among the non-space characters (regex counts: this runs on every line of 100+ MB)."""
    chars = len(_SPACE.sub("", text))
    return len(_NOT_LETTER.sub("", text)) / chars if chars else 0.0


def _keep_line(s: str) -> bool:
    """False for table rows, bare signatures, tag or placeholder lines and lines mostly of symbols."""
    return not (
        s.startswith(("|", "+-", "+="))
        or _SIGNATURE.match(s)
        or _HTML_TAG_LINE.match(s)
        or _PLACEHOLDER_LINE.match(s)
        or _letter_share(s) < 0.5
    )


def paragraphs(doc: str, min_words: int = 6) -> list[str]:
    """The prose paragraphs of one docstring, each on one line, short or symbol-heavy ones dropped."""
    lines = _drop_sections(_drop_code(doc.expandtabs().splitlines()))
    found: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        s = line.strip()
        if s:
            if _keep_line(s):
                current.append(s)
            continue
        if current:  # markup is unwrapped on the whole paragraph: roles and links span lines
            text = _SPACE.sub(" ", _inline(" ".join(current))).strip()
            if len(text.split()) >= min_words and _letter_share(text) >= 0.7:
                found.append(text)
            current = []
    return found


def clean_docstring(doc: str, min_words: int = 6) -> str:
    """A docstring as prose: its kept paragraphs joined by blank lines ("" when none is left).

    Gone: doctests (``>>>`` and ``...`` lines, and the output after them up to a blank line), literal
    blocks after ``::``, Markdown fences, reST directives with their block (prose admonitions such as
    ``.. note::`` keep their text, version directives lose only the version), section underlines,
    NumPy-doc / Google section headers, the name/type line of each parameter (its description
    stays), See Also / References sections, tables and lines mostly of symbols. Roles become their
    text (``:class:`~numpy.ndarray``` -> ndarray, ``:math:`x^2``` -> x^2), code spans their content.
    A paragraph is kept with at least ``min_words`` words and at least 70% letters.
    """
    return "\n\n".join(paragraphs(doc, min_words))


# --- reading packages -------------------------------------------------------------------------------


@dataclass
class CorpusPart:
    """One package's extracted text: cleaned paragraphs joined by blank lines."""

    package: str
    version: str
    licence: str
    text: str
    files: int = 0  # source files read

    @property
    def bytes(self) -> int:
        return len(self.text.encode("utf-8"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def paragraphs(self) -> int:
        return self.text.count("\n\n") + 1 if self.text else 0


def _doc_strings(tree: ast.Module) -> Iterator[str]:
    """Docstrings of the module, its classes and functions (nested ones too), in source order, and the
    string arguments of statement-level ``add_docstr(...)`` / ``add_newdoc(...)`` calls."""
    doc = ast.get_docstring(tree)
    if doc:
        yield doc
    stack: list[list[ast.stmt]] = [list(reversed(tree.body))]
    while stack:
        body = stack[-1]
        if not body:
            stack.pop()
            continue
        node = body.pop()
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc:
                yield doc
        elif isinstance(node, ast.Expr | ast.Assign) and isinstance(node.value, ast.Call):
            yield from _call_docs(node.value)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, field, None)
            if children:
                stack.append(list(reversed(children)))


def _call_docs(call: ast.Call) -> Iterator[str]:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if not _DOC_CALL.search(name):
        return
    for arg in call.args:
        for item in arg.elts if isinstance(arg, ast.Tuple | ast.List) else [arg]:
            text = _literal_text(item)
            if text and " " in text:
                yield inspect.cleandoc(text)


def _literal_text(node: ast.expr) -> str | None:
    """The text of a string literal, of literals joined with ``+``, or of a ``"...".format(...)``
    template (its placeholders are left to the cleaner); None for anything else."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _literal_text(node.func.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_text(node.left), _literal_text(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _source_files(roots: Iterable[Path], skip_dirs: frozenset[str]) -> list[Path]:
    """Every .py file under ``roots`` in sorted order, test and skipped directories left out."""
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in skip_dirs and not d.startswith(".") and "-" not in d  # not importable
            )
            for f in sorted(filenames):
                if f.endswith(".py") and not f.startswith(SKIP_FILE_PREFIXES):
                    files.append(Path(dirpath) / f)
    return files


def _file_paragraphs(path: Path, min_words: int, memo: dict[str, list[str]]) -> list[str] | None:
    """The cleaned paragraphs of one source file, in source order; None if it does not parse.

    ``memo`` maps a raw docstring to its paragraphs: inherited and copied docstrings (thousands in
    transformers) are cleaned once.
    """
    try:
        source = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old docstrings
            tree = ast.parse(source, filename=str(path))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        return None
    found: list[str] = []
    for doc in _doc_strings(tree):
        paras = memo.get(doc)
        if paras is None:
            paras = memo[doc] = paragraphs(doc, min_words)
        found.extend(paras)
    return found


def _distribution(name: str) -> md.Distribution | None:
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        pass
    for dist_name in md.packages_distributions().get(name, []):
        try:
            return md.distribution(dist_name)
        except md.PackageNotFoundError:
            continue
    return None


def _field(meta: md.PackageMetadata, key: str) -> str:
    values = meta.get_all(key) or []
    return str(values[0]).strip() if values else ""


def licence_of(dist: md.Distribution | None) -> str:
    """License-Expression, else a short License field, else the "License ::" classifiers."""
    if dist is None:
        return "see package"
    meta = dist.metadata
    expr = _field(meta, "License-Expression")
    if expr:
        return expr
    text = _field(meta, "License")
    if text and len(text) <= 60 and "\n" not in text and text.upper() not in {"UNKNOWN", "NONE"}:
        return text
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::") and c.split("::")[-1].strip() != "OSI Approved"
    ]
    return " OR ".join(classifiers) if classifiers else "see package"


def _locate(name: str) -> tuple[list[Path], str, str, frozenset[str]] | None:
    """(roots, version, licence, skipped dir names) of a package, or None when it is not installed."""
    if name == STDLIB:
        return (
            [Path(sysconfig.get_paths()["stdlib"])],
            platform.python_version(),
            "PSF-2.0",
            (SKIP_DIRS | STDLIB_SKIP_DIRS),
        )
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        roots = sorted(Path(p) for p in spec.submodule_search_locations)
    elif spec.origin and spec.origin.endswith(".py"):
        roots = [Path(spec.origin)]
    else:
        return None
    dist = _distribution(name)
    version = dist.version if dist is not None else "unknown"
    return roots, version, licence_of(dist), SKIP_DIRS


def _select(per_file: list[list[str]], max_bytes: int | None) -> list[str]:
    """Paragraphs in file order; under a budget, the first FIRST_PASS_PER_FILE of every file come
    first, then the rest file by file, until the next one would go past ``max_bytes``."""
    if max_bytes is None:
        return [p for ps in per_file for p in ps]
    order = [(f, k) for f, ps in enumerate(per_file) for k in range(min(len(ps), FIRST_PASS_PER_FILE))]
    order += [(f, k) for f, ps in enumerate(per_file) for k in range(FIRST_PASS_PER_FILE, len(ps))]
    chosen: list[tuple[int, int]] = []
    used = 0
    for f, k in order:
        size = len(per_file[f][k].encode("utf-8")) + (2 if chosen else 0)
        if used + size > max_bytes:
            break
        used += size
        chosen.append((f, k))
    return [per_file[f][k] for f, k in sorted(chosen)]


def extract(
    packages: Sequence[str] = DEFAULT_PACKAGES,
    *,
    max_bytes_per_package: int | None = None,
    min_words: int = 6,
) -> list[CorpusPart]:
    """Read, clean and deduplicate the docstrings of ``packages`` (import names, or "stdlib").

    Packages that are not installed are skipped (logged). A paragraph already taken from an earlier
    package, or earlier in the same one, is left out. Packages whose text ends up empty are left out.
    ``max_bytes_per_package`` caps each part's UTF-8 text (see ``_select`` for which paragraphs win);
    every file is still parsed, so a budget does not make it faster: the defaults take ~70 s of one
    core for ~19 MB (numpy 2.4 ... transformers 5.24, 180 MB of source), most of it in ``ast.parse``.
    """
    gc_was_on = gc.isenabled()
    gc.disable()  # ASTs are freed by reference counting; collections during parsing cost ~20% here
    try:
        return _extract(packages, max_bytes_per_package, min_words)
    finally:
        if gc_was_on:
            gc.enable()


def _extract(packages: Sequence[str], max_bytes: int | None, min_words: int) -> list[CorpusPart]:
    seen: set[str] = set()
    memo: dict[str, list[str]] = {}
    parts: list[CorpusPart] = []
    for name in packages:
        t0 = time.perf_counter()
        found = _locate(name)
        if found is None:
            logger.info("corpus: %s is not installed, skipped", name)
            continue
        roots, version, licence, skip = found
        files = _source_files(roots, skip)
        per_file: list[list[str]] = []
        failed = 0
        local: set[str] = set()
        for path in files:
            paras = _file_paragraphs(path, min_words, memo)
            if paras is None:
                failed += 1
                continue
            fresh = [p for p in paras if p not in seen and p not in local]
            local.update(fresh)
            per_file.append(fresh)
        chosen = _select(per_file, max_bytes)
        seen.update(chosen)
        part = CorpusPart(name, version, licence, "\n\n".join(chosen), files=len(files) - failed)
        logger.info(
            "corpus: %s %s (%s): %d files (%d unparsable), %d paragraphs, %.1f MB in %.1fs",
            name, version, licence, len(files), failed, part.paragraphs, part.bytes / 1e6,
            time.perf_counter() - t0,
        )  # fmt: skip
        if part.text:
            parts.append(part)
    return parts


def manifest(parts: Iterable[CorpusPart]) -> list[dict[str, Any]]:
    """One entry per part: package, version, licence, bytes, sha256 (of the UTF-8 text), paragraphs, files."""
    return [
        {
            "package": p.package,
            "version": p.version,
            "licence": p.licence,
            "bytes": p.bytes,
            "sha256": p.sha256,
            "paragraphs": p.paragraphs,
            "files": p.files,
        }
        for p in parts
    ]


def write_manifest(parts: Iterable[CorpusPart], path: str | Path) -> None:
    """The manifest as a JSON list (keys in a fixed order), e.g. ``corpus_manifest.json`` of a model."""
    Path(path).write_text(json.dumps(manifest(parts), indent=2) + "\n", encoding="utf-8")
