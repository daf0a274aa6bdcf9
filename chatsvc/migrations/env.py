"""Alembic environment: runs on the connection that `chatsvc.storage.database` hands over."""

from alembic import context
from sqlmodel import SQLModel

import chatsvc.storage.tables  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `chatsvc migrate` (it passes the connection)")
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
