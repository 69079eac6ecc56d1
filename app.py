"""The entry point: the ASGI app factory, re-exported from ``tutor/web/app.py`` (FastAPI ``/api``,
``/v1``, ``/mcp``, ``/healthz``, ``/docs`` with the Gradio UI at ``/``). No logic here:
``uvicorn --factory app:create_app`` or ``tutor serve``."""

from __future__ import annotations

from tutor.web import create_app

__all__ = ["create_app"]
