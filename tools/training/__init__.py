"""Training: tokenizers, token data, the GPT training loop (``gpt.py``) and training jobs.

``gpt.train_gpt`` is shared by the default-model recipe (``tutor/llm/recipe.py``) and the
fine-tuning jobs; heavy libraries (torch, transformers, tokenizers) are imported inside functions.
"""
