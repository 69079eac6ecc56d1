"""What one execution produced (``RunResult``) and the filter that builds it from kernel messages:
an output cap applied while streaming, and only text/plain, image/png and image/jpeg let through
(HTML/SVG/JS from learner code could carry script into the browser)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "error", "timeout", "killed"]
ALLOWED_MIME = ("text/plain", "image/png", "image/jpeg")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TRACEBACK_CHARS = 20_000


def _install_prefixes() -> list[str]:
    """Where Python and its packages live on the server (the venv, the base install): learners see
    library frames as ``<python>/...`` instead of the server's paths."""
    import site
    import sys
    import sysconfig

    paths = {sys.prefix, sys.base_prefix, sysconfig.get_paths().get("purelib", ""), *site.getsitepackages()}
    return sorted((p.rstrip("/") for p in paths if p and len(p) > 1), key=len, reverse=True)


_PREFIXES = _install_prefixes()


def hide_server_paths(text: str) -> str:
    for prefix in _PREFIXES:
        text = text.replace(prefix + "/", "<python>/")
    return text


@dataclass
class RunResult:
    """The run shape of docs/contract.md plus ``notices`` (sandbox, truncation and restart messages)."""

    status: Status
    stdout: str = ""
    stderr: str = ""
    outputs: list[dict[str, str]] = field(default_factory=list)
    error: dict[str, str] | None = None
    duration_s: float = 0.0
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration_s"] = round(self.duration_s, 4)
        return d


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class OutputCollector:
    """Accumulates stream text and rich outputs up to ``limit`` bytes in total, then drops the
    rest and remembers that it did."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.truncated = False
        self.dropped_mime: set[str] = set()
        self.streams = {"stdout": [], "stderr": []}  # type: dict[str, list[str]]
        self.outputs: list[dict[str, str]] = []
        self.error: dict[str, str] | None = None

    def _take(self, text: str) -> str | None:
        """The part of ``text`` that still fits (cut on a UTF-8 boundary), None if nothing does."""
        left = self.limit - self.used
        if left <= 0:
            self.truncated = self.truncated or bool(text)
            return None
        if len(text) * 4 <= left:  # certainly fits: skip encoding big strings
            self.used += len(text.encode("utf-8", "replace"))
            return text
        raw = text.encode("utf-8", "replace")
        if len(raw) <= left:
            self.used += len(raw)
            return text
        self.truncated = True
        self.used = self.limit
        return raw[:left].decode("utf-8", "ignore")

    def stream(self, name: str, text: str) -> None:
        part = self._take(text)
        if part:
            self.streams["stderr" if name == "stderr" else "stdout"].append(part)

    def rich(self, data: dict[str, Any]) -> None:
        """display_data / execute_result: keep the allowed types, images only whole."""
        for mime in data:
            if mime not in ALLOWED_MIME:
                self.dropped_mime.add(mime)
        # one representation per output, the image when there is one (a figure also carries a
        # "<Figure ...>" text/plain); images are kept whole or not at all
        for mime in ("image/png", "image/jpeg"):
            value = data.get(mime)
            if isinstance(value, str):
                if self.used + len(value) <= self.limit:
                    self.used += len(value)
                    self.outputs.append({"mime_type": mime, "data": value})
                    return
                self.truncated = True
        text = data.get("text/plain")
        if isinstance(text, str):
            part = self._take(text)
            if part is not None:
                self.outputs.append({"mime_type": "text/plain", "data": part})

    def set_error(self, content: dict[str, Any]) -> None:
        tb = hide_server_paths(strip_ansi("\n".join(str(x) for x in content.get("traceback") or [])))
        if len(tb) > _TRACEBACK_CHARS:
            tb = tb[:_TRACEBACK_CHARS] + "\n... (traceback cut)"
        self.error = {
            "name": str(content.get("ename", "Error")),
            "message": strip_ansi(str(content.get("evalue", "")))[:_TRACEBACK_CHARS],
            "traceback": tb,
        }

    def notices(self) -> list[str]:
        out = []
        if self.truncated:
            out.append(f"Output was truncated: only the first {self.limit:,} bytes are shown.")
        if self.dropped_mime:
            kinds = ", ".join(sorted(self.dropped_mime))
            out.append(
                f"Outputs of type {kinds} were not shown (only text/plain, image/png, image/jpeg are)."
            )
        return out

    def result(self, status: Status, duration_s: float, notices: list[str]) -> RunResult:
        return RunResult(
            status=status,
            stdout="".join(self.streams["stdout"]),
            stderr="".join(self.streams["stderr"]),
            outputs=self.outputs,
            error=self.error,
            duration_s=duration_s,
            notices=[*notices, *self.notices()],
        )
