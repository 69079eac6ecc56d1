"""The tutor, in floors (docs/architecture.md): the faces (web/, cli/), the Tutor facade (service.py),
the agent (agent/), the use cases (usecases/) and the chat models (llm/)."""

import os

# Before anything imports torch: busy-waiting OpenMP threads made training ~10x and decoding ~20x
# slower on a loaded 2-core machine. Child processes (job workers, kernels) inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
