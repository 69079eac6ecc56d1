"""The agent: the chat as a LangGraph graph (``graph``) over its state (``state``), the intent
classifier (``intent``), one node per intent (``nodes/``), the native tool-calling agent
(``tools``), prompts, checkpointer and chat threads (``threads``). It calls the use cases
(``tutor/usecases/``) and the models (``tutor/llm/``); the faces reach it through the ``Tutor``
facade (``tutor/service.py``)."""
