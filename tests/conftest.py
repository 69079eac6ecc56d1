"""Shared test set-up: no TUTOR_ settings leak in from the environment, nothing goes online, and
every test that needs a data dir gets a temporary one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _name in list(os.environ):
    if _name.startswith("TUTOR_"):
        del os.environ[_name]
# no standby training worker in every test's tutor (its imports cost ~9 s of CPU each time);
# tests/unit/test_runner.py and tests/integration/test_jobs_e2e.py start one on purpose
os.environ["TUTOR_JOB_STANDBY"] = "false"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "var"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir: Path):  # type: ignore[no-untyped-def]
    from tutor.config import Settings

    return Settings(data_dir=data_dir)
