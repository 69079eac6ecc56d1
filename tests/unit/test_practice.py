"""The practice-item schema and its checker (``curriculum/practice.py``): the fixture items load,
every kind of problem is named, and nothing an item keeps back reaches its public form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curriculum.practice import PracticeError, load_file, load_practice, main

DATA = Path(__file__).resolve().parents[1] / "data"
GOOD = DATA / "practice" / "m2.attention-math.yaml"
BAD = DATA / "practice_bad" / "m1.numpy.yaml"


def test_fixture_items_load_with_every_kind() -> None:
    items = load_file(GOOD)
    assert {i.kind for i in items} == {"multiple_choice", "numeric", "short_answer", "code"}
    mc = next(i for i in items if i.id == "fixture-softmax-rows")
    assert mc.right_choice == 0 and mc.topic_id == "m2.attention-math"
    code = next(i for i in items if i.id == "fixture-row-softmax-code")
    assert code.rtol == 1e-6 and code.array_args == {"s": "float64"} and len(code.tests) == 2


@pytest.mark.parametrize(
    "problem",
    [
        "exactly one choice must be `correct: true`, found 2",
        "id must be lowercase",
        "difficulty must be 1, 2 or 3",
        "answer must be a number",
        "wrong_examples must list at least 2",
        "starter must define `def f(...)`",
        "solution is not valid Python",
        "test #1 lacks required argument(s) ['x']",
    ],
)
def test_checker_names_each_problem(problem: str) -> None:
    with pytest.raises(PracticeError) as err:
        load_file(BAD)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_right_example_missing_the_key_points_is_reported(tmp_path: Path) -> None:
    text = GOOD.read_text().replace(
        "- it stops tokens from seeing the future tokens they are supposed to predict",
        "- it hides what comes later",
    )
    (tmp_path / "m2.attention-math.yaml").write_text(text)
    with pytest.raises(PracticeError, match="keyword check would reject this right answer"):
        load_file(tmp_path / "m2.attention-math.yaml")


def test_topic_must_match_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "m1.pandas.yaml").write_text(GOOD.read_text())
    with pytest.raises(PracticeError, match="must equal the file name"):
        load_file(tmp_path / "m1.pandas.yaml")


def test_public_form_keeps_answers_feedback_solutions_and_tests_back() -> None:
    for item in load_file(GOOD):
        public = json.dumps(item.to_public())
        for secret in (item.explanation, item.model_answer, *(c.feedback for c in item.choices)):
            assert not secret or secret not in public
        if item.kind == "numeric":
            assert "answer" not in item.to_public() and "tolerance" not in item.to_public()
        if item.kind == "code":
            assert "np.exp(s - s.max" not in public and "1000.0" not in public
            assert 'return "pos" if' not in public
        if item.kind == "multiple_choice":
            assert "correct" not in public


def test_load_practice_skips_a_broken_file_unless_strict(tmp_path: Path) -> None:
    (tmp_path / "m2.attention-math.yaml").write_text(GOOD.read_text())
    (tmp_path / "m1.numpy.yaml").write_text(BAD.read_text())
    assert len(load_practice(tmp_path)) == 6
    with pytest.raises(PracticeError, match="m1.numpy.yaml"):
        load_practice(tmp_path, strict=True)


def test_cli_check_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--no-run", str(GOOD)]) == 0
    assert "m2.attention-math.yaml: ok" in capsys.readouterr().out
    assert main(["check", "--no-run", str(BAD)]) == 1
    out = capsys.readouterr().out
    assert "problem(s)" in out and "bad-two-right" in out
    assert main(["nope"]) == 2
