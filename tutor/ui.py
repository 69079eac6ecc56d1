"""The Gradio UI (Chat, Learn, Code, Train). Calls only ``Tutor``; never renders learner HTML."""

from __future__ import annotations

from typing import Any

import gradio as gr


def build_ui(tutor: Any) -> gr.Blocks:
    with gr.Blocks(title="GPT Tutor") as ui:
        gr.Markdown("# GPT Tutor\nData science, machine learning and GPT transformers.")
    return ui
