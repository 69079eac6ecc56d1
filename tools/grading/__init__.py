"""Grading internals: the wire format between sandbox and grader, the in-sandbox harness, and the
trusted comparisons. ``wire.py`` and ``harness.py`` are bound read-only into grading sandboxes, so
they import only the standard library and numpy."""
