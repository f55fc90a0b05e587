"""turn claims

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_PROGRESS = "lease_until IS NOT NULL"


def upgrade() -> None:
    # Claims are leases now. Rows written before had no lease: they stay final (NULL).
    with op.batch_alter_table("processed_activity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("turn_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "uq_processed_activity_turn",
            ["turn_key"],
            unique=True,
            sqlite_where=sa.text(IN_PROGRESS),
            postgresql_where=sa.text(IN_PROGRESS),
        )


def downgrade() -> None:
    with op.batch_alter_table("processed_activity", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_processed_activity_turn",
            sqlite_where=sa.text(IN_PROGRESS),
            postgresql_where=sa.text(IN_PROGRESS),
        )
        batch_op.drop_column("turn_key")
        batch_op.drop_column("owner")
        batch_op.drop_column("lease_until")
