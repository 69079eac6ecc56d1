"""The web faces: the app factory (``app``), ``/api`` (``api/``), ``/v1`` (``v1``), ``/mcp``
(``mcp``) and the Gradio UI (``ui/``). Only translation; behaviour lives in the ``Tutor`` facade.

``create_app`` is loaded on first use, so importing one face (the MCP server of ``tutor mcp``,
the API's models) does not import Gradio."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tutor.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from tutor.web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
