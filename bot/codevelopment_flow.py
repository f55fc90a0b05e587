"""Codevelopment groups in the bot: the command, the card actions, the creation form (a Teams
dialog), the outbox messages they queue and their renderers, and the reminders' job.

No routing here: bot/features/codevelopment.py declares the `codéveloppement` command, the
`codevelopment.*` verbs (`ACTIONS`), the form, the renderers and the job. Every action re-checks
its rule in storage/codevelopment.py; card data only says which group or session is meant.

Outbox kinds (rendered at send time from current data, None when no longer relevant):
codev_invitation, codev_reminder, codev_plan, codev_learning, codev_followup, codev_swap_call,
codev_swap_offer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from microsoft_agents.activity import Activity
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.deliveries import RenderContext, Renderer
from bot.invokes import Invokes, TaskReply
from bot.settings import Settings
from bot.turns import FeatureTurn, VerbHandler, card_activity, param_int
from cards.codevelopment import (
    FORM_CREATE,
    VERB_ACCEPT,
    VERB_ATTENDANCE,
    VERB_CREATE,
    VERB_DECLINE,
    VERB_FORM_CANCEL,
    VERB_INVITE,
    VERB_NOTE,
    VERB_PLAN,
    VERB_SHOW,
    VERB_STEP,
    VERB_SWAP_ACCEPT,
    VERB_SWAP_ASK,
    VERB_SWAP_DECLINE,
    VERB_SWAP_VOLUNTEER,
    CreateForm,
    build_create_form,
    build_group_card,
    build_groups_card,
    build_invitation_card,
    build_note_card,
    build_reminder_card,
    build_session_card,
    build_swap_call_card,
    build_swap_offer_card,
)
from cards.common import Element
from cards.consultations import identifier_kinds_text
from storage import codevelopment as codev
from storage import outbox
from storage.codevelopment import (
    KIND_FOLLOWUP,
    KIND_INVITATION,
    KIND_LEARNING,
    KIND_PLAN,
    KIND_REMINDER,
    KIND_SWAP_CALL,
    KIND_SWAP_OFFER,
    NOTE_FOLLOWUP,
    NOTE_KINDS,
    NOTE_LEARNING,
    NOTE_PLAN,
    GroupClosed,
    GroupDraft,
    GroupFull,
    InvalidGroup,
    NotYet,
    SeriesDraft,
    SwapUnfair,
)
from storage.communities import NotAllowed
from storage.db import SessionFactory, transaction
from storage.identifiers import HasIdentifiers
from storage.models import (
    CodevGroup,
    CodevGroupStatus,
    CodevSeatStatus,
    CodevSession,
    CodevSessionStatus,
    Community,
    ConversationRef,
    Membership,
    Person,
)

logger = logging.getLogger(__name__)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _ids(value: object) -> list[int]:
    """A multi-select's value ("1,2,3") as ids; anything else is no id."""
    ids: list[int] = []
    for part in _text(value).split(","):
        number = param_int({"v": part}, "v")
        if number is not None:
            ids.append(number)
    return ids


def _flag(value: object) -> bool:
    return value is True or value == "true"


# -- renderers ------------------------------------------------------------------------------------


async def _session_and_group(
    session: AsyncSession, params: dict[str, Any]
) -> tuple[CodevSession, CodevGroup] | None:
    session_id = param_int(params, "session_id")
    row = None if session_id is None else await session.get(CodevSession, session_id)
    group = None if row is None else await session.get(CodevGroup, row.group_id)
    if row is None or group is None:
        return None
    return row, group


async def render_invitation(context: RenderContext) -> Activity | None:
    group_id = param_int(context.message.params, "group_id")
    async with context.sessions() as session:
        view = None if group_id is None else await codev.view(session, group_id=group_id)
        seat = (
            None
            if view is None or context.message.person_id is None
            else await codev.seat_of(
                session, group_id=view.group.id or 0, person_id=context.message.person_id
            )
        )
    if view is None or seat is None or seat.status != CodevSeatStatus.INVITED:
        return None
    if view.group.status != CodevGroupStatus.FORMING:
        return None
    card = build_invitation_card(
        view.group, view.community, view.facilitator, locale=context.locale
    )
    return card_activity(card)


