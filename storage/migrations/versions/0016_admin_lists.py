"""partial presence, guests, admin support's lists and mentoring supervision

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
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
        "mailing_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        _ts("agreed_at"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", name="uq_mailing_consent_person"),
    )
    op.create_table(
        "attendance_partial",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("late_minutes", sa.Integer(), nullable=False),
        sa.Column("early_minutes", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        _ts("recorded_at"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "person_id", name="uq_attendance_partial_person"),
    )
    _index("attendance_partial", "meeting_id", "person_id")
    op.create_table(
        "meeting_guest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        _ts("added_at"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["added_by_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "name_key", name="uq_meeting_guest_name"),
    )
    _index("meeting_guest", "meeting_id", "added_by_id")
    op.create_table(
        "mentor_support_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pairing_id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=True),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        _ts("requested_at"),
        sa.ForeignKeyConstraint(["pairing_id"], ["mentor_pairing.id"]),
        sa.ForeignKeyConstraint(["mentor_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key", name="uq_mentor_support_request_key"),
    )
    _index("mentor_support_request", "pairing_id", "mentor_id")


def downgrade() -> None:
    for table in (
        "mentor_support_request",
        "meeting_guest",
        "attendance_partial",
        "mailing_consent",
    ):
        op.drop_table(table)
