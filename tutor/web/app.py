"""The ASGI app factory: FastAPI (``/api``, ``/v1``, ``/mcp``, ``/healthz``, ``/readyz``,
``/docs``) with the Gradio UI mounted at ``/``. Only wiring; behaviour lives in the service
(``tutor/service.py``). ``app.py`` re-exports ``create_app`` as the entry point; the CLI
(``tutor serve``) imports it from here, so ``tutor`` never imports ``app``."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tutor.config import Settings
from tutor.service import Tutor
from tutor.web import api
from tutor.web.ui import mount_ui


def create_app(settings: Settings | None = None, tutor: Tutor | None = None, warm_up: bool = True) -> FastAPI:
    tutor = tutor or Tutor(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tutor.start_background()  # the xAPI sender, when TUTOR_XAPI_URL is set (tutor/usecases/xapi.py)
        if warm_up:  # in the background: /healthz answers at once, first requests wait on locks
            threading.Thread(target=tutor.warm_up, name="warm-up", daemon=True).start()
        yield
        tutor.close()

    app = FastAPI(title="GPT Tutor", version="0.1.0", lifespan=lifespan)
    app.state.tutor = tutor
    api.install(app)
    return mount_ui(app, tutor)  # also adds /notes/{topic_id}, before the catch-all mount at /
