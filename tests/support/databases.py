"""Scratch databases for the store tests: a SQLite file, or a PostgreSQL database of its own.

The PostgreSQL server is shared: tests create ``sihub_test_<random>`` with
``CREATE DATABASE`` on the admin URL, never touch a database they did not create,
and drop theirs afterwards. Without a reachable server the tests skip on a laptop
but fail when ``CI`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy.exc import OperationalError

from bench._support import scratch_database

#: The maintenance database of the test server; scratch databases are made from it.
POSTGRES_ADMIN_URL = os.environ.get(
    "SIHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def sqlite_url(directory: Path, name: str = "ledger.db") -> str:
    """The URL of a fresh SQLite file in ``directory`` (pytest's ``tmp_path``)."""
    return f"sqlite:///{directory / name}"


def unavailable(reason: str) -> NoReturn:
    """Skip the test on a laptop; fail it when ``CI`` is set."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def scratch_postgres(label: str = "store") -> Iterator[str]:
    """A new, empty PostgreSQL database for the block; its URL. Dropped afterwards."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(POSTGRES_ADMIN_URL, f"sihub_test_{label}"))
        except OperationalError as error:
            unavailable(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error.orig}")
        yield url