async def render_reminder(context: RenderContext) -> Activity | None:
    async with context.sessions() as session:
        found = await _session_and_group(session, context.message.params)
        if found is None:
            return None
        row, group = found
        client = None if row.client_id is None else await session.get(Person, row.client_id)
    if row.status != CodevSessionStatus.PLANNED or row.starts_at <= context.now:
        return None
    card = build_reminder_card(
        group,
        row,
        you_are_client=row.client_id is not None and row.client_id == context.message.person_id,
        client=client,
        locale=context.locale,
        tz=context.timezone,
    )
    return card_activity(card)


def _note_renderer(kind: str) -> Renderer:
    async def render(context: RenderContext) -> Activity | None:
        person_id = context.message.person_id
        async with context.sessions() as session:
            found = await _session_and_group(session, context.message.params)
            if found is None or person_id is None:
                return None
            row, group = found
            if kind in (NOTE_PLAN, NOTE_FOLLOWUP) and row.client_id != person_id:
                return None  # the client changed (erased): nobody else gets their card
            if kind == NOTE_LEARNING:
                members = await codev.member_ids(session, group_id=group.id or 0)
                if person_id not in members and person_id != group.facilitator_id:
                    return None
            note = await codev.own_note(
                session, session_id=row.id or 0, person_id=person_id, kind=kind
            )
        card = build_note_card(
            group, row, kind=kind, text=note.text if note else "", locale=context.locale
        )
        return card_activity(card)

    return render


async def render_swap_call(context: RenderContext) -> Activity | None:
    async with context.sessions() as session:
        found = await _session_and_group(session, context.message.params)
        if found is None:
            return None
        row, group = found
        client = None if row.client_id is None else await session.get(Person, row.client_id)
    if not row.swap_open or row.status != CodevSessionStatus.PLANNED:
        return None
    if row.client_id != param_int(context.message.params, "client_id"):
        return None
    card = build_swap_call_card(
        group, row, client=client, locale=context.locale, tz=context.timezone
    )
    return card_activity(card)


async def render_swap_offer(context: RenderContext) -> Activity | None:
    volunteer_id = param_int(context.message.params, "volunteer_id")
    async with context.sessions() as session:
        found = await _session_and_group(session, context.message.params)
        if found is None or volunteer_id is None:
            return None
        row, group = found
        volunteer = await session.get(Person, volunteer_id)
    if row.swap_volunteer_id != volunteer_id or row.client_id != context.message.person_id:
        return None
    card = build_swap_offer_card(
        group, row, volunteer=volunteer, locale=context.locale, tz=context.timezone
    )
    return card_activity(card)


CODEV_RENDERERS: dict[str, Renderer] = {
    KIND_INVITATION: render_invitation,
    KIND_REMINDER: render_reminder,
    KIND_PLAN: _note_renderer(NOTE_PLAN),
    KIND_LEARNING: _note_renderer(NOTE_LEARNING),
    KIND_FOLLOWUP: _note_renderer(NOTE_FOLLOWUP),
    KIND_SWAP_CALL: render_swap_call,
    KIND_SWAP_OFFER: render_swap_offer,
}


# -- the reminders' job ---------------------------------------------------------------------------


async def enqueue_reminders(*, sessions: SessionFactory, now: datetime) -> int:
    """Queue the J-7 and J-1 reminders due now; each goes out once (its key)."""
    queued = 0
    async with transaction(sessions) as session:
        for due in await codev.due_reminders(session, now=now):
            queued += await outbox.enqueue(
                session,
                dedup_key=codev.reminder_key(
                    due.session_id, due.starts_at, due.offset, due.person_id
                ),
                recipient=outbox.Recipient.person(due.person_id),
                kind=KIND_REMINDER,
                params={"session_id": due.session_id, "offset": due.offset},
                not_before=now,
            )
    if queued:
        logger.info("queued %d codevelopment reminder(s)", queued)
    return queued


# -- the command ----------------------------------------------------------------------------------


async def _candidates(session: AsyncSession, community_id: int) -> list[Person]:
    """The community's active members (facilitator or invitees to choose from)."""
    rows = await session.exec(
        select(Person)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .where(col(Membership.community_id) == community_id)
        .where(col(Membership.left_at).is_(None))
        .order_by(col(Person.name), col(Person.id))
    )
    return list(rows.all())


