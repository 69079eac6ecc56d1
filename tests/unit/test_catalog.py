import csv
from pathlib import Path

import pytest

from curriculum.catalog import DEFAULT_PATH, CatalogError, load_catalog, parse_catalog

TOPICS_TSV = Path(__file__).resolve().parents[1] / "data" / "topics.tsv"


def test_catalog_has_the_fixed_modules_and_topics() -> None:
    cat = load_catalog()
    assert [m.id for m in cat.modules] == [f"m{i}" for i in range(1, 12)]
    assert len(cat.topics) == 43
    if TOPICS_TSV.exists():
        rows = list(csv.DictReader(TOPICS_TSV.open(), delimiter="\t"))
        assert {r["topic_id"] for r in rows} == set(cat.topics)
        for r in rows:
            assert cat.topics[r["topic_id"]].title == r["title"]
            assert ", ".join(cat.topics[r["topic_id"]].must_cover) == r["must_cover"]
    assert "categorical encoding (one-hot, ordinal)" in cat.topics["m3.data-wrangling"].must_cover


def test_prerequisites_form_a_dag_in_a_teachable_order() -> None:
    cat = load_catalog()
    order = cat.topological_order()
    pos = {t: i for i, t in enumerate(order)}
    for t in cat.topics.values():
        for p in t.prerequisites:
            assert pos[p] < pos[t.id], f"{p} must come before {t.id}"
    assert "m8.transformer-architecture" in cat.topics["m8.gpt"].prerequisites
    assert {"m2.attention-math", "m1.numpy"} <= cat.ancestors("m8.gpt")


def test_every_topic_has_time_and_module_practicals() -> None:
    cat = load_catalog()
    assert all(t.minutes > 0 for t in cat.topics.values())
    assert any("gradient descent" in p for p in cat.module("m2").practicals)


def test_api_shape() -> None:
    api = load_catalog().to_api()
    topic = api["modules"][0]["topics"][0]
    assert {"id", "title", "phase", "topics"} <= api["modules"][0].keys()
    assert {"id", "title", "prerequisites", "practicals"} <= topic.keys()


def _broken(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("prerequisites: [m1.numpy]", "prerequisites: [m1.nmupy]", "unknown prerequisite 'm1.nmupy'"),
        ("- id: m1.pandas", "- id: m1.numpy", "duplicate topic id 'm1.numpy'"),
        ("- id: m1\n", "- id: m2\n", "duplicate module id 'm2'"),
        (
            '      - id: m1.numpy\n        title: "NumPy"\n        prerequisites: []',
            '      - id: m1.numpy\n        title: "NumPy"\n        prerequisites: [m8.gpt]',
            "prerequisite cycle",
        ),
        ("minutes: 120", "minutes: -5", "minutes must be a positive integer"),
        ("modules:", "modules: [", "not valid YAML"),
    ],
)
def test_broken_catalog_fails_loudly_with_the_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    bad = tmp_path / "curriculum.yaml"
    bad.write_text(_broken(DEFAULT_PATH.read_text(), old, new))
    with pytest.raises(CatalogError, match=message) as err:
        parse_catalog(bad.read_text(), bad)
    assert str(bad) in str(err.value)
    if "YAML" not in message:
        line = int(str(err.value).split(":")[1])
        assert 0 < line <= len(bad.read_text().splitlines())


def test_unknown_topic_suggests_a_near_id() -> None:
    with pytest.raises(LookupError, match="did you mean 'm1.numpy'"):
        load_catalog().topic("m1.nunpy")
