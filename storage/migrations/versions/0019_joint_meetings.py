"""joint meetings: a community invited to co-host another community's meeting

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meeting_cohost",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), server_default="1", nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["invited_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["answered_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "community_id", name="uq_meeting_cohost"),
    )
    with op.batch_alter_table("meeting_cohost", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_cohost_meeting_id"), ["meeting_id"])
        batch_op.create_index(batch_op.f("ix_meeting_cohost_community_id"), ["community_id"])


def downgrade() -> None:
    op.drop_table("meeting_cohost")