async def _groups_card(turn: FeatureTurn) -> Element:
    async with turn.sessions() as session:
        groups = await codev.groups_of(session, person_id=turn.person_id)
        views = [v for g in groups if (v := await codev.view(session, group_id=g.id or 0))]
        creatable = await codev.managed_communities(session, person_id=turn.person_id)
    return build_groups_card(
        views, creatable, locale=turn.info.locale, tz=turn.info.timezone, viewer_id=turn.person_id
    )


async def on_command(turn: FeatureTurn) -> None:
    """In a 1:1 chat, the person's groups; in a channel or group chat, the facilitator posts
    the card of their group's current session there (the group's conversation from now on)."""
    if not turn.info.in_channel:
        await turn.show(await _groups_card(turn))
        return
    conversation_id = str(turn.context.activity.conversation.id)
    async with transaction(turn.sessions) as session:
        ref = (
            await session.exec(
                select(ConversationRef).where(ConversationRef.conversation_id == conversation_id)
            )
        ).first()
        facilitated = [
            g
            for g in await codev.groups_of(session, person_id=turn.person_id)
            if g.facilitator_id == turn.person_id and g.status == CodevGroupStatus.STARTED
        ]
        current = None
        for group in facilitated:
            current = await codev.current_session(session, group_id=group.id or 0, now=turn.clock())
            if current is not None:
                if ref is not None and ref.id is not None:
                    await codev.bind_conversation(
                        session,
                        group_id=group.id or 0,
                        by_id=turn.person_id,
                        conversation_ref_id=ref.id,
                    )
                break
    if current is None:
        await turn.say("codev.channel.nothing")
        return
    card = await _session_card(
        turn.sessions,
        current.id or 0,
        locale=turn.info.locale,
        tz=turn.info.timezone,
        now=turn.clock(),
    )
    if card is None:
        return
    response = await turn.show(card)
    if response is not None and response.id and ref is not None and ref.id is not None:
        async with transaction(turn.sessions) as session:
            await codev.record_posted(
                session,
                session_id=current.id or 0,
                conversation_ref_id=ref.id,
                activity_id=response.id,
            )


async def _session_card(
    sessions: SessionFactory, session_id: int, *, locale: str, tz: str, now: datetime
) -> Element | None:
    async with sessions() as session:
        row = await session.get(CodevSession, session_id)
        group = None if row is None else await session.get(CodevGroup, row.group_id)
        if row is None or group is None:
            return None
        client = None if row.client_id is None else await session.get(Person, row.client_id)
        members = await codev._people(
            session, await codev.member_ids(session, group_id=group.id or 0)
        )
    return build_session_card(
        group,
        row,
        client=client,
        times=codev.step_times(row, now=now),
        members=members,
        locale=locale,
        tz=tz,
    )


# -- the group card -------------------------------------------------------------------------------


async def _group_card(turn: FeatureTurn, group_id: int) -> Element | None:
    """The group as this person may see it; None when they are not part of it."""
    async with turn.sessions() as session:
        view = await codev.view(session, group_id=group_id)
        if view is None:
            return None
        manages = await codev.may_manage(session, group=view.group, person_id=turn.person_id)
        seat = await codev.seat_of(session, group_id=group_id, person_id=turn.person_id)
        if not manages and (
            seat is None or seat.status not in (CodevSeatStatus.INVITED, CodevSeatStatus.MEMBER)
        ):
            return None
        candidates: list[Person] = []
        if manages:
            taken = {p.id for p in (*view.members, *view.invited)} | {view.group.facilitator_id}
            candidates = [
                p for p in await _candidates(session, view.group.community_id) if p.id not in taken
            ]
    return build_group_card(
        view,
        locale=turn.info.locale,
        tz=turn.info.timezone,
        viewer_id=turn.person_id,
        may_manage=manages,
        candidates=candidates,
    )


async def _show(turn: FeatureTurn, value: dict[str, Any]) -> None:
    group_id = param_int(value, "group_id")
    if group_id is None:
        # The help card's button: the person's groups.
        await turn.show(await _groups_card(turn))
        return
    card = await _group_card(turn, group_id)
    if card is None:
        await turn.say("codev.not_yours")
        return
    await turn.show(card)


