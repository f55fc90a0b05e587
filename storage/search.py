"""Finding the community's shared practice from anywhere in Teams: toolbox resources, topics of
the topic bank and answered questions, by a few typed words.

Matching ignores accents and case (« detresse » finds « Détresse »), every word typed must
appear (the last ones may be half typed: each word matches as a prefix), and common French and
English little words are left out. Results are ranked: a match in the title (a question's own
text) comes before a match elsewhere (a resource's « why » and themes, a topic's description,
a question's answers), then by bm25 (SQLite FTS5) or ts_rank (PostgreSQL). The indexes are
migration 0011's; docs/decisions.md says why they are built this way.

Who sees what is decided here, next to the queries, from the person's active memberships only
(nothing the client sends names a community):

- resources that are active, of the person's communities, and those shared with the whole
  tenant by any community of a tenant they belong to through a membership;
- topics of their communities, except declined ones;
- questions of their communities that were answered (an answer marked, or at least one
  answer), never withdrawn ones; an anonymous question never shows who asked.
"""

from __future__ import annotations

import enum
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, bindparam, text
from sqlalchemy.sql.elements import TextClause
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Community,
    Membership,
    Person,
    Question,
    QuestionAnswer,
    Resource,
    Topic,
)

logger = logging.getLogger(__name__)

# Teams asks for 25 results at a time; more than a screenful is never useful.
MAX_COUNT = 25
# Far enough for anyone scrolling; bounds the work a forged `skip` can ask for.
MAX_SKIP = 500
# Words of a query that count; the rest of a pasted paragraph is ignored.
MAX_TERMS = 8
MAX_TERM_CHARS = 40
MAX_QUERY_CHARS = 200

# Little words a query may contain but a title need not (« outils pour la détresse »).
STOPWORDS = frozenset(
    {
        # French
        "au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "elle", "en", "et", "il",
        "la", "le", "les", "leur", "mais", "ou", "par", "pour", "qu", "que", "qui", "sa", "se",
        "ses", "son", "sur", "un", "une", "est", "sont",
        # English
        "an", "and", "are", "as", "at", "by", "for", "from", "in", "is", "it", "of", "on", "or",
        "the", "to", "with",
    }
)  # fmt: skip

_WORD = re.compile(r"[^\W_]+")


class SearchKind(enum.StrEnum):
    RESOURCE = "resource"
    TOPIC = "topic"
    QUESTION = "question"


def fold(value: str) -> str:
    """Lower case without accents (« Détresse » → « detresse »), as the indexes store words."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def terms(query: str) -> list[str]:
    """The words of a query that are searched for, folded, in order, each once."""
    found: list[str] = []
    for word in _WORD.findall(fold(query[:MAX_QUERY_CHARS])):
        word = word[:MAX_TERM_CHARS]
        if len(word) < 2 or word in STOPWORDS or word in found:
            continue
        found.append(word)
        if len(found) == MAX_TERMS:
            break
    return found


# -- who may see what -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """What a person may search: their active communities and those communities' tenants."""

    community_ids: tuple[int, ...]
    tenant_ids: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.community_ids


NOWHERE = Scope(community_ids=(), tenant_ids=())


async def scope_of(session: AsyncSession, *, person_id: int | None) -> Scope:
    if person_id is None:
        return NOWHERE
    rows = await session.exec(
        select(Community.id, Community.tenant_id)
        .join(Membership, col(Membership.community_id) == col(Community.id))
        .where(col(Membership.person_id) == person_id)
        .where(col(Membership.left_at).is_(None))
        .order_by(col(Community.id))
    )
    pairs = rows.all()
    return Scope(
        community_ids=tuple(int(c) for c, _ in pairs if c is not None),
        tenant_ids=tuple(sorted({t for _, t in pairs if t})),
    )


