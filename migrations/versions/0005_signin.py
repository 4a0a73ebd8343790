"""sign-in: server secrets, browser sessions, sign-in attempts, identity links, trusted publishing

Revision ID: 0005_signin
Revises: 0004
Create Date: 2026-11-26

New tables only, so existing databases keep every row.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005_signin"
down_revision = "0004"
branch_labels = None
depends_on = None

AutoString = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "server_secrets",
        sa.Column("name", AutoString(length=64), nullable=False),
        sa.Column("value", AutoString(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "browser_sessions",
        sa.Column("id_hash", AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_browser_sessions_user_id", "browser_sessions", ["user_id"])
    op.create_table(
        "signin_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", AutoString(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signin_attempts_key_at", "signin_attempts", ["key", "created_at"])
    op.create_table(
        "identity_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", AutoString(length=512), nullable=False),
        sa.Column("subject", AutoString(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "subject", name="uq_identity_links_iss_sub"),
    )
    op.create_index("ix_identity_links_user_id", "identity_links", ["user_id"])
    op.create_table(
        "trusted_publishers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository", AutoString(length=255), nullable=False),
        sa.Column("issuer", AutoString(length=512), nullable=False),
        sa.Column("audience", AutoString(length=255), nullable=False),
        sa.Column("claims", AutoString(), nullable=False),
        sa.Column("created_by", AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trusted_publishers_repository", "trusted_publishers", ["repository"])
    op.create_table(
        "used_ci_tokens",
        sa.Column("key", AutoString(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("used_ci_tokens")
    op.drop_index("ix_trusted_publishers_repository", table_name="trusted_publishers")
    op.drop_table("trusted_publishers")
    op.drop_index("ix_identity_links_user_id", table_name="identity_links")
    op.drop_table("identity_links")
    op.drop_index("ix_signin_attempts_key_at", table_name="signin_attempts")
    op.drop_table("signin_attempts")
    op.drop_index("ix_browser_sessions_user_id", table_name="browser_sessions")
    op.drop_table("browser_sessions")
    op.drop_table("server_secrets")
