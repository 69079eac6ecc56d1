"""tutor/llm/corpus.py: docstring cleaning on hand-written samples, extraction from fake packages
written to a temporary dir (found through sys.path, never imported), dedup, manifest, determinism,
and one small real installed package."""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as md
import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

from tutor.llm import corpus
from tutor.llm.corpus import clean_docstring, extract, manifest, write_manifest

NUMPYDOC = """Sum of array elements over a given axis, as described in :mod:`numpy` docs.

Parameters
----------
a : array_like
    Elements to sum, given as any object that :func:`~numpy.asarray` can convert.
axis : None or int or tuple of ints, optional
    Axis or axes along which a sum is performed. The default, ``axis=None``, sums everything.

Returns
-------
sum_along_axis : ndarray
    An array with the same shape as :class:`~numpy.ndarray` a, with the specified axis removed.

See Also
--------
ndarray.sum : Equivalent method that also sums along the given axis of the array.

Notes
-----
Arithmetic is modular when using integer types, and no error is raised on overflow [1]_.
The sum of squares is :math:`x^2 + y^2` for every pair of the two input arrays here.

.. versionadded:: 1.7.0

.. code-block:: python

    total = np.sum(values, axis=0) + offset
    print(total)

.. note:: This function is quite fast for contiguous arrays of any numeric dtype.

    Example::

        >>> print("a doctest inside a note is code all the same, and it goes")

Examples
--------
>>> np.sum([0.5, 1.5])
2.0
>>> np.sum([[0, 1],
...         [0, 5]], axis=0)
array([0, 6])
>>> print("the total is the sum of all of the values seen")
the total is the sum of all of the values seen

If the accumulator is too small, overflow occurs for large integer values here:

+--------+--------+
| value  | result |
+--------+--------+
"""

GOOGLE = """Applies a linear transformation to the incoming data: :math:`y = xA^T + b`.

Args:
    in_features (int): size of each input sample, which must be a positive integer.
    bias (bool, optional): If set to ``False``, the layer will not learn an additive bias.

Returns:
    A tensor with the same leading dimensions as the input
    and the last one replaced by out_features of the layer.

Example::

    >>> m = nn.Linear(20, 30)
    >>> output = m(input)

```python
model = AutoModel.from_pretrained("some/model")
```

This model inherits from [`~modeling_utils.PreTrainedModel`]. Check the superclass documentation
for the generic methods, such as [downloading](https://example.org) or saving the weights.
"""


def test_numpydoc_sample_keeps_the_prose_only() -> None:
    out = clean_docstring(NUMPYDOC)
    assert out.split("\n\n") == [
        "Sum of array elements over a given axis, as described in numpy docs.",
        "Elements to sum, given as any object that asarray can convert.",
        "Axis or axes along which a sum is performed. The default, axis=None, sums everything.",
        "An array with the same shape as ndarray a, with the specified axis removed.",
        "Arithmetic is modular when using integer types, and no error is raised on overflow."
        " The sum of squares is x^2 + y^2 for every pair of the two input arrays here.",
        "This function is quite fast for contiguous arrays of any numeric dtype.",
        "If the accumulator is too small, overflow occurs for large integer values here:",
    ]
    for gone in (
        ">>>",
        "the total",
        "array([0, 6])",
        "2.0",
        "[0, 5]",
        "Parameters",
        "---",
        "array_like",
        "See Also",
    ):
        assert gone not in out, gone
    for gone in ("Equivalent method", "1.7.0", "offset", ":class:", ":math:", "``", "~", "[1]_", "| value"):
        assert gone not in out, gone


def test_google_and_markdown_sample_keeps_descriptions_and_unwraps_links() -> None:
    assert clean_docstring(GOOGLE).split("\n\n") == [
        "Applies a linear transformation to the incoming data: y = xA^T + b.",
        "size of each input sample, which must be a positive integer.",
        "If set to False, the layer will not learn an additive bias.",
        "A tensor with the same leading dimensions as the input and the last one replaced by"
        " out_features of the layer.",
        "This model inherits from PreTrainedModel. Check the superclass documentation for the generic"
        " methods, such as downloading or saving the weights.",
    ]


def test_short_symbolic_and_signature_paragraphs_are_dropped() -> None:
    doc = "abs(input, *, out=None) -> Tensor\n\nToo short here.\n\nx = y[0] + z[1] * (a - b) / 2\n"
    assert clean_docstring(doc) == ""
    assert clean_docstring("Too short to keep, really.", min_words=3) == "Too short to keep, really."
    assert clean_docstring(":param x: the value that is added to every element of y\n:type x: int") == (
        "the value that is added to every element of y"
    )


def write_pkg(root: Path, name: str, files: dict[str, str], metadata: str | None = None) -> None:
    for rel, text in files.items():
        path = root / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    if metadata is not None:
        info = root / f"{name}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n{metadata}", encoding="utf-8"
        )


