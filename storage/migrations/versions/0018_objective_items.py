"""objective items: a satisfaction survey keeps its meeting's objectives as worded at opening

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Surveys opened before have no objective items: an empty list, as for a meeting without
    # objectives. The learning questionnaire is a new `kind` value (a String(16) column).
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.add_column(sa.Column("objectives", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    # The code before this revision knows no learning questionnaire: its surveys (anonymous
    # answers and invitations included) go with the column.
    learning = "SELECT id FROM survey WHERE kind = 'learning'"
    op.execute(f"DELETE FROM survey_response WHERE survey_id IN ({learning})")
    op.execute(f"DELETE FROM survey_invitation WHERE survey_id IN ({learning})")
    op.execute("DELETE FROM survey WHERE kind = 'learning'")
    with op.batch_alter_table("survey", schema=None) as batch_op:
        batch_op.drop_column("objectives")
