"""search: full-text indexes over toolbox resources, topics, questions and their answers

SQLite: FTS5 external-content tables (`unicode61 remove_diacritics 2`) kept in sync by
triggers. PostgreSQL: a stored `search_vector` column on each table, computed from accent-folded
text with the `simple` configuration, under a GIN index. Both spellings ignore accents and case
the same way, so one query means the same on both (docs/decisions.md, "Search").

Every object this revision creates is named `search_*` (`ix_search_*` for indexes, the column
`search_vector`): tests/test_migrations.py leaves exactly those out of its model comparison.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# -- SQLite ---------------------------------------------------------------------------------

# A resource's themes are a JSON list (stored with \u escapes): the index reads them as words,
# through a view, so that FTS5's own reads of the content (rebuild, integrity-check) see the
# same text the triggers index. A scalar expression, since FTS5 cannot read a view that uses
# json_each(); the first 12 themes are indexed (a community has a handful).
MAX_THEMES_INDEXED = 12
_THEMES = (
    "(CASE WHEN json_valid({row}.themes) THEN "
    + " || ' ' || ".join(
        f"coalesce(json_extract({{row}}.themes, '$[{i}]'), '')" for i in range(MAX_THEMES_INDEXED)
    )
    + " ELSE '' END)"
)

# Who may see a row, as words FTS5 can intersect with the words typed: « c<community id> », and
# for a resource shared with its tenant « t<tenant id in hex> » too. A member of a few
# communities then reads only their matches, not every match of the network
# (storage/search.py adds « scope : (c3 OR c9 OR t…) » to the query).
_COMMUNITY_SCOPE = "'c' || {row}.community_id"
_RESOURCE_SCOPE = (
    "'c' || {row}.community_id || CASE WHEN {row}.visibility = 'tenant' "
    "AND {row}.tenant_id IS NOT NULL THEN ' t' || hex({row}.tenant_id) ELSE '' END"
)

# name → (table, view the index reads (None: the table), indexed columns, their expressions)
_FTS: dict[str, tuple[str, str | None, tuple[str, ...], tuple[str, ...]]] = {
    "search_resource": (
        "resource",
        "search_resource_source",
        ("title", "why", "themes", "scope"),
        ("{row}.title", "{row}.why", _THEMES, _RESOURCE_SCOPE),
    ),
    "search_topic": (
        "topic",
        "search_topic_source",
        ("title", "description", "scope"),
        ("{row}.title", "{row}.description", _COMMUNITY_SCOPE),
    ),
    "search_question": (
        "question",
        "search_question_source",
        ("text", "scope"),
        ("{row}.text", _COMMUNITY_SCOPE),
    ),
    # An answer's community is its question's: not on its row, so not in its index (answers
    # are read through their questions' matches and filtered by the question's community).
    "search_answer": ("question_answer", None, ("text",), ("{row}.text",)),
}
# The columns whose change rewrites a row's index entry (status changes do not: visibility
# by status is filtered at query time, where its rules are written).
_WATCHED = {
    "resource": ("title", "why", "themes", "community_id", "visibility", "tenant_id"),
    "topic": ("title", "description", "community_id"),
    "question": ("text", "community_id"),
    "question_answer": ("text",),
}
# Prefix indexes make « detres » (a word being typed) as fast as a whole word.
_TOKENIZE = "tokenize = \"unicode61 remove_diacritics 2\", prefix = '2 3 4'"


# Resources shared with the whole tenant, by tenant: a person's visible set is their few
# communities' resources plus these, never every resource of the tenant.
_SHARED_INDEX = (
    "CREATE INDEX ix_search_resource_shared ON resource (tenant_id) WHERE visibility = 'tenant'"
)


def _sqlite_upgrade() -> None:
    op.execute(_SHARED_INDEX)
    for name, (table, view, columns, values) in _FTS.items():
        names = ", ".join(columns)
        if view is not None:
            selected = ", ".join(
                f"{v.format(row=table)} AS {c}" for c, v in zip(columns, values, strict=True)
            )
            op.execute(f"CREATE VIEW {view} AS SELECT id, {selected} FROM {table}")
        op.execute(
            f"CREATE VIRTUAL TABLE {name} USING fts5({names}, content = '{view or table}', "
            f"content_rowid = 'id', {_TOKENIZE})"
        )
        new = ", ".join(v.format(row="new") for v in values)
        old = ", ".join(v.format(row="old") for v in values)
        insert = f"INSERT INTO {name} (rowid, {names}) VALUES (new.id, {new});"
        delete = f"INSERT INTO {name} ({name}, rowid, {names}) VALUES ('delete', old.id, {old});"
        op.execute(f"CREATE TRIGGER {name}_ai AFTER INSERT ON {table} BEGIN {insert} END")
        op.execute(f"CREATE TRIGGER {name}_ad AFTER DELETE ON {table} BEGIN {delete} END")
        watched = ", ".join(["id", *_WATCHED[table]])
        op.execute(
            f"CREATE TRIGGER {name}_au AFTER UPDATE OF {watched} ON {table} "
            f"BEGIN {delete} {insert} END"
        )
        # Rows written before this revision.
        op.execute(f"INSERT INTO {name} ({name}) VALUES ('rebuild')")


def _sqlite_downgrade() -> None:
    for name, (_table, view, _columns, _values) in _FTS.items():
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {name}")
        if view is not None:
            op.execute(f"DROP VIEW IF EXISTS {view}")
    op.execute("DROP INDEX IF EXISTS ix_search_resource_shared")


# -- PostgreSQL -----------------------------------------------------------------------------

# Accents folded with translate(): built in, IMMUTABLE (so usable in a stored generated column),
# no extension to install (`unaccent` needs CREATE on the database and is only STABLE).
# storage/search.py folds the words typed the same way.
_ACCENTED = "àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ"
_PLAIN = "aaaaaaceeeeiiiinooooouuuuyyAAAAAACEEEEIIIINOOOOOUUUUYY"

_PG_FUNCTIONS = (
    f"""
    CREATE FUNCTION search_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT
    AS $$ SELECT lower(translate(value, '{_ACCENTED}', '{_PLAIN}')) $$
    """,
    """
    CREATE FUNCTION search_words(value json) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT CASE WHEN json_typeof(value) = 'array'
            THEN (SELECT coalesce(string_agg(item, ' '), '') FROM json_array_elements_text(value)
                  AS item)
            ELSE '' END
    $$
    """,
    # Title words weigh A (ranked first), the rest B.
    """
    CREATE FUNCTION search_vector(title text, body text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT setweight(to_tsvector('simple'::regconfig, search_fold(coalesce(title, ''))), 'A')
            || setweight(to_tsvector('simple'::regconfig, search_fold(coalesce(body, ''))), 'B')
    $$
    """,
)
# table → (title expression, body expression)
_PG_VECTORS: dict[str, tuple[str, str]] = {
    "resource": ("title", "why || ' ' || search_words(themes)"),
    "topic": ("title", "description"),
    "question": ("text", "''"),
    "question_answer": ("''", "text"),
}


def _pg_upgrade() -> None:
    op.execute(_SHARED_INDEX)
    for statement in _PG_FUNCTIONS:
        op.execute(statement)
    for table, (title, body) in _PG_VECTORS.items():
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS (search_vector({title}, {body})) STORED"
        )
        op.execute(f"CREATE INDEX ix_search_{table} ON {table} USING gin (search_vector)")


def _pg_downgrade() -> None:
    for table in _PG_VECTORS:
        op.execute(f"DROP INDEX IF EXISTS ix_search_{table}")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")
    op.execute("DROP FUNCTION IF EXISTS search_vector(text, text)")
    op.execute("DROP FUNCTION IF EXISTS search_words(json)")
    op.execute("DROP FUNCTION IF EXISTS search_fold(text)")
    op.execute("DROP INDEX IF EXISTS ix_search_resource_shared")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        _pg_upgrade()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_downgrade()
    elif dialect == "postgresql":
        _pg_downgrade()