# The visibility rules, as SQL fragments shared by the search and the « recent » list.
_RESOURCE_VISIBLE = (
    "r.status = 'active' AND (r.community_id IN :communities "
    "OR (r.visibility = 'tenant' AND r.tenant_id IN :tenants))"
)
_TOPIC_VISIBLE = "t.status <> 'declined' AND t.community_id IN :communities"
_QUESTION_VISIBLE = (
    "q.status <> 'withdrawn' AND q.community_id IN :communities AND (q.status = 'answered' "
    "OR EXISTS (SELECT 1 FROM question_answer x WHERE x.question_id = q.id))"
)
# The same rule where each question's answers are already counted (`answers.given`).
_QUESTION_VISIBLE_ANSWERS = (
    "q.status <> 'withdrawn' AND q.community_id IN :communities "
    "AND (q.status = 'answered' OR answers.given > 0)"
)

# A result with a word typed in its title comes first: bm25 over the title alone is below 0
# exactly then (the other columns weigh 0), without a second pass over the index. Then bm25
# over everything, weights of (title, why, themes) and (title, description). The index also
# holds who may see each row (`scope`, migration 0011): the MATCH reads only the person's
# communities' matches; the WHERE clauses still say the whole rule.
_SQLITE_SEARCH = f"""
SELECT kind, id FROM (
    SELECT 'resource' AS kind, r.id AS id,
        bm25(search_resource, 1.0, 0.0, 0.0, 0.0) < 0 AS in_title,
        -bm25(search_resource, 10.0, 2.0, 3.0, 0.0) AS score
    FROM search_resource JOIN resource r ON r.id = search_resource.rowid
    WHERE search_resource MATCH :resource_query AND {_RESOURCE_VISIBLE}
    UNION ALL
    SELECT 'topic', t.id,
        bm25(search_topic, 1.0, 0.0, 0.0) < 0, -bm25(search_topic, 10.0, 2.0, 0.0)
    FROM search_topic JOIN topic t ON t.id = search_topic.rowid
    WHERE search_topic MATCH :topic_query AND {_TOPIC_VISIBLE}
    UNION ALL
    SELECT 'question', q.id, max(m.in_title), max(m.score)
    FROM (
        SELECT rowid AS question_id, 1 AS in_title, -bm25(search_question, 1.0, 0.0) AS score
        FROM search_question WHERE search_question MATCH :question_query
        UNION ALL
        SELECT a.question_id, 0, -bm25(search_answer)
        FROM search_answer JOIN question_answer a ON a.id = search_answer.rowid
        WHERE search_answer MATCH :query
    ) AS m JOIN question q ON q.id = m.question_id
    WHERE {_QUESTION_VISIBLE}
    GROUP BY q.id
) AS hits
ORDER BY in_title DESC, score DESC, kind, id DESC
LIMIT :count OFFSET :skip
"""

# Title words carry weight A (migration 0011): `:*A` matches a prefix among them only, and
# `:title_query` is any of the words typed (« a | b »), as on SQLite. The
# queries are spelled out at each use (not in a CTE) so that the planner sees them and weighs
# the GIN index against the person's few communities (a common word matches thousands of rows
# of other communities); a question's answers are read through the question (by its index),
# not by scanning every answer of the tenant.
_TSQUERY = "to_tsquery('simple', :query)"
_POSTGRES_SEARCH = f"""
SELECT kind, id FROM (
    SELECT 'resource' AS kind, r.id AS id,
        r.search_vector @@ to_tsquery('simple', :title_query) AS in_title,
        ts_rank(r.search_vector, {_TSQUERY}) AS score
    FROM resource r
    WHERE r.search_vector @@ {_TSQUERY} AND {_RESOURCE_VISIBLE}
    UNION ALL
    SELECT 'topic', t.id, t.search_vector @@ to_tsquery('simple', :title_query),
        ts_rank(t.search_vector, {_TSQUERY})
    FROM topic t
    WHERE t.search_vector @@ {_TSQUERY} AND {_TOPIC_VISIBLE}
    UNION ALL
    SELECT 'question', q.id, q.search_vector @@ to_tsquery('simple', :title_query),
        greatest(
            CASE WHEN q.search_vector @@ {_TSQUERY} THEN ts_rank(q.search_vector, {_TSQUERY}) END,
            answers.score
        )
    FROM question q
    CROSS JOIN LATERAL (
        SELECT count(*) AS given,
            max(ts_rank(a.search_vector, {_TSQUERY})) FILTER (
                WHERE a.search_vector @@ {_TSQUERY}
            ) AS score
        FROM question_answer a
        WHERE a.question_id = q.id
    ) AS answers
    WHERE {_QUESTION_VISIBLE_ANSWERS}
        AND (q.search_vector @@ {_TSQUERY} OR answers.score IS NOT NULL)
) AS hits
ORDER BY in_title DESC, score DESC, kind, id DESC
LIMIT :count OFFSET :skip
"""

