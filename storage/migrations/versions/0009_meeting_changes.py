"""meeting changes: one meeting per draft, the calendar sequence, every agenda card copy

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        # Meetings published before have no draft key (NULLs never collide in a unique index).
        batch_op.add_column(sa.Column("draft_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("uq_meeting_draft_key", ["draft_key"], unique=True)
    op.create_table(
        "meeting_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("conversation_ref_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.String(length=255), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_ref_id"], ["conversation_ref.id"]),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_ref_id", "activity_id", name="uq_meeting_card_activity"),
    )
    with op.batch_alter_table("meeting_card", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meeting_card_meeting_id"), ["meeting_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("meeting_card", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_card_meeting_id"))
    op.drop_table("meeting_card")
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_index("uq_meeting_draft_key")
        batch_op.drop_column("sequence")
        batch_op.drop_column("draft_key")
