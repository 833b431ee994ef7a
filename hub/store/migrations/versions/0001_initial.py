"""The case ledger: cases, deadlines, idempotency, audit chain, outbox, payment batches.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTY = "340322"


def _county() -> sa.Column[str]:
    return sa.Column("county", sa.String(12), nullable=False, server_default=COUNTY)


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _big_id() -> sa.Column[int]:
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, autoincrement=True
    )


def _case_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["county", "case_id"], ["cases.county", "cases.case_id"], ondelete="CASCADE", name=f"fk_{table}_case"
    )


def upgrade() -> None:
    """Create every table of the ledger."""
    op.create_table(
        "cases",
        _county(),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("intake", sa.String(32), nullable=False),
        sa.Column("coordinator", sa.String(32)),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        _time("registered_at"),
        _time("stage_since", nullable=True),
        _time("closed_at", nullable=True),
        _time("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("county", "case_id", name="pk_cases"),
    )
    for column in ("stage", "tier", "owner", "intake"):
        op.create_index(f"ix_cases_county_{column}_case_id", "cases", ["county", column, "case_id"])

    op.create_table(
        "case_departments",
        _county(),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(32), nullable=False),
        _case_fk("case_departments"),
        sa.PrimaryKeyConstraint("county", "case_id", "department", name="pk_case_departments"),
    )
    op.create_index(
        "ix_case_departments_county_department_case_id", "case_departments", ["county", "department", "case_id"]
    )

    op.create_table(
        "deadlines",
        _county(),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        _time("started_at"),
        _time("due_at"),
        _time("warn_at", nullable=True),
        sa.Column("warned", sa.Boolean(), nullable=False, server_default=sa.false()),
        _time("fire_at"),
        _case_fk("deadlines"),
        sa.PrimaryKeyConstraint("county", "case_id", "key", "department", name="pk_deadlines"),
    )
    op.create_index("ix_deadlines_county_fire_at", "deadlines", ["county", "fire_at"])
    op.create_index("ix_deadlines_county_due_at", "deadlines", ["county", "due_at"])

    op.create_table(
        "processed_messages",
        sa.Column("message_id", sa.String(64), nullable=False),
        _county(),
        sa.Column("case_id", sa.String(64)),
        _time("processed_at"),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "county", name="pk_processed_messages"),
    )
    op.create_index("ix_processed_messages_county_processed_at", "processed_messages", ["county", "processed_at"])

    op.create_table(
        "audit_log",
        _county(),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(200), nullable=False),
        _time("occurred_at"),
        _time("recorded_at"),
        sa.Column("actor", sa.String(200)),
        sa.Column("note", sa.Text()),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("county", "case_id", "seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_message_id", "audit_log", ["message_id"])

    op.create_table(
        "audit_heads",
        _county(),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("county", "case_id", name="pk_audit_heads"),
    )

    op.create_table(
        "outbox",
        _big_id(),
        _county(),
        _time("created_at"),
        sa.Column("exchange", sa.String(255), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        _time("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    unsent = sa.text("sent_at IS NULL")
    op.create_index(
        "ix_outbox_unsent", "outbox", ["county", "id"], sqlite_where=unsent, postgresql_where=unsent
    )

    op.create_table(
        "payment_batches",
        _county(),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        _time("received_at"),
        _time("due_at"),
        _time("completed_at", nullable=True),
        _time("updated_at"),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("county", "batch_id", name="pk_payment_batches"),
    )
    op.create_table(
        "payment_batch_targets",
        _county(),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        _time("due_at"),
        sa.Column("receipted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county", "batch_id"], ["payment_batches.county", "payment_batches.batch_id"],
            ondelete="CASCADE", name="fk_payment_batch_targets_batch",
        ),
        sa.PrimaryKeyConstraint("county", "batch_id", "target", name="pk_payment_batch_targets"),
    )  # fmt: skip
    op.create_index(
        "ix_payment_batch_targets_county_receipted_target",
        "payment_batch_targets", ["county", "receipted", "target"],
    )  # fmt: skip

    op.create_table(
        "case_sequences",
        _county(),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("county", "department", "year", name="pk_case_sequences"),
    )

    op.create_table(
        "replays",
        _big_id(),
        _county(),
        sa.Column("message_id", sa.String(64), nullable=False),
        _time("replayed_at"),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_replays"),
    )
    op.create_index("ix_replays_message_id", "replays", ["message_id"])


def downgrade() -> None:
    """Drop every table of the ledger (its data with it)."""
    for table in (
        "replays", "case_sequences", "payment_batch_targets", "payment_batches", "outbox",
        "audit_heads", "audit_log", "processed_messages", "deadlines", "case_departments", "cases",
    ):  # fmt: skip
        op.drop_table(table)
