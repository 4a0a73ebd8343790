"""stars: a user's star on a repository (the web catalog's star button)

Revision ID: 0007_stars
Revises: 0004
Create Date: 2026-11-26 01:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_stars"
down_revision = "0006_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stars",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "repository_id"),
    )
    with op.batch_alter_table("stars", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stars_repository_id"), ["repository_id"], unique=False)
    # repositories.stars existed (always 0) before there was a way to star: nothing to backfill.


def downgrade() -> None:
    with op.batch_alter_table("stars", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stars_repository_id"))
    op.drop_table("stars")
