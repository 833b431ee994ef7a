"""Scratch databases for the store tests: a SQLite file, or a PostgreSQL database of its own.

The PostgreSQL server is shared: tests create ``sihub_test_<random>`` with
``CREATE DATABASE`` on the admin URL, never touch a database they did not create,
and drop theirs afterwards. Without a reachable server the tests skip on a laptop
but fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

#: The maintenance database of the test server; scratch databases are made from it.
POSTGRES_ADMIN_URL = os.environ.get(
    "SIHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def sqlite_url(directory: Path, name: str = "ledger.db") -> str:
    """The URL of a fresh SQLite file in ``directory`` (pytest's ``tmp_path``)."""
    return f"sqlite:///{directory / name}"


def unavailable(reason: str) -> None:
    """Skip the test on a laptop; fail it when ``CI`` is set."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def closed_port() -> int:
    """A loopback TCP port nothing listens on (bound and released at once)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_postgres(label: str = "store") -> Iterator[str]:
    """A new, empty PostgreSQL database for the block; its URL. Dropped afterwards."""
    name = f"sihub_test_{label}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 5})  # fmt: skip
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        unavailable(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error.orig}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
