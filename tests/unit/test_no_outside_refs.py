"""The repo is self-contained: no file in it points at documents or data outside it (the design and
contract notes it started from now live in docs/, test data in tests/data). Checked: every file git
tracks or would track (untracked but not ignored), text files only, but this one; docs/ may name
the old documents when it says where they went."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(
    r"\.\./shared|/work/shared"  # the folder the project started from
    r"|\b(?:CONTRACT|DESIGN|STYLE)(?:\.md)?\b"  # its notes, as files or by name (upper case)
    r"|\bnotes/[\w.-]*findings"  # its measurement notes
)
ALLOWED_DIRS = ("docs/",)
THIS = "tests/unit/test_no_outside_refs.py"
SKIP_SUFFIXES = {".png", ".jpg", ".gif", ".ico", ".safetensors", ".bin", ".pt", ".npy", ".npz", ".db", ".gz"}
MAX_BYTES = 5_000_000


def repo_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as e:  # a source tarball without .git
        pytest.skip(f"not a git checkout: {e}")
    return [f for f in out.splitlines() if f]


def outside_refs(files: list[str]) -> list[str]:
    found = []
    for name in files:
        path = REPO / name
        if (
            name == THIS
            or name.startswith(ALLOWED_DIRS)
            or path.suffix in SKIP_SUFFIXES
            or not path.is_file()
        ):
            continue
        if path.stat().st_size > MAX_BYTES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for no, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{name}:{no}: {line.strip()[:120]}")
    return found


def test_no_file_points_outside_the_repo() -> None:
    files = repo_files()
    assert len(files) > 100 and "README.md" in files
    found = outside_refs(files)
    assert not found, (
        "files that point outside the repo (use docs/contract.md, docs/architecture.md, "
        "docs/sandbox.md or tests/data instead):\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    "line",
    [
        "see ../shared/checks/contract_smoke.py",
        "open('/work/shared/data/tinyshakespeare.txt')",
        "the interface in CONTRACT.md",
        "as DESIGN says",
        "CONTRACT's run shape",
        "(measured, see notes/sandbox-findings.md)",
    ],
)
def test_the_pattern_catches_outside_references(line: str) -> None:
    assert OUTSIDE.search(line)


@pytest.mark.parametrize(
    "line", ["docs/contract.md", "a shared kernel", "tests/data/topics.tsv", "design", "CONTRACTS"]
)
def test_the_pattern_leaves_inside_references_alone(line: str) -> None:
    assert not OUTSIDE.search(line)