# -- creating a group (a Teams dialog, or the same form sent in the chat) -----------------------


async def _form_card(
    turn: FeatureTurn, community_id: int | None, form: CreateForm
) -> Element | None:
    if community_id is None:
        return None
    async with turn.sessions() as session:
        community = await session.get(Community, community_id)
        allowed = await codev.may_create(
            session, person_id=turn.person_id, community_id=community_id
        )
        candidates = await _candidates(session, community_id) if community else []
    if community is None or not allowed:
        return None
    return build_create_form(community, candidates, form, locale=turn.info.locale)


async def _create(turn: FeatureTurn, data: dict[str, Any]) -> tuple[Element | None, Element | None]:
    """(the form again with its error, None) or (None, the new group's card)."""
    t = turn.t
    community_id = param_int(data, "community_id")
    facilitator_id = param_int(data, "facilitator_id")
    seats = param_int(data, "seats")
    rhythm = param_int(data, "rhythm_weeks")
    form = CreateForm(
        name=_text(data.get("name"))[:200],
        facilitator_id=facilitator_id,
        seats=seats or codev.MAX_SEATS,
        rhythm_weeks=rhythm or 6,
    )
    if community_id is None:
        return None, None
    draft = GroupDraft(
        community_id=community_id,
        name=form.name,
        facilitator_id=facilitator_id or 0,
        seats=seats or 0,
        rhythm_weeks=rhythm or 0,
        confirmed=_flag(data.get("confirmed")),
    )
    error: str | None = None
    ask_confirm = False
    try:
        async with transaction(turn.sessions) as session:
            group, _created = await codev.create_group(
                session,
                draft=draft,
                created_by_id=turn.person_id,
                request_key=_text(data.get("request_key")) or turn.context.activity.id,
                now=turn.clock(),
            )
    except InvalidGroup as invalid:
        error = t(f"codev.invalid.{invalid.code}")
    except HasIdentifiers as spotted:
        error = t(
            "codev.identifiers",
            kinds=identifier_kinds_text(spotted.kinds, locale=turn.info.locale),
        )
        ask_confirm = True
    except NotAllowed:
        return None, None
    if error is not None:
        again = CreateForm(
            name=form.name,
            facilitator_id=form.facilitator_id,
            seats=form.seats,
            rhythm_weeks=form.rhythm_weeks,
            error=error,
            ask_confirm=ask_confirm,
        )
        return await _form_card(turn, community_id, again), None
    return None, await _group_card(turn, group.id or 0)


async def _create_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    form, card = await _create(turn, value)
    if form is not None:
        await turn.replace_clicked(form)
    elif card is not None:
        await turn.say("codev.created")
        await turn.show(card)
    else:
        await turn.say("codev.not_allowed")


