"""Finding processes by a marker in their command line (for "no process left behind" checks)."""

from __future__ import annotations

import os


def processes_with(marker: str) -> list[int]:
    """Pids whose command line contains ``marker``."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        out.append(int(entry.name))
            except OSError:
                continue
    return out
