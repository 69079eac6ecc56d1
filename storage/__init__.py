"""The database, the bottom floor: every table the tutor writes (SQLAlchemy over SQLite or
Postgres) in ``storage/store.py``. It imports nothing of ours, so ``tools``, ``curriculum``,
``knowledge`` and ``tutor`` may all use it."""
