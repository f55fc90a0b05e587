"""shared practice: the toolbox (resources, « utile » marks) and questions to the community

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "resource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("why", sa.Text(), server_default="", nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("shared_by_id", sa.Integer(), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["merged_into_id"], ["resource.id"]),
        sa.ForeignKeyConstraint(["shared_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_community_id"), ["community_id"])
        batch_op.create_index(batch_op.f("ix_resource_tenant_id"), ["tenant_id"])
        batch_op.create_index(batch_op.f("ix_resource_shared_by_id"), ["shared_by_id"])

    op.create_table(
        "resource_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        _ts("marked_at"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["resource_id"], ["resource.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resource_id", "person_id", name="uq_resource_mark"),
    )
    with op.batch_alter_table("resource_mark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_mark_resource_id"), ["resource_id"])
        batch_op.create_index(batch_op.f("ix_resource_mark_person_id"), ["person_id"])
        batch_op.create_index(batch_op.f("ix_resource_mark_marked_at"), ["marked_at"])

    op.create_table(
        "question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("asked_by_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("conversation_ref_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.String(length=255), nullable=True),
        _ts("asked_at"),
        _ts("answered_at", nullable=True),
        sa.Column("helpful_answer_id", sa.Integer(), nullable=True),
        _ts("flagged_at", nullable=True),
        sa.Column("resource_id", sa.Integer(), nullable=True),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["asked_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["conversation_ref_id"], ["conversation_ref.id"]),
        sa.ForeignKeyConstraint(["resource_id"], ["resource.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_question_community_id"), ["community_id"])
        batch_op.create_index(batch_op.f("ix_question_asked_by_id"), ["asked_by_id"])
        batch_op.create_index(batch_op.f("ix_question_activity_id"), ["activity_id"])
        batch_op.create_index(batch_op.f("ix_question_asked_at"), ["asked_at"])

    op.create_table(
        "question_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("activity_id", sa.String(length=255), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(["answered_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("question_id", "activity_id", name="uq_question_answer_activity"),
    )
    with op.batch_alter_table("question_answer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_question_answer_question_id"), ["question_id"])
        batch_op.create_index(batch_op.f("ix_question_answer_answered_by_id"), ["answered_by_id"])


def downgrade() -> None:
    op.drop_table("question_answer")
    op.drop_table("question")
    op.drop_table("resource_mark")
    op.drop_table("resource")
