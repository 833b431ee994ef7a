"""Run the ledger's Alembic migrations from code (no ``alembic.ini`` needed at run time)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from hub.store.errors import StoreError

__all__ = ["MIGRATIONS", "alembic_config", "check_current", "upgrade"]

#: The migration scripts, shipped inside the package.
MIGRATIONS: Final = Path(__file__).resolve().parent / "migrations"
#: pg_advisory_xact_lock key: replicas starting together migrate one after the other.
_MIGRATION_LOCK: Final = 0x5151_4855_4201


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database of ``engine`` up to ``revision`` in one transaction."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def check_current(engine: Engine) -> None:
    """Refuse a database whose schema is not at the head revision of this code.

    Raises:
        StoreError: the schema is missing, older or newer than this code expects.
    """
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise StoreError(
            f"the ledger schema is at revision {current or '(none)'}, this hub needs {head}: "
            "run the migrations (Store.open(..., migrate=True) or `alembic upgrade head`)"
        )
