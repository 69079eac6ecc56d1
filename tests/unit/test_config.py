from pathlib import Path

import pytest
from pydantic import ValidationError

from tutor.config import Settings


def test_defaults_put_everything_under_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.db_url == f"sqlite:///{tmp_path / 'tutor.db'}"
    for p in (s.chroma_dir, s.kernels_dir, s.runs_dir, s.models_dir, s.checkpoints_path):
        assert p.is_relative_to(tmp_path)
    assert not s.is_postgres


def test_env_prefix_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TUTOR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TUTOR_PORT", "9001")
    monkeypatch.setenv("TUTOR_DATABASE_URL", "postgresql://u@localhost/db")
    s = Settings()
    assert s.port == 9001 and s.data_dir == tmp_path.resolve() and s.is_postgres


@pytest.mark.parametrize(
    "field,value", [("port", 0), ("port", 70000), ("llm_backend", "gpt5"), ("run_timeout_s", -1)]
)
def test_bad_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})


def test_api_keys_parse_and_reject_malformed() -> None:
    assert Settings(api_keys="k1:alice, k2:admin").api_key_map == {"k1": "alice", "k2": "admin"}
    with pytest.raises(ValueError, match="KEY:learner_id"):
        _ = Settings(api_keys="justakey").api_key_map


def test_ensure_dirs_creates_the_layout(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "new")
    s.ensure_dirs()
    assert s.kernels_dir.is_dir() and s.runs_dir.is_dir() and s.models_dir.is_dir()
