"""Persistence: SQLAlchemy 2 async models, repositories, unit of work, migrations, media files.

Portable types only, so the same schema runs on SQLite (aiosqlite, the embedded default) and on
PostgreSQL (asyncpg).
"""