async def _form_cancel(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    """« Annuler » of the creation form when it came in the chat (not in a Teams dialog)."""
    await turn.say("codev.create.cancelled")


def register_forms(invokes: Invokes, *, settings: Settings) -> None:
    """The creation form as a Teams dialog: its drafts and errors stay in the dialog."""
    del settings

    async def fetch(turn: FeatureTurn, data: dict[str, Any]) -> TaskReply:
        card = await _form_card(turn, param_int(data, "community_id"), CreateForm())
        if card is None:
            return TaskReply.message(turn.t("codev.not_allowed"))
        return TaskReply.card(turn.t("codev.create.title"), card)

    async def submit_(turn: FeatureTurn, data: dict[str, Any]) -> TaskReply:
        if data.get("verb") == VERB_FORM_CANCEL:
            return TaskReply.close()
        form, card = await _create(turn, data)
        if form is not None:
            return TaskReply.card(turn.t("codev.create.title"), form)
        if card is None:
            return TaskReply.message(turn.t("codev.not_allowed"))
        await turn.show(card)
        return TaskReply.close()

    invokes.form(FORM_CREATE, fetch=fetch, submit=submit_)


# -- invitations ----------------------------------------------------------------------------------


async def _invite(turn: FeatureTurn, value: dict[str, Any]) -> None:
    group_id = param_int(value, "group_id")
    person_ids = _ids(value.get("person_ids"))
    if group_id is None:
        await turn.say("error.unknown_action")
        return
    if not person_ids:
        await turn.say("codev.invite.nobody")
        return
    try:
        async with transaction(turn.sessions) as session:
            made = await codev.invite(
                session,
                group_id=group_id,
                person_ids=person_ids,
                by_id=turn.person_id,
                now=turn.clock(),
            )
            for seat in made:
                await outbox.enqueue(
                    session,
                    dedup_key=codev.invitation_key(group_id, seat.person_id, seat.invited_at),
                    recipient=outbox.Recipient.person(seat.person_id),
                    kind=KIND_INVITATION,
                    params={"group_id": group_id},
                )
    except GroupClosed:
        await turn.say("codev.closed")
        return
    except NotAllowed:
        await turn.say("codev.not_allowed")
        return
    if made:
        turn.wake()
    await turn.say("codev.invite.sent", count=len(made))
    card = await _group_card(turn, group_id)
    if card is not None:
        await turn.replace_clicked(card)


async def _answer(turn: FeatureTurn, value: dict[str, Any], *, accept: bool) -> None:
    group_id = param_int(value, "group_id")
    if group_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            _seat, changed = await codev.answer_invitation(
                session,
                group_id=group_id,
                person_id=turn.person_id,
                accept=accept,
                now=turn.clock(),
            )
            group = await session.get(CodevGroup, group_id)
    except GroupFull:
        await turn.say("codev.full")
        return
    except GroupClosed:
        await turn.say("codev.closed")
        return
    except NotAllowed:
        await turn.say("codev.not_invited")
        return
    name = group.name if group else ""
    if not changed:
        await turn.say(
            "codev.invitation.already_accepted" if accept else "codev.invitation.already_declined",
            name=name,
        )
        return
    await turn.say(
        "codev.invitation.accepted" if accept else "codev.invitation.declined", name=name
    )


async def _accept(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _answer(turn, value, accept=True)


async def _decline(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _answer(turn, value, accept=False)


# -- planning the series --------------------------------------------------------------------------


def _local_start(date_text: str, time_text: str, tz: str) -> datetime | None:
    try:
        naive = datetime.fromisoformat(f"{date_text.strip()}T{(time_text.strip() or '09:00')}")
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return None
    return naive.replace(tzinfo=ZoneInfo(tz))


async def _plan(turn: FeatureTurn, value: dict[str, Any]) -> None:
    group_id = param_int(value, "group_id")
    if group_id is None:
        await turn.say("error.unknown_action")
        return
    start = _local_start(_text(value.get("date")), _text(value.get("time")), turn.info.timezone)
    count = param_int(value, "count")
    if start is None or count is None:
        await turn.say("codev.invalid.date")
        return
    draft = SeriesDraft(
        first_start=start,
        count=count,
        place=_text(value.get("place"))[:1000] or None,
        online_link=_text(value.get("link"))[:2000] or None,
        confirmed=_flag(value.get("confirmed")),
    )
    try:
        async with transaction(turn.sessions) as session:
            planned, created = await codev.plan_series(
                session, group_id=group_id, by_id=turn.person_id, draft=draft, now=turn.clock()
            )
    except InvalidGroup as invalid:
        await turn.say(
            f"codev.invalid.{invalid.code}",
            minimum=codev.MIN_MEMBERS_TO_START,
            maximum=codev.MAX_SESSIONS,
        )
        return
    except HasIdentifiers as spotted:
        await turn.say(
            "codev.identifiers", kinds=identifier_kinds_text(spotted.kinds, locale=turn.info.locale)
        )
        return
    except GroupClosed:
        await turn.say("codev.closed")
        return
    except NotAllowed:
        await turn.say("codev.not_allowed")
        return
    await turn.say("codev.plan.done" if created else "codev.plan.already", count=len(planned))
    card = await _group_card(turn, group_id)
    if card is not None:
        await turn.replace_clicked(card)


# -- driving a session ----------------------------------------------------------------------------


async def _queue_step_messages(
    session: AsyncSession, row: CodevSession, group: CodevGroup, *, now: datetime
) -> int:
    """What a step queues, once (keys): the client's action plan at step 5, the members'
    learning notes at step 6, the client's follow-up two weeks after the session ends."""
    assert row.id is not None
    queued = 0
    if row.step == codev.STEP_PLAN and row.client_id is not None:
        queued += await outbox.enqueue(
            session,
            dedup_key=codev.plan_key(row.id, row.client_id),
            recipient=outbox.Recipient.person(row.client_id),
            kind=KIND_PLAN,
            params={"session_id": row.id},
        )
    elif row.step == codev.STEP_LEARNING:
        people = await codev.member_ids(session, group_id=group.id or 0)
        if group.facilitator_id is not None:
            people.append(group.facilitator_id)
        for person_id in people:
            queued += await outbox.enqueue(
                session,
                dedup_key=codev.learning_key(row.id, person_id),
                recipient=outbox.Recipient.person(person_id),
                kind=KIND_LEARNING,
                params={"session_id": row.id},
            )
    elif row.step == codev.FINISHED_STEP and row.client_id is not None:
        queued += await outbox.enqueue(
            session,
            dedup_key=codev.followup_key(row.id, row.client_id),
            recipient=outbox.Recipient.person(row.client_id),
            kind=KIND_FOLLOWUP,
            params={"session_id": row.id},
            not_before=now + codev.FOLLOW_UP_AFTER,
        )
    return queued


async def _step(turn: FeatureTurn, value: dict[str, Any]) -> None:
    session_id = param_int(value, "session_id")
    expected = param_int(value, "step")
    if session_id is None or expected is None:
        await turn.say("error.unknown_action")
        return
    now = turn.clock()
    try:
        async with transaction(turn.sessions) as session:
            row, moved = await codev.advance(
                session,
                session_id=session_id,
                by_id=turn.person_id,
                expected_step=expected,
                now=now,
            )
            group = await session.get(CodevGroup, row.group_id)
            queued = 0
            if moved and group is not None:
                queued = await _queue_step_messages(session, row, group, now=now)
    except NotAllowed:
        await turn.say("codev.step.not_facilitator")
        return
    if queued:
        turn.wake()
    card = await _session_card(
        turn.sessions, session_id, locale=turn.info.locale, tz=turn.info.timezone, now=now
    )
    if card is not None:
        await turn.replace_clicked(card)
    if not moved:
        await turn.say("codev.step.already")


async def _attendance(turn: FeatureTurn, value: dict[str, Any]) -> None:
    session_id = param_int(value, "session_id")
    if session_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            count = await codev.record_attendance(
                session,
                session_id=session_id,
                by_id=turn.person_id,
                present_ids=_ids(value.get("present")),
                now=turn.clock(),
            )
    except NotYet:
        await turn.say("codev.attendance.too_early")
        return
    except NotAllowed:
        await turn.say("codev.step.not_facilitator")
        return
    card = await _session_card(
        turn.sessions, session_id, locale=turn.info.locale, tz=turn.info.timezone, now=turn.clock()
    )
    if card is not None:
        await turn.replace_clicked(card)
    await turn.say("codev.attendance.saved", count=count)


# -- private notes --------------------------------------------------------------------------------


async def _note(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """A private note, from a private card only (never from a shared conversation)."""
    session_id = param_int(value, "session_id")
    kind = value.get("kind")
    if session_id is None or kind not in NOTE_KINDS:
        await turn.say("error.unknown_action")
        return
    if turn.info.in_channel:
        await turn.say("codev.note.private_only")
        return
    try:
        async with transaction(turn.sessions) as session:
            await codev.save_note(
                session,
                session_id=session_id,
                person_id=turn.person_id,
                kind=str(kind),
                text=_text(value.get("text")),
                now=turn.clock(),
            )
    except InvalidGroup as invalid:
        await turn.say(f"codev.invalid.{invalid.code}", maximum=codev.MAX_NOTE_LENGTH)
        return
    except NotYet:
        await turn.say("codev.note.too_early")
        return
    except NotAllowed:
        await turn.say("codev.not_yours")
        return
    await turn.say("codev.note.saved")


# -- swaps ----------------------------------------------------------------------------------------


async def _swap_ask(turn: FeatureTurn, value: dict[str, Any]) -> None:
    session_id = param_int(value, "session_id")
    if session_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            asked = await codev.ask_swap(session, session_id=session_id, client_id=turn.person_id)
            row = await session.get(CodevSession, session_id)
            assert row is not None
            for person_id in await codev.member_ids(session, group_id=row.group_id):
                if person_id == turn.person_id:
                    continue
                await outbox.enqueue(
                    session,
                    dedup_key=codev.swap_call_key(session_id, turn.person_id, person_id),
                    recipient=outbox.Recipient.person(person_id),
                    kind=KIND_SWAP_CALL,
                    params={"session_id": session_id, "client_id": turn.person_id},
                )
    except NotYet:
        await turn.say("codev.swap.too_late")
        return
    except NotAllowed:
        await turn.say("codev.swap.not_client")
        return
    if asked:
        turn.wake()
    await turn.say("codev.swap.asked" if asked else "codev.swap.already_asked")


async def _swap_volunteer(turn: FeatureTurn, value: dict[str, Any]) -> None:
    session_id = param_int(value, "session_id")
    if session_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            row, new = await codev.volunteer(
                session, session_id=session_id, volunteer_id=turn.person_id
            )
            if new and row.client_id is not None:
                await outbox.enqueue(
                    session,
                    dedup_key=codev.swap_offer_key(session_id, row.client_id, turn.person_id),
                    recipient=outbox.Recipient.person(row.client_id),
                    kind=KIND_SWAP_OFFER,
                    params={"session_id": session_id, "volunteer_id": turn.person_id},
                )
    except SwapUnfair:
        await turn.say("codev.swap.unfair")
        return
    except NotYet:
        await turn.say("codev.swap.closed")
        return
    except NotAllowed:
        await turn.say("codev.swap.not_possible")
        return
    if new:
        turn.wake()
    await turn.say("codev.swap.volunteered")


async def _swap_answer(turn: FeatureTurn, value: dict[str, Any], *, accept: bool) -> None:
    session_id = param_int(value, "session_id")
    volunteer_id = param_int(value, "volunteer_id")
    if session_id is None or volunteer_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            row, changed = await codev.answer_swap(
                session,
                session_id=session_id,
                client_id=turn.person_id,
                volunteer_id=volunteer_id,
                accept=accept,
            )
            if changed and accept:
                await outbox.enqueue(
                    session,
                    dedup_key=f"{codev.session_prefix(session_id)}swapped:{turn.person_id}:to:{volunteer_id}",
                    recipient=outbox.Recipient.person(volunteer_id),
                    kind=outbox.KIND_NOTICE,
                    params={"text": "codev.swap.done_volunteer", "values": {"number": row.number}},
                )
    except SwapUnfair:
        await turn.say("codev.swap.unfair")
        return
    except NotYet:
        await turn.say("codev.swap.closed")
        return
    except NotAllowed:
        await turn.say("codev.swap.not_client")
        return
    if changed and accept:
        turn.wake()
    if not changed:
        await turn.say("codev.swap.already_answered")
        return
    await turn.say("codev.swap.done" if accept else "codev.swap.refused")


async def _swap_accept(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _swap_answer(turn, value, accept=True)


async def _swap_decline(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _swap_answer(turn, value, accept=False)


ACTIONS: Mapping[str, VerbHandler] = MappingProxyType(
    {
        VERB_SHOW: _show,
        VERB_CREATE: _create_verb,
        VERB_FORM_CANCEL: _form_cancel,
        VERB_INVITE: _invite,
        VERB_ACCEPT: _accept,
        VERB_DECLINE: _decline,
        VERB_PLAN: _plan,
        VERB_STEP: _step,
        VERB_ATTENDANCE: _attendance,
        VERB_NOTE: _note,
        VERB_SWAP_ASK: _swap_ask,
        VERB_SWAP_VOLUNTEER: _swap_volunteer,
        VERB_SWAP_ACCEPT: _swap_accept,
        VERB_SWAP_DECLINE: _swap_decline,
    }
)

__all__ = ["ACTIONS", "CODEV_RENDERERS", "enqueue_reminders", "on_command", "register_forms"]
