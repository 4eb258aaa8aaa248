"""Alembic environment: migrations run in-process on the engine `veilleur.store.db` hands over."""

from alembic import context

from veilleur.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
