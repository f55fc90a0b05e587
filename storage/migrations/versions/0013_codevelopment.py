"""codevelopment groups

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column])


def upgrade() -> None:
    op.create_table(
        "codev_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("facilitator_id", sa.Integer(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("rhythm_weeks", sa.Integer(), nullable=False),
        sa.Column("session_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("conversation_ref_id", sa.Integer(), nullable=True),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        _ts("created_at"),
        _ts("started_at", nullable=True),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["facilitator_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["conversation_ref_id"], ["conversation_ref.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    _index("codev_group", "community_id", "facilitator_id")

    op.create_table(
        "codev_seat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        _ts("invited_at"),
        _ts("answered_at", nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["codev_group.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["invited_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "person_id", name="uq_codev_seat"),
    )
    _index("codev_seat", "group_id", "person_id")

    op.create_table(
        "codev_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("online_link", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("swap_open", sa.Boolean(), nullable=False),
        sa.Column("swap_volunteer_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_started", sa.JSON(), nullable=False),
        sa.Column("conversation_ref_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.String(length=255), nullable=True),
        _ts("attendance_confirmed_at", nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["codev_group.id"]),
        sa.ForeignKeyConstraint(["client_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["swap_volunteer_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["conversation_ref_id"], ["conversation_ref.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "number", name="uq_codev_session_number"),
    )
    _index("codev_session", "group_id", "starts_at", "client_id")

    op.create_table(
        "codev_private_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["session_id"], ["codev_session.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "person_id", "kind", name="uq_codev_private_note"),
    )
    _index("codev_private_note", "session_id", "person_id")

    op.create_table(
        "codev_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        _ts("confirmed_at"),
        sa.ForeignKeyConstraint(["session_id"], ["codev_session.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["confirmed_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "person_id", name="uq_codev_attendance"),
    )
    _index("codev_attendance", "session_id", "person_id")


def downgrade() -> None:
    for table in (
        "codev_attendance",
        "codev_private_note",
        "codev_session",
        "codev_seat",
        "codev_group",
    ):
        op.drop_table(table)
