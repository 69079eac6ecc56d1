"""The Teach tab's handlers and who may see them: everyone without keys; with keys, teacher and
admin logins only; a teacher login cannot act as a learner in the other tabs."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.ui_helpers import fake_tutor
from tutor.errors import Forbidden
from tutor.service import Tutor
from tutor.web.ui import _key_auth
from tutor.web.ui.common import TEACHER_LOGINS, learner_of
from tutor.web.ui.teach import NO_ACCESS, TeachHandlers, may_see

KEYS = {"tk": "teacher", "ak": "admin", "lk": "ada"}


def req(user: str | None) -> Any:
    return SimpleNamespace(username=user)


@pytest.fixture(autouse=True)
def _teacher_logins() -> Any:
    before = set(TEACHER_LOGINS)
    yield
    TEACHER_LOGINS.intersection_update(before)


@pytest.fixture
def tutor(tmp_path: Path) -> Tutor:
    t = fake_tutor(tmp_path / "var")
    t.grade("numpy-mean", "def mean(xs): pass", learner_id="ada")
    t.grade("numpy-mean", "def mean(xs): return 2.0", learner_id="bob")
    return t


def test_login_with_a_teacher_key_only_under_a_name_that_is_not_a_learner_key() -> None:
    check = _key_auth(KEYS)
    assert check("ada", "lk") and not check("bob", "lk")  # a learner key: its own name only
    assert check("ms-t", "tk") and "ms-t" in TEACHER_LOGINS
    assert not check("ada", "tk")  # a teacher key never signs in as a learner
    assert check("anyone", "ak") and not check("x", "nope")


def test_a_teacher_login_cannot_act_as_a_learner() -> None:
    TEACHER_LOGINS.add("mr-t")
    with pytest.raises(Forbidden, match="teacher key"):
        learner_of(None, req("mr-t"))
    assert learner_of(None, req("ada")) == "ada"


def test_who_may_see_the_tab(tmp_path: Path) -> None:
    local = fake_tutor(tmp_path / "a")
    assert may_see(local, None) and may_see(local, req(None))  # no keys: loopback, single user
    keyed = fake_tutor(tmp_path / "b", api_keys="tk:teacher,ak:admin,lk:ada")
    assert may_see(keyed, req("mr-t")) and may_see(keyed, req("head-admin"))
    assert not may_see(keyed, req("ada")) and not may_see(keyed, req(None))


def test_view_shows_heatmap_tables_and_a_csv(tutor: Tutor) -> None:
    msg, fig, bars, exercises, practice, stuck, due, learners, csv_file = TeachHandlers(tutor).view(7, 3)
    assert "**2 learners**" in msg and "1 exercises" in msg
    assert fig is not None and len(fig.axes) == 2  # the heatmap and its colour bar
    assert list(bars["item"]) == ["numpy-mean"] and list(bars["pass rate"]) == [0.5]
    assert exercises[0][:6] == ["numpy-mean", "m1.numpy", "exercise", 2, 2, "50%"]
    assert "returns the mean (1)" in exercises[0][6]
    assert [r[0] for r in learners] == ["ada", "bob"] and practice == [] and stuck == []
    path = csv_file["value"]
    with open(path, encoding="utf-8") as f:
        assert {r["section"] for r in csv.DictReader(f)} == {"learner", "mastery", "exercise"}


def test_view_refuses_a_learner_login(tmp_path: Path) -> None:
    t = fake_tutor(tmp_path / "var", api_keys="tk:teacher,lk:ada")
    out = TeachHandlers(t).view(7, 3, req("ada"))
    assert out[0] == NO_ACCESS and out[1] is None and out[3] == [] and out[-1]["visible"] is False


def test_view_of_an_empty_store(tmp_path: Path) -> None:
    out = TeachHandlers(fake_tutor(tmp_path / "var")).view(None, None)
    assert "**0 learners**" in out[0] and out[1] is None
