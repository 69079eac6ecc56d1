"""A lab as a Jupyter notebook (nbformat 4.5, written as plain JSON) and back.

The generated notebook: a Markdown cell (title + intro), a code cell that writes the lab's data
files into the working directory when they are missing (metadata ``{"tutor": {"setup": true}}``,
so the notebook works in any Jupyter with no download), then per step a Markdown cell (title +
text) and a code cell (starter) with metadata ``{"tutor": {"step": "<step_id>"}}``.

``parse_submission`` reads an uploaded notebook: only code is used (outputs are ignored), setup
cells are dropped (the engine copies the data itself), and cells the learner added belong to the
preceding step (cells before the first step's cell run with the first step).
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any

from curriculum.labs import Lab
from tutor.errors import BadInput

MAX_CELLS = 500
MAX_NOTEBOOK_BYTES = 5_000_000


class NotebookError(BadInput):
    """The upload is not a notebook the tutor can grade (a 400 for the API, exit 2 for the CLI)."""


@dataclass(frozen=True)
class Segment:
    """Consecutive code cells of one step, in notebook order."""

    step_id: str
    cells: tuple[str, ...]


def _cell_id(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:12]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


# Arrow's default allocator reserves about 1 GB of address space on first use (pandas 3 strings
# use Arrow), which a 2 GB RLIMIT_AS sandbox cannot spare; the system allocator does not.
PRELUDE = (
    "import os as _os\n"
    "_os.environ.setdefault('ARROW_DEFAULT_MEMORY_POOL', 'system')  # keeps Arrow's memory small\n"
)


def data_setup_code(lab: Lab) -> str:
    """Python that writes the lab's data files (zlib + base64) into the current directory when
    they are missing: the notebook's first code cell, and what the engine runs in a kernel first."""
    files = {}
    for path in lab.data_files():
        files[path.name] = base64.b64encode(zlib.compress(path.read_bytes(), 9)).decode()
    if not files:
        return PRELUDE + "# this lab needs no data files\n"
    body = ",\n".join(f"    {name!r}: (\n" + _chunked(blob) + "\n    )" for name, blob in files.items())
    return (
        f"# Data for the lab {lab.id!r}: writes {', '.join(files)} next to this notebook if missing.\n"
        + PRELUDE
        + "import base64 as _b64, zlib as _zlib\n"
        f"_LAB_DATA = {{\n{body},\n}}\n"
        "for _name, _blob in _LAB_DATA.items():\n"
        "    if not _os.path.exists(_name):\n"
        "        with open(_name, 'wb') as _f:\n"
        "            _f.write(_zlib.decompress(_b64.b64decode(_blob)))\n"
        "del _LAB_DATA, _name, _blob\n"
    )


def _chunked(blob: str, width: int = 96) -> str:
    return "\n".join(f"        {blob[i : i + width]!r}" for i in range(0, len(blob), width)) or "        ''"


def generate(lab: Lab) -> dict[str, Any]:
    """The lab's notebook as an nbformat-4 dict (``json.dumps`` it to get the .ipynb)."""
    intro = f"# {lab.title}\n\n{lab.intro.strip()}\n\n"
    intro += (
        f"*Lab `{lab.id}` · module {lab.module} · topics {', '.join(lab.topics)} · about {lab.minutes} min.* "
        "Run the next cell first: it writes the lab's data files next to the notebook. When you are done, "
        "upload the notebook to the tutor (`tutor lab submit` or the API): each step is checked.\n"
    )
    cells: list[dict[str, Any]] = [
        {"cell_type": "markdown", "id": _cell_id(lab.id, "intro"), "metadata": {}, "source": _lines(intro)},
        {"cell_type": "code", "id": _cell_id(lab.id, "setup"), "metadata": {"tutor": {"setup": True}},
         "execution_count": None, "outputs": [], "source": _lines(data_setup_code(lab))},
    ]  # fmt: skip
    for n, step in enumerate(lab.steps, 1):
        text = f"## Step {n}: {step.title}\n\n{step.text.strip()}\n"
        if step.hint:
            text += f"\n*Hint: {step.hint.strip()}*\n"
        cells.append(
            {"cell_type": "markdown", "id": _cell_id(lab.id, step.id, "md"), "metadata": {},
             "source": _lines(text)}
        )  # fmt: skip
        cells.append(
            {"cell_type": "code", "id": _cell_id(lab.id, step.id, "code"),
             "metadata": {"tutor": {"step": step.id}}, "execution_count": None, "outputs": [],
             "source": _lines(step.starter)}
        )  # fmt: skip
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "tutor": {"lab": lab.id},
        },
        "cells": cells,
    }


def generate_json(lab: Lab) -> str:
    return json.dumps(generate(lab), indent=1, ensure_ascii=False) + "\n"


def _source(cell: dict[str, Any], n: int) -> str:
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    if isinstance(src, str):
        return src
    raise NotebookError(f"cell {n}: `source` must be a string or a list of strings")


def read_notebook(raw: bytes | str) -> dict[str, Any]:
    """The notebook as a dict, or NotebookError saying why it is not one."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"the notebook is {len(raw):,} bytes; the limit is {MAX_NOTEBOOK_BYTES:,}")
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise NotebookError("the file is not UTF-8 text; upload the .ipynb file itself") from e
    try:
        nb = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as e:
        raise NotebookError(f"the file is not valid JSON ({e}); upload the .ipynb file itself") from e
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise NotebookError(
            "the file is JSON but not a Jupyter notebook in nbformat 4 (it needs `nbformat: 4` and a "
            "`cells` list); download the lab's notebook and work in that"
        )
    if len(nb["cells"]) > MAX_CELLS:
        raise NotebookError(f"the notebook has {len(nb['cells'])} cells; the limit is {MAX_CELLS}")
    return nb


def parse_submission(raw: bytes | str, lab: Lab) -> list[Segment]:
    """The code of an uploaded notebook as step segments in notebook order (see module doc)."""
    nb = read_notebook(raw)
    meta_lab = ((nb.get("metadata") or {}).get("tutor") or {}) if isinstance(nb.get("metadata"), dict) else {}
    if isinstance(meta_lab, dict) and meta_lab.get("lab") not in (None, lab.id):
        raise NotebookError(f"this notebook is for the lab {meta_lab.get('lab')!r}, not {lab.id!r}")
    known = {s.id for s in lab.steps}
    segments: list[tuple[str, list[str]]] = []
    current: str | None = None
    pending: list[str] = []  # code cells before the first step cell
    for n, cell in enumerate(nb["cells"], 1):
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {n} is not an object")
        if cell.get("cell_type") != "code":
            continue
        code = _source(cell, n)
        meta = cell.get("metadata")
        tag = meta.get("tutor") if isinstance(meta, dict) else None
        if not isinstance(tag, dict):
            tag = {}
        if tag.get("setup"):
            continue
        raw_step = tag.get("step")
        step_id = raw_step if isinstance(raw_step, str) and raw_step in known else None
        if step_id is not None and step_id != current:
            current = step_id
            segments.append((step_id, [*pending]))
            pending = []
        if current is None:
            pending.append(code)
        else:
            segments[-1][1].append(code)
    if pending:  # no step cell at all: everything is the first step's work
        segments.append((lab.steps[0].id, pending))
    return [Segment(sid, tuple(c for c in cells if c.strip())) for sid, cells in segments]
