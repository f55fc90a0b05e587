"""onboarding content: the checklist items each newcomer ticked

The steps' custom text, links and checklist live in community.settings["onboarding_plan"]
(JSON, no schema change); only the ticks, one row per person and item, need a table.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "onboarding_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "community_id", "person_id", "step", "item_id", name="uq_onboarding_check"
        ),
    )
    with op.batch_alter_table("onboarding_check", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_onboarding_check_community_id"), ["community_id"])
        batch_op.create_index(batch_op.f("ix_onboarding_check_person_id"), ["person_id"])


def downgrade() -> None:
    op.drop_table("onboarding_check")
