"""anonymous ballots

Anonymous ballots lose their time (poll_vote.voted_at is kept for named ballots only) and
survey answers their day (survey_response.submitted_on); both are dealt anew at random over
their ids, so that rows written before this version do not keep the order of answering
(storage/anonymity.py). The key the bot derived hashes and links from leaves the database: an
`app_secret` key moves to the key file the caller names (storage/migrate.py passes
CARREFOUR_SECRET_KEY_FILE), unless the operator configures CARREFOUR_SECRET_KEY, which the bot
then uses instead; the table is dropped.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:50:00
"""

import random
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from storage.secrets import read_key_file, write_key_file

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEALED = "sealed:"

poll = sa.table("poll", sa.column("id", sa.Integer), sa.column("anonymous", sa.Boolean))
poll_vote = sa.table(
    "poll_vote",
    sa.column("id", sa.Integer),
    sa.column("poll_id", sa.Integer),
    sa.column("voter_key", sa.String),
    sa.column("person_id", sa.Integer),
    sa.column("choices", sa.JSON),
    sa.column("voted_at", sa.DateTime(timezone=True)),
)
survey_response = sa.table(
    "survey_response",
    sa.column("id", sa.Integer),
    sa.column("survey_id", sa.Integer),
    sa.column("respondent_key", sa.String),
    sa.column("ratings", sa.JSON),
    sa.column("texts", sa.JSON),
    sa.column("choices", sa.JSON),
)
app_secret = sa.table("app_secret", sa.column("name", sa.String), sa.column("value", sa.String))


def _key_file() -> tuple[Path | None, bool]:
    attributes = context.config.attributes
    path = attributes.get("secret_key_file")
    return (Path(path) if path else None), bool(attributes.get("secret_key_configured"))


def _move_key_out(connection: sa.Connection) -> None:
    stored = connection.execute(
        sa.select(app_secret.c.value).where(app_secret.c.name == "master")
    ).scalar()
    if stored is None:
        return
    key_file, configured = _key_file()
    if configured:
        return  # the operator's key is the one in use; the database's goes with its table
    if key_file is None:
        raise RuntimeError(
            "this database holds the bot's secret key, which now lives outside it: run "
            "`carrefour db upgrade` (it knows CARREFOUR_SECRET_KEY_FILE), or set "
            "CARREFOUR_SECRET_KEY"
        )
    existing = read_key_file(key_file)
    if existing is None:
        existing = write_key_file(key_file, stored)
    if existing != stored:
        raise RuntimeError(
            f"{key_file} already holds a different key than this database: move one of them "
            "away (the database's key is the one its open anonymous polls and links use)"
        )


def _deal_anew(
    connection: sa.Connection, table: sa.TableClause, group: str, key_column: str
) -> None:
    """As storage/anonymity.deal_anew, for the rows written before this version."""
    groups: dict[int, list[dict[str, object]]] = {}
    for row in connection.execute(sa.select(table)).mappings():
        groups.setdefault(int(row[group]), []).append(dict(row))
    shuffle = random.SystemRandom().shuffle
    for group_id, rows in groups.items():
        if (
            group == "poll_id"
            and not connection.execute(
                sa.select(poll.c.anonymous).where(poll.c.id == group_id)
            ).scalar()
        ):
            continue
        ids = sorted(int(str(row["id"])) for row in rows)
        contents = [{k: v for k, v in row.items() if k != "id"} for row in rows]
        shuffle(contents)
        dealt = []
        for row_id, content in zip(ids, contents, strict=True):
            if str(content[key_column]).startswith(SEALED):
                content[key_column] = f"{SEALED}{row_id}"
            dealt.append({"id": row_id, **content})
        connection.execute(sa.delete(table).where(table.c[group] == group_id))
        connection.execute(sa.insert(table), dealt)


def upgrade() -> None:
    if context.is_offline_mode():
        raise RuntimeError("0007 moves data (the secret key, ballots): run it online")
    connection = op.get_bind()
    # First, so that a refusal (nowhere to put the key) comes before any change.
    _move_key_out(connection)
    with op.batch_alter_table("poll_vote", schema=None) as batch_op:
        batch_op.alter_column("voted_at", existing_type=sa.DateTime(timezone=True), nullable=True)
    connection.execute(
        sa.update(poll_vote)
        .where(poll_vote.c.poll_id.in_(sa.select(poll.c.id).where(poll.c.anonymous)))
        .values(voted_at=None)
    )
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.drop_column("submitted_on")
    _deal_anew(connection, poll_vote, "poll_id", "voter_key")
    _deal_anew(connection, survey_response, "survey_id", "respondent_key")
    op.drop_table("app_secret")


def downgrade() -> None:
    op.create_table(
        "app_secret",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    key_file, configured = _key_file()
    key = read_key_file(key_file) if key_file is not None and not configured else None
    if key is not None:
        op.get_bind().execute(
            sa.text(
                "INSERT INTO app_secret (name, value, created_at) "
                "VALUES ('master', :value, CURRENT_TIMESTAMP)"
            ),
            {"value": key},
        )
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "submitted_on", sa.Date(), nullable=False, server_default=sa.text("CURRENT_DATE")
            )
        )
    # The time of an anonymous ballot is gone; its poll's creation stands in for it.
    op.get_bind().execute(
        sa.text(
            "UPDATE poll_vote SET voted_at = (SELECT created_at FROM poll "
            "WHERE poll.id = poll_vote.poll_id) WHERE voted_at IS NULL"
        )
    )
    with op.batch_alter_table("poll_vote", schema=None) as batch_op:
        batch_op.alter_column("voted_at", existing_type=sa.DateTime(timezone=True), nullable=False)
