"""Structured logging: one configuration for CLI and server, to stderr (stdout is for --json)."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "chromadb", "urllib3", "sentence_transformers", "matplotlib"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
