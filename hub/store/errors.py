"""What the store raises, and the one place driver errors are translated into it.

Exception tree::

    StoreError                  anything the store cannot do; never a raw driver error
    ├── Conflict                the data changed under you: a case's version moved on, a
    │                           message id or audit entry was written by someone else, or
    │                           the database aborted the transaction to break a deadlock.
    │                           Retry the whole batch (reload, re-apply).
    └── Unavailable             transient: the database is down, unreachable or locked.
                                Retry later (tenacity); never quarantine a message for it.

A plain :class:`StoreError` is a bug or a broken schema: retrying will not help.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Final, ParamSpec, TypeVar

from sqlalchemy import exc

__all__ = ["Conflict", "DocumentError", "StoreError", "Unavailable", "translated", "translating"]

P = ParamSpec("P")
R = TypeVar("R")


class StoreError(Exception):
    """The store could not do what was asked (see the module docstring for the tree)."""


class Conflict(StoreError):
    """Optimistic concurrency: the case (or message, or audit chain) changed under you."""


class Unavailable(StoreError):
    """Transient: the database is down, unreachable or locked; retry later."""


class DocumentError(ValueError):
    """A stored case document cannot be read back into a case (corrupt, or from foreign code)."""


#: PostgreSQL SQLSTATEs: unique violation, serialization failure, deadlock detected.
_PG_CONFLICTS: Final = frozenset({"23505", "40001", "40P01"})
#: SQLite primary result codes that mean "not now": busy, locked, I/O, full, can't open, protocol.
_SQLITE_TRANSIENT: Final = frozenset({5, 6, 10, 13, 14, 15})
#: SQLite extended codes of a primary-key or unique constraint failure.
_SQLITE_UNIQUE: Final = frozenset({1555, 2067})


def classify(error: exc.SQLAlchemyError) -> StoreError:
    """The store error that ``error`` (from SQLAlchemy or the driver under it) stands for."""
    detail = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    if isinstance(error, exc.TimeoutError):  # no pooled connection came free in time
        return Unavailable(detail)
    if not isinstance(error, exc.DBAPIError):
        return StoreError(detail)
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        if code in _SQLITE_UNIQUE:
            return Conflict(detail)
        if code is not None and code & 0xFF in _SQLITE_TRANSIENT:
            return Unavailable(detail)
        return StoreError(detail)
    if sqlstate in _PG_CONFLICTS:
        return Conflict(detail)
    if error.connection_invalidated or isinstance(error, exc.OperationalError | exc.InterfaceError):
        return Unavailable(detail)
    return StoreError(detail)


@contextmanager
def translated() -> Iterator[None]:
    """Run a block, raising :class:`StoreError` subclasses instead of SQLAlchemy/driver errors.

    A stored document that no longer reads (:class:`DocumentError`) is a
    plain :class:`StoreError` too: retrying will not mend it.
    """
    try:
        yield
    except exc.SQLAlchemyError as error:
        raise classify(error) from error
    except DocumentError as error:
        raise StoreError(f"the ledger holds an unreadable case document: {error}") from error


def translating(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a store method so that it raises only :class:`StoreError` for database faults."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with translated():
            return function(*args, **kwargs)

    return wrapper
