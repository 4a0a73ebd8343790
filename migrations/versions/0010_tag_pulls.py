"""tags.pulls: pull counts per tag (the web catalog's tags table)

Revision ID: 0010_tag_pulls
Revises: 0009_search_loads
Create Date: 2026-11-26 06:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_tag_pulls"
down_revision = "0009_search_loads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing tags start at 0: pulls were counted per repository only until now.
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pulls", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_column("pulls")
