"""complex-case discussions: submitted cases, the themes their discussion raised, and the
presenter's private takeaways

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "case_discussion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("presenter_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("context", sa.Text(), server_default="", nullable=False),
        sa.Column("complexity", sa.Text(), server_default="", nullable=False),
        sa.Column("question", sa.Text(), server_default="", nullable=False),
        sa.Column("tried", sa.Text(), server_default="", nullable=False),
        sa.Column("name_shown", sa.Boolean(), nullable=False),
        sa.Column("screening", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("facilitator_message", sa.Text(), nullable=True),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        _ts("created_at"),
        _ts("status_changed_at", nullable=True),
        _ts("discussed_at", nullable=True),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["presenter_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    with op.batch_alter_table("case_discussion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_discussion_community_id"), ["community_id"])
        batch_op.create_index(batch_op.f("ix_case_discussion_presenter_id"), ["presenter_id"])
        batch_op.create_index(batch_op.f("ix_case_discussion_meeting_id"), ["meeting_id"])
        batch_op.create_index(batch_op.f("ix_case_discussion_created_at"), ["created_at"])
        batch_op.create_index(batch_op.f("ix_case_discussion_discussed_at"), ["discussed_at"])

    op.create_table(
        "case_theme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("theme", sa.String(length=80), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case_discussion.id"]),
        sa.ForeignKeyConstraint(["topic_id"], ["topic.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "theme", name="uq_case_theme"),
    )
    with op.batch_alter_table("case_theme", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_theme_case_id"), ["case_id"])

    op.create_table(
        "case_takeaway",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _ts("recorded_at"),
        sa.ForeignKeyConstraint(["case_id"], ["case_discussion.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", name="uq_case_takeaway_case"),
    )
    with op.batch_alter_table("case_takeaway", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_takeaway_case_id"), ["case_id"])
        batch_op.create_index(batch_op.f("ix_case_takeaway_person_id"), ["person_id"])


def downgrade() -> None:
    op.drop_table("case_takeaway")
    op.drop_table("case_theme")
    op.drop_table("case_discussion")
