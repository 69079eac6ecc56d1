"""The tutor: agent, service facade, API, CLI and chat models."""

import os

# Before anything imports torch: busy-waiting OpenMP threads made training ~10x and decoding ~20x
# slower on a loaded 2-core machine. Child processes (job workers, kernels) inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
