"""How torch's OpenMP threads wait between ops in a process that trains.

The tutor runs with ``OMP_WAIT_POLICY=PASSIVE`` (``tutor/__init__``): next to a busy job, threads
that spin for work made decoding ~20x slower on 2 cores. A training process is the other case:
a step is hundreds of small ops, and a thread that sleeps after each one waits to be woken for
the next. Measured on this 2-core machine, 600 steps of nanoGPT's Shakespeare recipe as a job
trained in 47.8-52.5 s passive, in 36.9-43.4 s passive with the bounded spin below (unbounded,
``OMP_WAIT_POLICY=ACTIVE``: 39.6 s); a fine-tuning step of the recipe's model took 1.09 s
passive and 0.94 s with it. Bounded, an idle worker still sleeps within a few ms;
on a machine busy with other work the loop's thread tuner (``gpt._ThreadTuner``) drops threads.
Training workers (``worker.py``) and ``tutor model build`` call ``use_training_openmp`` first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

# libgomp's GOMP_SPINCOUNT: spins before a waiting thread sleeps (its default is 300k; PASSIVE 0)
TRAINING_SPINCOUNT = "3000000"


def training_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the bounded spin set, unless the operator set a GOMP_SPINCOUNT. The passive
    policy stays: libgomp takes an explicit spin count over the policy's (PASSIVE only makes the
    default 0), and the policy comes back anyway whenever ``tutor`` is imported (``setdefault``)."""
    out = dict(env)
    out.setdefault("GOMP_SPINCOUNT", TRAINING_SPINCOUNT)
    return out


def use_training_openmp() -> bool:
    """Apply ``training_env`` to this process, if torch (and with it libgomp, which reads these
    variables once, when it loads) is not loaded yet; returns whether it was applied."""
    if "torch" in sys.modules:
        return False
    os.environ.update(training_env(os.environ))
    return True