# Nothing typed yet: the community's pinned resources, then what is newest.
_RECENT = f"""
SELECT kind, id FROM (
    SELECT 'resource' AS kind, r.id AS id,
        CASE WHEN r.pinned AND r.community_id IN :communities THEN 1 ELSE 0 END AS pinned,
        r.updated_at AS at
    FROM resource r WHERE {_RESOURCE_VISIBLE}
    UNION ALL
    SELECT 'topic', t.id, 0, t.created_at FROM topic t WHERE {_TOPIC_VISIBLE}
    UNION ALL
    SELECT 'question', q.id, 0, coalesce(q.answered_at, q.asked_at)
    FROM question q WHERE {_QUESTION_VISIBLE}
) AS items
ORDER BY pinned DESC, at DESC, kind, id DESC
LIMIT :count OFFSET :skip
"""


def _statement(sql: str) -> TextClause:
    # Typed, so that an empty list (no tenant) is an empty list of the column's type.
    return text(sql).bindparams(
        bindparam("communities", expanding=True, type_=Integer),
        bindparam("tenants", expanding=True, type_=String),
    )


_STATEMENTS = {
    "sqlite": _statement(_SQLITE_SEARCH),
    "postgresql": _statement(_POSTGRES_SEARCH),
}
_RECENT_STATEMENT = _statement(_RECENT)


def _match_queries(dialect: str, words: Sequence[str]) -> tuple[str, str]:
    """The full-text query (every word, as a prefix) and, on PostgreSQL, any of them in a
    title. Words are letters and digits only (`terms`), so quoting them needs no escaping."""
    if dialect == "postgresql":
        return (
            " & ".join(f"'{w}':*" for w in words),
            " | ".join(f"'{w}':*A" for w in words),
        )
    return " ".join(f'"{w}"*' for w in words), ""


def _sqlite_scoped(query: str, scope: Scope) -> dict[str, str]:
    """The FTS5 query narrowed to what `scope` may see, in the words migration 0011 indexes
    (« c<community id> », « t<tenant id in hex> »): for resources, and for topics and
    questions (their communities only)."""
    communities = [f"c{community_id}" for community_id in scope.community_ids]
    tenants = [f"t{tenant.encode().hex()}" for tenant in scope.tenant_ids]
    in_communities = f"scope : ({' OR '.join(communities)})"
    # The words typed are looked for in the text columns only: « c3 » typed is not a scope.
    return {
        "resource_query": (
            f"{{title why themes}} : ({query}) AND scope : ({' OR '.join(communities + tenants)})"
        ),
        "topic_query": f"{{title description}} : ({query}) AND {in_communities}",
        "question_query": f"text : ({query}) AND {in_communities}",
    }


@dataclass(frozen=True, slots=True)
class Hit:
    kind: SearchKind
    id: int


def _window(skip: int, count: int) -> tuple[int, int]:
    return max(0, min(skip, MAX_SKIP)), max(1, min(count, MAX_COUNT))


async def find(
    session: AsyncSession, *, scope: Scope, query: str, skip: int = 0, count: int = MAX_COUNT
) -> list[Hit]:
    """One page of what `scope` may see that matches `query`, best first; with no searchable
    word in `query`, the pinned and newest items."""
    if scope.empty:
        return []
    skip, count = _window(skip, count)
    params: dict[str, Any] = {
        "communities": list(scope.community_ids),
        "tenants": list(scope.tenant_ids),
        "skip": skip,
        "count": count,
    }
    words = terms(query)
    if words:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        statement = _STATEMENTS.get(dialect, _STATEMENTS["sqlite"])
        params["query"], title_query = _match_queries(dialect, words)
        if dialect == "postgresql":
            params["title_query"] = title_query
        else:
            params.update(_sqlite_scoped(params["query"], scope))
    else:
        statement = _RECENT_STATEMENT
    rows = await session.execute(statement, params)
    return [Hit(kind=SearchKind(kind), id=int(id_)) for kind, id_ in rows.all()]


