"""Persistence of the case ledger (SQLAlchemy 2, Alembic)."""
