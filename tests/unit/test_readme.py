import re
from pathlib import Path

from tutor.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_shows_the_two_commands_first() -> None:
    first_code = README.split("```")[1]
    assert "make run" in first_code and "make test" in first_code


def test_readme_documents_every_setting_and_nothing_stale() -> None:
    documented = set(re.findall(r"`TUTOR_([A-Z_]+)`", README))
    actual = {name.upper() for name in Settings.model_fields}
    assert actual - documented == set(), "settings missing from the README"
    assert documented - actual == set(), "README documents settings that do not exist"
