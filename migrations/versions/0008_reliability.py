"""reliability: gc timestamps, gc lease, namespace quotas, rate-limit counters

Revision ID: 0008_reliability
Revises: 0007_stars
Create Date: 2026-11-26 01:50:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008_reliability"
down_revision = "0007_stars"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # touched_at starts as created_at on existing rows: gc judges them by their age as before.
    for table in ("blobs", "repository_blobs"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True))
        op.execute(f"UPDATE {table} SET touched_at = created_at")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "touched_at", existing_type=sa.DateTime(timezone=True), nullable=False
            )
            batch_op.create_index(batch_op.f(f"ix_{table}_touched_at"), ["touched_at"])
    with op.batch_alter_table("namespaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quota_bytes", sa.BigInteger(), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "rate_counters",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_counters_expires_at"), ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("rate_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_counters_expires_at"))
    op.drop_table("rate_counters")
    op.drop_table("leases")
    with op.batch_alter_table("namespaces", schema=None) as batch_op:
        batch_op.drop_column("quota_bytes")
    for table in ("repository_blobs", "blobs"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_touched_at"))
            batch_op.drop_column("touched_at")