SHARED = "This paragraph is boilerplate that both of the fake packages repeat word for word."


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_pkg(
        tmp_path,
        "fakepkg",
        {
            "__init__.py": f'''
            """The fake package explains how gradient descent follows the slope downhill.

            {SHARED}
            """
            raise RuntimeError("the corpus must never import a package")
            ''',
            "core.py": '''
            """Core routines of the fake package, which compute running means of arrays."""


            class Averager:
                """Keeps a running mean of every value that it has been given so far.

                Parameters
                ----------
                window : int
                    How many of the most recent values the running mean takes into account.
                """

                def add(self, x):
                    """Add one value to the running mean and return the updated mean value.

                    >>> Averager().add(3)
                    3.0
                    """


            add_docstr(thing, r"""Attached documentation that describes a compiled function in prose.""")
            ''',
            "broken.py": '"""A file that does not parse at all, so it is skipped with no error."""\ndef (:\n',
            "tests/helpers.py": '"""A test helper module whose docstring must never reach the corpus text."""\n',
        },
        metadata="License-Expression: MIT\n",
    )
    write_pkg(
        tmp_path,
        "otherpkg",
        {
            "__init__.py": f'''
            """{SHARED}

            The other package describes a decision tree that splits the data on one feature.
            """
            ''',
        },
        metadata="License: " + "A very long licence text. " * 10 + "\n"
        "Classifier: License :: OSI Approved :: BSD License\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return tmp_path


def test_extract_reads_fake_packages_without_importing_them(fake_site: Path) -> None:
    assert importlib.util.find_spec("fakepkg") is not None
    parts = extract(["fakepkg", "not_installed_pkg_xyz", "otherpkg"])
    assert "fakepkg" not in sys.modules
    assert [p.package for p in parts] == ["fakepkg", "otherpkg"]
    fake, other = parts
    assert fake.text.split("\n\n") == [
        "The fake package explains how gradient descent follows the slope downhill.",
        SHARED,
        "Core routines of the fake package, which compute running means of arrays.",
        "Keeps a running mean of every value that it has been given so far.",
        "How many of the most recent values the running mean takes into account.",
        "Add one value to the running mean and return the updated mean value.",
        "Attached documentation that describes a compiled function in prose.",
    ]
    assert (fake.version, fake.licence, fake.files) == ("1.2.3", "MIT", 2)  # broken.py and tests/ left out
    # the shared paragraph counts once: the first package in the order given keeps it
    assert other.text == "The other package describes a decision tree that splits the data on one feature."
    assert (other.version, other.licence) == ("1.2.3", "BSD License")
    reordered = extract(["otherpkg", "fakepkg"])
    assert SHARED in reordered[0].text and SHARED not in reordered[1].text


def test_manifest_matches_the_text_and_runs_are_identical(fake_site: Path, tmp_path: Path) -> None:
    parts = extract(["fakepkg", "otherpkg"])
    entries = manifest(parts)
    for part, entry in zip(parts, entries, strict=True):
        data = part.text.encode("utf-8")
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["paragraphs"] == len(part.text.split("\n\n"))
        assert list(entry) == ["package", "version", "licence", "bytes", "sha256", "paragraphs", "files"]
    assert manifest(extract(["fakepkg", "otherpkg"])) == entries
    write_manifest(parts, tmp_path / "corpus.json")
    assert json.loads((tmp_path / "corpus.json").read_text()) == entries


def test_a_byte_budget_is_respected_and_spread_over_files(fake_site: Path) -> None:
    full = extract(["fakepkg"])[0].text.split("\n\n")
    budget = len("\n\n".join(full[:4]).encode())  # the first four paragraphs would all be __init__/core
    text = extract(["fakepkg"], max_bytes_per_package=budget)[0].text
    assert len(text.encode()) <= budget
    kept = text.split("\n\n")
    # the first pass takes up to FIRST_PASS_PER_FILE paragraphs of every file, in file order
    assert corpus.FIRST_PASS_PER_FILE == 3 and kept[:2] == full[:2] and full[2] in kept
    assert extract(["fakepkg"], max_bytes_per_package=10) == []


def test_a_real_small_installed_package_yields_prose_and_a_licence() -> None:
    name = "threadpoolctl"  # a dependency of scikit-learn: one module, BSD-3-Clause
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed")
    (part,) = extract([name], max_bytes_per_package=4000)
    assert part.version == md.version(name) and "BSD" in part.licence
    assert 0 < part.bytes <= 4000 and part.files == 1
    prose = [p for p in part.text.split("\n\n") if len(p.split()) >= 8 and p.endswith(".")]
    assert prose and not any(">>>" in p or "``" in p for p in part.text.split("\n\n"))


def test_the_standard_library_walk_leaves_out_tests_tools_and_installed_packages() -> None:
    found = corpus._locate(corpus.STDLIB)
    assert found is not None
    roots, version, licence, skip = found
    assert (version, licence) == (sys.version.split()[0], "PSF-2.0")
    files = [p.relative_to(roots[0]).as_posix() for p in corpus._source_files(roots, skip)]
    assert "json/decoder.py" in files and "os.py" in files
    assert not any(
        f.split("/")[0] in {"site-packages", "test", "idlelib", "lib2to3", "encodings"} for f in files
    )
