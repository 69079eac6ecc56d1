"""The bundled practice items against the real parts: every code item's reference passes its
tests and its starter fails one, in the real sandbox; the short-answer checker, with the real
MiniLM and the shipped thresholds, accepts the right examples and rejects the wrong ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from curriculum.practice import bundled_practice, load_file
from curriculum.practice_check import SHORT_PARAPHRASE, SHORT_THRESHOLD, check_short, measure
from tools.practice_grader import PracticeGrader, self_check
from tools.sandbox import find_bwrap

pytestmark = [pytest.mark.integration, pytest.mark.slow]
needs_bwrap = pytest.mark.skipif(
    find_bwrap() is None, reason="bubblewrap is not installed (make installs it)"
)
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "practice" / "m2.attention-math.yaml"


@needs_bwrap
def test_every_code_item_reference_passes_and_starter_fails_in_the_sandbox() -> None:
    code = [i for i in bundled_practice().values() if i.kind == "code"]
    assert code, "no code items"
    assert self_check(code, sandbox=True) == []


@needs_bwrap
def test_self_check_catches_a_starter_that_passes(tmp_path: Path) -> None:
    item = next(i for i in load_file(FIXTURE) if i.id == "fixture-label-code")
    from dataclasses import replace

    lazy = replace(item, starter=item.solution)
    assert self_check([lazy], sandbox=True) == [
        f"{item.id}: the starter passes every test; it must fail at least one"
    ]


@needs_bwrap
def test_hostile_code_answers_earn_nothing(tmp_path: Path) -> None:
    items = {i.id: i for i in load_file(FIXTURE)}
    grader = PracticeGrader(items, tmp_path, sandbox=True, max_busy=1)
    cheats = [
        "print('All tests passed')\nimport os; os._exit(0)",
        "class A:\n    def __eq__(self, o): return True\ndef row_softmax(s):\n    return A()",
        "import numpy as np\nnp.allclose = lambda *a, **k: True\ndef row_softmax(s):\n    return s",
        "def row_softmax(s):\n    return open('" + str(FIXTURE) + "').read()",
    ]
    for code in cheats:
        report = grader.grade("fixture-row-softmax-code", code)
        assert not report.passed, code
    assert grader.grade("fixture-label-code", "def label(p):\n    return 'pos' if p >= 0.5 else 'neg'").passed


def test_short_answers_with_the_real_embedder() -> None:
    from knowledge.embedding import get_embedder

    embed = get_embedder().embed
    items = [i for i in bundled_practice().values() if i.kind == "short_answer"]
    result = measure(items, embed)
    print(f"\nshort-answer measurement: { {k: v for k, v in result.items() if k != 'misses'} }")
    assert result["accuracy_at_shipped"] >= 0.95, result
    fixture = next(i for i in load_file(FIXTURE) if i.kind == "short_answer")
    assert check_short(fixture, "so tokens can't peek at later tokens they have to predict", embed).correct
    assert not check_short(fixture, "to make training faster", embed).correct
    assert 0 <= SHORT_THRESHOLD < SHORT_PARAPHRASE <= 1
