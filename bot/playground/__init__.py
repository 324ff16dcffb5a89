"""Browser playground: the local Telegram Bot API server, the real bot and a web page, in one process.

``run_playground(config, database_url=..., media_dir=...)`` serves it (default http://127.0.0.1:8080);
``Playground`` is the same as an object with ``start()``/``stop()``/``url`` (tests).
"""

from .app import Playground, PlaygroundError, run_playground

__all__ = ["Playground", "PlaygroundError", "run_playground"]
