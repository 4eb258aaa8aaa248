"""Persistence: SQLAlchemy 2 models, Alembic migrations, batched idempotent writes."""

from veilleur.store.db import StoreError, connect, database_url
from veilleur.store.writer import StoreWriter

__all__ = ["StoreError", "StoreWriter", "connect", "database_url"]
