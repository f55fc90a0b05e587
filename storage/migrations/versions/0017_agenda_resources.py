"""toolbox resources attached to agenda items

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agenda_resource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agenda_item_id"], ["agenda_item.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resource_id"], ["resource.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agenda_item_id", "resource_id", name="uq_agenda_resource"),
    )
    with op.batch_alter_table("agenda_resource", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agenda_resource_agenda_item_id"), ["agenda_item_id"])
        batch_op.create_index(batch_op.f("ix_agenda_resource_resource_id"), ["resource_id"])


def downgrade() -> None:
    op.drop_table("agenda_resource")
