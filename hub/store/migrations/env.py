"""Alembic environment of the ledger.

The hub runs it programmatically (:func:`hub.store.migrate.upgrade`) and hands it a
connection already in a transaction; operators run it with
``alembic -c hub/store/alembic.ini upgrade head``, where the database URL comes from
``SIHUB_DATABASE_URL`` (or ``sqlalchemy.url`` in the ini file).
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from hub.store.engine import make_engine
from hub.store.schema import metadata

config = context.config
# The hub configures its own logging; only a run from the command line (an ini file,
# no "configure_logger": False) takes the ini file's logging setup.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = os.environ.get("SIHUB_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    return url or "sqlite:///./sihub.db"


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it: later revisions need batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
        # SQLite runs DDL in transactions too: a failed upgrade leaves nothing half done.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    """Migrate offline (emit SQL), over the connection handed in, or over a new engine."""
    if context.is_offline_mode():
        context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _migrate(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as owned:
            _migrate(owned)
    finally:
        engine.dispose()


run()
