"""a community's year: series, date polls becoming meetings, charter edits

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
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
        "meeting_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    _index("meeting_series", "community_id")

    op.create_table(
        "series_date",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("draft_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["meeting_series.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("series_id", "position", name="uq_series_date_position"),
        sa.UniqueConstraint("draft_key"),
    )
    _index("series_date", "series_id", "community_id", "starts_at")

    op.create_table(
        "date_poll",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("dates", sa.JSON(), nullable=False),
        _ts("announced_at", nullable=True),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("poll_id"),
        sa.UniqueConstraint("request_key"),
    )
    _index("date_poll", "community_id")


def downgrade() -> None:
    op.drop_table("date_poll")
    op.drop_table("series_date")
    op.drop_table("meeting_series")
