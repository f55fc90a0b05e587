"""Rows the botbuilder version stored (pickle, and jsonpickle before it) read into today's
dialog state, and the person's dialog goes on from where it was. The rows in
tests/data/legacy_state/ were written by that version's own dialogs, halfway through."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.dialogs import Dialog, DialogSet, DialogState, DialogTurnStatus
from microsoft_agents.hosting.dialogs.prompts import PromptOptions
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from dialogs.context import TurnInfo
from dialogs.join_dialog import JoinAnswers, JoinDialog
from dialogs.language_dialog import LanguageDialog
from dialogs.propose_topic_dialog import ProposeTopicDialog, TopicAnswers
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import BotState, utcnow
from storage.state_codec import decode_stored, encode
from storage.state_store import SqlPrivateConversationState, SqlStorage
from tests.support import TZ, ChatAdapter, TurnInfoMiddleware, said

ROWS = Path(__file__).parent / "data" / "legacy_state"
ENCODINGS = ["pickle5", "jsonpickle"]


def row(name: str, encoding: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((ROWS / f"{name}.{encoding}.json").read_text())
    return loaded


def stack_ids(state: DialogState) -> list[str | None]:
    """The dialog ids on the stack, outer first, through component dialogs' inner stacks."""
    ids: list[str | None] = []
    for instance in state.dialog_stack:
        ids.append(instance.id)
        inner = instance.state.get("dialogs")
        if isinstance(inner, DialogState):
            ids += stack_ids(inner)
    return ids


def innermost(state: DialogState) -> dict[str, Any]:
    instance = state.dialog_stack[0]
    inner = instance.state.get("dialogs")
    return innermost(inner) if isinstance(inner, DialogState) else instance.state


def waterfall_values(state: DialogState) -> dict[str, Any]:
    inner = state.dialog_stack[0].state["dialogs"]
    values: dict[str, Any] = inner.dialog_stack[-1].state["values"]
    return values


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_halfway_through_joining_reads_as_a_dialog_state(encoding: str) -> None:
    state, legacy = decode_stored(row("join_halfway", encoding)["data"])
    assert legacy
    dialogs = state["DialogState"]
    assert isinstance(dialogs, DialogState)
    # Top of each stack first: the prompt waiting, above its waterfall.
    assert stack_ids(dialogs) == ["join_dialog", "join_dialog.establishment", "join_dialog.steps"]
    answers = waterfall_values(dialogs)["answers"]
    assert isinstance(answers, JoinAnswers)
    assert answers.discipline == "social_work"
    options = innermost(dialogs)["options"]
    assert isinstance(options, PromptOptions)
    assert isinstance(options.prompt, Activity)
    assert options.prompt.type == ActivityTypes.message
    assert str(options.prompt.text).startswith("Dans quel établissement travaillez-vous")


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_a_topic_proposal_and_the_last_form_read_back(encoding: str) -> None:
    state, _ = decode_stored(row("propose_topic_and_last_form", encoding)["data"])
    assert state["LastForm"] == "join_dialog"
    answers = waterfall_values(state["DialogState"])["answers"]
    assert isinstance(answers, TopicAnswers)
    assert answers.title == "Soins de plaies complexes à domicile"
    assert answers.description == "Pansements, suivi et liens avec le GMF."
    options = innermost(state["DialogState"])["options"]
    assert [c.value for c in options.choices] == [
        "Volet formatif",
        "Volet d’échange",
        "Volet réflexif",
    ]


@pytest.mark.parametrize("name", ["join_halfway", "propose_topic_and_last_form", "language_choice"])
def test_pickle_and_jsonpickle_rows_read_into_the_same_state(name: str) -> None:
    pickled, from_json = (decode_stored(row(name, e)["data"])[0] for e in ENCODINGS)
    assert encode(pickled) == encode(from_json)
    again, legacy = decode_stored(encode(pickled))
    assert not legacy
    assert encode(again) == encode(pickled)


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


class Resumed:
    """The handler's private state and one dialog over a TestAdapter, in the conversation of
    an old row (same channel, conversation and sender: the same key)."""

    def __init__(self, sessions: SessionFactory, dialog: Dialog, key: str) -> None:
        channel, _, rest = key.partition("/conversations/")
        conversation, _, rest = rest.partition("/users/")
        self.state = SqlPrivateConversationState(SqlStorage(sessions))
        self.dialogs = DialogSet(self.state.create_property("DialogState"))
        self.dialogs.add(dialog)
        self.adapter = ChatAdapter(self._logic)
        self.adapter.use(
            TurnInfoMiddleware(
                TurnInfo(person_id=None, locale="fr-CA", timezone=TZ, in_channel=False)
            )
        )
        self.adapter.template = self.adapter.template.model_copy(
            update={
                "channel_id": channel,
                "conversation": ConversationAccount(id=conversation),
                "from_property": ChannelAccount(id=rest.rstrip("/")),
            }
        )
        self.status: DialogTurnStatus | None = None

    async def _logic(self, turn_context: TurnContext) -> None:
        dialog_context = await self.dialogs.create_context(turn_context)
        result = await dialog_context.continue_dialog()  # type: ignore[no-untyped-call]
        self.status = result.status
        await self.state.save(turn_context)

    async def say(self, text: str) -> list[str]:
        await self.adapter.receive_activity(Activity(type=ActivityTypes.message, text=text))
        replies = [said(a) for a in self.adapter.activity_buffer]
        self.adapter.activity_buffer.clear()
        return replies


async def _store(sessions: SessionFactory, stored: dict[str, str]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            insert(BotState).values(
                key=stored["key"], data=stored["data"], etag="old", updated_at=utcnow()
            )
        )


async def _stored_text(sessions: SessionFactory, key: str) -> str:
    async with sessions() as session:
        found = await session.execute(select(col(BotState.data)).where(col(BotState.key) == key))
    return str(found.scalar_one())


def _wake() -> None:
    pass


RESUMES = [
    ("join_halfway", lambda s: JoinDialog(s, _wake), "CLSC de Longueuil", "Dans quelle région"),
    (
        "propose_topic_and_last_form",
        lambda s: ProposeTopicDialog(s, _wake),
        "formatif",
        "Qui pourrait le présenter",
    ),
    ("language_choice", lambda s: LanguageDialog(s), "zzz", "Je n’ai pas compris"),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("name", "dialog", "answer", "next_question"), RESUMES)
async def test_the_next_answer_continues_the_dialog_and_the_row_becomes_json(
    engine: AsyncEngine,
    encoding: str,
    name: str,
    dialog: Any,
    answer: str,
    next_question: str,
) -> None:
    sessions = session_factory(engine)
    stored = row(name, encoding)
    await _store(sessions, stored)
    chat = Resumed(sessions, dialog(sessions), stored["key"])
    replies = await chat.say(answer)
    assert chat.status == DialogTurnStatus.Waiting
    assert replies
    assert replies[-1].startswith(next_question), replies
    text = await _stored_text(sessions, stored["key"])
    assert not text.startswith("pickle5:")
    assert "py/object" not in text
    state, legacy = decode_stored(text)
    assert not legacy
    assert isinstance(state["DialogState"], DialogState)