# -- what a result shows --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceResult:
    resource: Resource
    community: str


@dataclass(frozen=True, slots=True)
class TopicResult:
    topic: Topic
    community: str


@dataclass(frozen=True, slots=True)
class QuestionResult:
    question: Question
    community: str
    # None for an anonymous question, or once the asker is erased.
    asked_by: str | None
    # The answer marked as the one that helped, else the latest; None when there is none.
    answer: str | None
    answer_helped: bool
    answers: int


Result = ResourceResult | TopicResult | QuestionResult


@dataclass(frozen=True, slots=True)
class SearchPage:
    results: list[Result]
    # False when the person belongs to no community (nothing to search).
    member: bool


async def _details(session: AsyncSession, hits: Sequence[Hit]) -> dict[Hit, Result]:
    ids = {kind: [h.id for h in hits if h.kind is kind] for kind in SearchKind}
    found: dict[Hit, Result] = {}
    if ids[SearchKind.RESOURCE]:
        rows = await session.exec(
            select(Resource, Community.name)
            .join(Community, col(Community.id) == col(Resource.community_id))
            .where(col(Resource.id).in_(ids[SearchKind.RESOURCE]))
        )
        for resource, name in rows.all():
            assert resource.id is not None
            found[Hit(SearchKind.RESOURCE, resource.id)] = ResourceResult(resource, name)
    if ids[SearchKind.TOPIC]:
        topic_rows = await session.exec(
            select(Topic, Community.name)
            .join(Community, col(Community.id) == col(Topic.community_id))
            .where(col(Topic.id).in_(ids[SearchKind.TOPIC]))
        )
        for topic, name in topic_rows.all():
            assert topic.id is not None
            found[Hit(SearchKind.TOPIC, topic.id)] = TopicResult(topic, name)
    if ids[SearchKind.QUESTION]:
        found.update(await _questions(session, ids[SearchKind.QUESTION]))
    return found


async def _questions(session: AsyncSession, ids: list[int]) -> dict[Hit, Result]:
    rows = await session.exec(
        select(Question, Community.name, Person.name)
        .join(Community, col(Community.id) == col(Question.community_id))
        .outerjoin(Person, col(Person.id) == col(Question.asked_by_id))
        .where(col(Question.id).in_(ids))
    )
    answers = await session.exec(
        select(QuestionAnswer)
        .where(col(QuestionAnswer.question_id).in_(ids))
        .order_by(col(QuestionAnswer.created_at), col(QuestionAnswer.id))
    )
    by_question: dict[int, list[QuestionAnswer]] = {}
    for answer in answers.all():
        by_question.setdefault(answer.question_id, []).append(answer)
    found: dict[Hit, Result] = {}
    for question, community, asker in rows.all():
        assert question.id is not None
        given = by_question.get(question.id, [])
        helped = next((a for a in given if a.id == question.helpful_answer_id), None)
        shown = helped or (given[-1] if given else None)
        found[Hit(SearchKind.QUESTION, question.id)] = QuestionResult(
            question=question,
            community=community,
            asked_by=None if question.anonymous else asker,
            answer=shown.text if shown is not None else None,
            answer_helped=helped is not None,
            answers=len(given),
        )
    return found


async def search(
    session: AsyncSession,
    *,
    person_id: int | None,
    query: str,
    skip: int = 0,
    count: int = MAX_COUNT,
) -> SearchPage:
    """What the message extension shows `person_id` for `query` (see the module docstring)."""
    scope = await scope_of(session, person_id=person_id)
    if scope.empty:
        return SearchPage(results=[], member=False)
    hits = await find(session, scope=scope, query=query, skip=skip, count=count)
    details = await _details(session, hits)
    # In rank order; a row gone between the two reads is left out.
    return SearchPage(results=[details[h] for h in hits if h in details], member=True)
