"""tools/training/openmp.py: a training process lets OpenMP threads spin briefly between ops."""

from __future__ import annotations

import os
import subprocess
import sys

from tools.training.openmp import TRAINING_SPINCOUNT, training_env, use_training_openmp


def test_a_training_process_gets_a_bounded_spin_over_the_passive_policy() -> None:
    env = training_env({"OMP_WAIT_POLICY": "PASSIVE", "PATH": "/bin"})
    assert env == {"OMP_WAIT_POLICY": "PASSIVE", "PATH": "/bin", "GOMP_SPINCOUNT": TRAINING_SPINCOUNT}


def test_an_operators_own_settings_are_kept() -> None:
    assert training_env({"OMP_WAIT_POLICY": "ACTIVE"}) == {
        "OMP_WAIT_POLICY": "ACTIVE",
        "GOMP_SPINCOUNT": TRAINING_SPINCOUNT,
    }
    assert training_env({"GOMP_SPINCOUNT": "1000"}) == {"GOMP_SPINCOUNT": "1000"}


def test_it_applies_only_before_torch_is_loaded() -> None:
    """libgomp reads the variables once, when torch loads it: after that a change would only
    mislead. In a fresh interpreter it applies; here (torch loaded by other tests) it does not."""
    code = (
        "import os, sys\n"
        "os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'\n"
        "from tools.training.openmp import use_training_openmp\n"
        "print(use_training_openmp(), os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))\n"
        "import torch\n"
        "print(use_training_openmp())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["True", "PASSIVE", TRAINING_SPINCOUNT, "False"]
    import torch  # noqa: F401

    before = dict(os.environ)
    assert use_training_openmp() is False
    assert dict(os.environ) == before
