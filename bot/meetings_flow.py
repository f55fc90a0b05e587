"""Meetings: planning (two form cards), the agenda card and its RSVPs, changes, attendance.

The planning forms are stateless: the second card carries the first card's answers in its
button data, and everything is validated again (and the role re-checked) when it is
published, so any replica can take any click.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.community_actions import channel_ids
from bot.deliveries import RenderContext, Renderer
from bot.settings import Settings
from bot.turns import as_int
from cards.agenda import (
    AgendaForm,
    AgendaRow,
    MeetingForm,
    build_agenda_card,
    build_agenda_form_card,
    build_attendance_card,
    build_meeting_form_card,
    local_time,
)
from cards.common import Element, adaptive_card, heading, submit
from cards.i18n import Translate, format_when, plural, translator
from dialogs.context import TurnInfo
from storage import communities, meetings, outbox
from storage.communities import NotAllowed, has_role
from storage.db import SessionFactory, transaction
from storage.meetings import AgendaDraft, InvalidMeeting, MeetingDraft
from storage.models import (
    Community,
    ConversationRef,
    Meeting,
    MeetingMode,
    Role,
    RsvpAnswer,
    Topic,
    TopicStatus,
    Volet,
    utcnow,
)

logger = logging.getLogger(__name__)

KIND_AGENDA_CARD = "agenda_card"
KIND_ATTENDANCE = "attendance_request"


# -- helpers --


def _lines(text: object) -> list[str]:
    return [line.strip(" -•\t") for line in str(text or "").splitlines() if line.strip(" -•\t")]


def _text(value: dict[str, Any], key: str, limit: int = 1000) -> str:
    raw = value.get(key)
    return raw.strip()[:limit] if isinstance(raw, str) else ""


def _at(day: str, clock: str, tz: str) -> datetime | None:
    try:
        return datetime.combine(
            date.fromisoformat(day), time.fromisoformat(clock), tzinfo=ZoneInfo(tz)
        )
    except (TypeError, ValueError):
        return None


def _send_card(turn_context: TurnContext, card: Element) -> Any:
    return turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))


async def _channel_community(
    sessions: SessionFactory, turn_context: TurnContext
) -> Community | None:
    _team, channel_id = channel_ids(turn_context)
    if not channel_id:
        return None
    async with sessions() as session:
        return await communities.community_for_channel(session, teams_channel_id=channel_id)


async def _is_animator(
    sessions: SessionFactory, *, person_id: int | None, community_id: int
) -> bool:
    async with sessions() as session:
        member = await communities.membership(
            session, person_id=person_id or 0, community_id=community_id
        )
    return has_role(member, Role.ANIMATOR)


async def _animated_channel_community(
    sessions: SessionFactory, turn_context: TurnContext, info: TurnInfo
) -> Community | None:
    """The channel's community if the sender animates it; answers politely otherwise."""
    t = translator(info.locale)
    community = await _channel_community(sessions, turn_context) if info.in_channel else None
    if community is None or community.id is None:
        await turn_context.send_activity(t("plan.channel_only"))
        return None
    if not await _is_animator(sessions, person_id=info.person_id, community_id=community.id):
        await turn_context.send_activity(t("plan.animators_only"))
        return None
    return community


def _error(t: Translate, error: InvalidMeeting) -> str:
    return t(f"plan.error.{error}")


def default_agenda(
    starts_at: datetime, ends_at: datetime, *, topic: str | None, locale: str, tz: str
) -> list[AgendaRow]:
    """The usual day (DOMAIN.md, ANNEXE C): welcome, round table, other business, the
    training part, lunch (full days), a complex case discussion, end."""
    t = translator(locale)
    length = ends_at - starts_at
    formative = (
        t("agenda.default.formative_topic", topic=topic) if topic else t("agenda.default.formative")
    )

    def at(offset: timedelta) -> str:
        return local_time(starts_at + offset, tz)

    if length >= timedelta(hours=6):
        middle = starts_at + length / 2
        return [
            AgendaRow(at(timedelta()), t("agenda.default.welcome"), Volet.LOGISTICS.value),
            AgendaRow(
                at(timedelta(minutes=30)), t("agenda.default.round_table"), Volet.EXCHANGE.value
            ),
            AgendaRow(
                at(timedelta(hours=1, minutes=30)),
                t("agenda.default.other_business"),
                Volet.EXCHANGE.value,
            ),
            AgendaRow(at(timedelta(hours=2)), formative, Volet.FORMATIVE.value),
            AgendaRow(
                local_time(middle - timedelta(minutes=30), tz),
                t("agenda.default.lunch"),
                Volet.LOGISTICS.value,
            ),
            AgendaRow(
                local_time(middle + timedelta(minutes=45), tz),
                t("agenda.default.reflective"),
                Volet.REFLECTIVE.value,
            ),
            AgendaRow(local_time(ends_at, tz), t("agenda.default.end"), Volet.LOGISTICS.value),
        ]
    quarter = length / 4
    return [
        AgendaRow(at(timedelta()), t("agenda.default.welcome"), Volet.LOGISTICS.value),
        AgendaRow(at(timedelta(minutes=10)), t("agenda.default.round_table"), Volet.EXCHANGE.value),
        AgendaRow(at(quarter), formative, Volet.FORMATIVE.value),
        AgendaRow(
            at(quarter * 2 + timedelta(minutes=15)),
            t("agenda.default.reflective"),
            Volet.REFLECTIVE.value,
        ),
        AgendaRow(
            at(quarter * 3 + timedelta(minutes=30)),
            t("agenda.default.other_business"),
            Volet.EXCHANGE.value,
        ),
        AgendaRow(local_time(ends_at, tz), t("agenda.default.end"), Volet.LOGISTICS.value),
    ]


# -- step 1: the meeting --


async def on_plan_command(
    turn_context: TurnContext, *, sessions: SessionFactory, info: TurnInfo
) -> None:
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    form = MeetingForm(mode=MeetingMode(community.usual_mode).value)
    await _send_card(
        turn_context,
        build_meeting_form_card(
            form, topics=await _topics(sessions, community.id), locale=info.locale
        ),
    )


async def _topics(sessions: SessionFactory, community_id: int) -> list[tuple[int, str]]:
    async with sessions() as session:
        rows = (
            await session.exec(
                select(Topic)
                .where(Topic.community_id == community_id)
                .where(col(Topic.status).in_([TopicStatus.SHORTLISTED, TopicStatus.PROPOSED]))
                .order_by(col(Topic.status).desc(), col(Topic.created_at))
            )
        ).all()
    return [(row.id or 0, row.title) for row in rows][:30]


def _meeting_form(value: dict[str, Any]) -> MeetingForm:
    return MeetingForm(
        date=_text(value, "date", 10),
        start=_text(value, "start", 5),
        end=_text(value, "end", 5),
        mode=_text(value, "mode", 16) or MeetingMode.HYBRID.value,
        place=_text(value, "place", 300),
        link=_text(value, "link", 1000),
        title=_text(value, "title", 200),
        general_objective=_text(value, "general_objective"),
        specific_objectives=_text(value, "specific_objectives", 2000),
        topic_id=_text(value, "topic_id", 12),
    )


def _draft(form: MeetingForm, tz: str) -> MeetingDraft | None:
    starts_at = _at(form.date, form.start, tz)
    ends_at = _at(form.date, form.end, tz)
    if starts_at is None or ends_at is None or form.mode not in {m.value for m in MeetingMode}:
        return None
    return MeetingDraft(
        title=form.title,
        starts_at=starts_at,
        ends_at=ends_at,
        mode=MeetingMode(form.mode),
        place=form.place or None,
        online_link=form.link or None,
        general_objective=form.general_objective,
        specific_objectives=_lines(form.specific_objectives),
    )


async def _on_plan_submit(turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx) -> None:
    community = await _animated_channel_community(ctx.sessions, turn_context, ctx.info)
    if community is None or community.id is None:
        return
    t = translator(ctx.info.locale)
    form = _meeting_form(value)
    draft = _draft(form, ctx.settings.timezone)
    topics = await _topics(ctx.sessions, community.id)
    errors: list[str] = []
    if draft is None:
        errors.append(t("plan.error.date"))
    else:
        try:
            meetings.check_draft(draft, now=utcnow())
        except InvalidMeeting as error:
            errors.append(_error(t, error))
    if errors or draft is None:
        card = build_meeting_form_card(form, topics=topics, locale=ctx.info.locale, errors=errors)
        await _send_card(turn_context, card)
        return
    topic_title = next((title for tid, title in topics if str(tid) == form.topic_id), None)
    rows = default_agenda(
        draft.starts_at,
        draft.ends_at,
        topic=topic_title,
        locale=ctx.info.locale,
        tz=ctx.settings.timezone,
    )
    await _send_agenda_form(
        turn_context,
        ctx,
        AgendaForm(
            rows=rows,
            general_objective=form.general_objective,
            specific_objectives=form.specific_objectives,
        ),
        carried={"form": _form_dict(form)},
        when=draft.starts_at,
    )


def _form_dict(form: MeetingForm) -> dict[str, str]:
    return {name: getattr(form, name) for name in MeetingForm.__dataclass_fields__}


async def _send_agenda_form(
    turn_context: TurnContext,
    ctx: _Ctx,
    form: AgendaForm,
    *,
    carried: dict[str, Any],
    when: datetime,
    errors: list[str] | None = None,
) -> None:
    heading_text = format_when(when, locale=ctx.info.locale, tz=ctx.settings.timezone)
    card = build_agenda_form_card(
        form, heading_text=heading_text, locale=ctx.info.locale, errors=errors or []
    )
    # The answers of step 1 (or the meeting being edited) ride along with every button.
    for action in card.get("actions", []):
        action["data"].update(carried)
    await _send_card(turn_context, card)


def _agenda_form(value: dict[str, Any]) -> AgendaForm:
    count = min(
        as_int(value.get("rows")) or 0,
        meetings.MAX_AGENDA_ITEMS,
    )
    rows = [
        AgendaRow(
            time=_text(value, f"time_{n}", 5),
            title=_text(value, f"title_{n}", 200),
            volet=_text(value, f"volet_{n}", 16) or Volet.LOGISTICS.value,
            presenter=_text(value, f"presenter_{n}", 200),
        )
        for n in range(count)
    ]
    return AgendaForm(
        rows=rows,
        general_objective=_text(value, "general_objective"),
        specific_objectives=_text(value, "specific_objectives", 2000),
    )


def _agenda_drafts(
    form: AgendaForm, *, day: str, tz: str, topic_id: int | None
) -> list[AgendaDraft] | None:
    drafts: list[AgendaDraft] = []
    for row in form.rows:
        if not row.title and not row.time:
            continue  # an empty added row
        at = _at(day, row.time, tz)
        if at is None or row.volet not in {v.value for v in Volet}:
            return None
        volet = Volet(row.volet)
        drafts.append(
            AgendaDraft(
                starts_at=at,
                title=row.title,
                volet=volet,
                presenter=row.presenter or None,
                topic_id=topic_id if volet == Volet.FORMATIVE and topic_id else None,
            )
        )
    return drafts


# -- step 2: the agenda --


async def _on_add_row(turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx) -> None:
    form = _agenda_form(value)
    if len(form.rows) < meetings.MAX_AGENDA_ITEMS:
        form.rows.append(AgendaRow(time="", title="", volet=Volet.EXCHANGE.value))
    carried: dict[str, Any] = {k: value[k] for k in ("form", "meeting_id") if k in value}
    when = await _carried_start(value, ctx) or utcnow()
    await _send_agenda_form(turn_context, ctx, form, carried=carried, when=when)


async def _carried_start(value: dict[str, Any], ctx: _Ctx) -> datetime | None:
    if isinstance(value.get("form"), dict):
        draft = _draft(_meeting_form(value["form"]), ctx.settings.timezone)
        return draft.starts_at if draft else None
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is None:
        return None
    async with ctx.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
    return meeting.starts_at if meeting else None


async def _on_publish(turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx) -> None:
    community = await _animated_channel_community(ctx.sessions, turn_context, ctx.info)
    if community is None or community.id is None:
        return
    t = translator(ctx.info.locale)
    tz = ctx.settings.timezone
    agenda_form = _agenda_form(value)
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is not None:
        await _publish_changes(turn_context, ctx, community, meeting_id, agenda_form, value)
        return
    raw_form = value.get("form")
    form = _meeting_form(raw_form if isinstance(raw_form, dict) else {})
    draft = _draft(form, tz)
    if draft is None:
        await turn_context.send_activity(t("plan.error.date"))
        return
    # The objectives may have been edited on the agenda card.
    draft = dataclasses.replace(
        draft,
        general_objective=agenda_form.general_objective,
        specific_objectives=_lines(agenda_form.specific_objectives),
    )
    topic_id = as_int(form.topic_id)
    items = _agenda_drafts(agenda_form, day=form.date, tz=tz, topic_id=topic_id)
    carried = {"form": _form_dict(form)}
    try:
        if items is None:
            raise InvalidMeeting("agenda_time")
        async with transaction(ctx.sessions) as session:
            meeting = await meetings.plan_meeting(
                session,
                community_id=community.id,
                by_person_id=ctx.info.person_id,
                draft=draft,
                agenda=items,
                now=utcnow(),
            )
            agenda = await meetings.agenda_of(session, meeting_id=meeting.id or 0)
            counts = await meetings.rsvp_counts(session, meeting_id=meeting.id or 0)
    except InvalidMeeting as error:
        await _send_agenda_form(
            turn_context,
            ctx,
            agenda_form,
            carried=carried,
            when=draft.starts_at,
            errors=[_error(t, error)],
        )
        return
    except NotAllowed:
        await turn_context.send_activity(t("plan.animators_only"))
        return
    card = build_agenda_card(meeting, community, agenda, counts, locale=ctx.info.locale, tz=tz)
    posted = await _send_card(turn_context, card)
    async with transaction(ctx.sessions) as session:
        conversation = await _conversation_ref(session, turn_context)
        await meetings.record_posted(
            session,
            meeting_id=meeting.id or 0,
            conversation_ref_id=conversation.id if conversation else None,
            activity_id=getattr(posted, "id", None),
        )
    await turn_context.send_activity(t("plan.published"))


async def _conversation_ref(
    session: AsyncSession, turn_context: TurnContext
) -> ConversationRef | None:
    return (
        await session.exec(
            select(ConversationRef).where(
                ConversationRef.conversation_id == str(turn_context.activity.conversation.id)
            )
        )
    ).first()


async def on_edit_agenda_command(
    turn_context: TurnContext, *, sessions: SessionFactory, settings: Settings, info: TurnInfo
) -> None:
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    async with sessions() as session:
        meeting = await meetings.upcoming(session, community_id=community.id, now=utcnow())
        agenda = await meetings.agenda_of(session, meeting_id=meeting.id or 0) if meeting else []
    if meeting is None:
        await turn_context.send_activity(translator(info.locale)("agenda.none"))
        return
    tz = settings.timezone
    form = AgendaForm(
        rows=[
            AgendaRow(
                local_time(item.starts_at, tz),
                item.title,
                Volet(item.volet).value,
                item.presenter or "",
            )
            for item in agenda
        ],
        general_objective=meeting.general_objective,
        specific_objectives="\n".join(meeting.specific_objectives),
    )
    ctx = _Ctx(sessions=sessions, settings=settings, info=info, wake=lambda: None)
    await _send_agenda_form(
        turn_context, ctx, form, carried={"meeting_id": meeting.id}, when=meeting.starts_at
    )


async def _publish_changes(
    turn_context: TurnContext,
    ctx: _Ctx,
    community: Community,
    meeting_id: int,
    agenda_form: AgendaForm,
    value: dict[str, Any],
) -> None:
    t = translator(ctx.info.locale)
    tz = ctx.settings.timezone
    async with ctx.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.community_id != community.id:
        await turn_context.send_activity(t("plan.error.not_open"))
        return
    day = meeting.starts_at.astimezone(ZoneInfo(tz)).date().isoformat()
    items = _agenda_drafts(agenda_form, day=day, tz=tz, topic_id=None)
    draft = MeetingDraft(
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        mode=MeetingMode(meeting.mode),
        place=meeting.place,
        online_link=meeting.online_link,
        general_objective=agenda_form.general_objective,
        specific_objectives=_lines(agenda_form.specific_objectives),
    )
    try:
        if items is None:
            raise InvalidMeeting("agenda_time")
        async with transaction(ctx.sessions) as session:
            await meetings.replace_agenda(
                session,
                meeting_id=meeting_id,
                by_person_id=ctx.info.person_id,
                draft=draft,
                agenda=items,
            )
            await _queue_card_update(session, meeting)
    except InvalidMeeting as error:
        await _send_agenda_form(
            turn_context,
            ctx,
            agenda_form,
            carried={"meeting_id": meeting_id},
            when=meeting.starts_at,
            errors=[_error(t, error)],
        )
        return
    except NotAllowed:
        await turn_context.send_activity(t("plan.animators_only"))
        return
    ctx.wake()
    await turn_context.send_activity(t("plan.updated"))


async def _queue_card_update(session: AsyncSession, meeting: Meeting) -> None:
    """Refresh the posted agenda card (through the outbox: the click may come from another
    conversation, e.g. an RSVP in a reminder)."""
    if meeting.conversation_ref_id is None or not meeting.activity_id:
        return
    await outbox.enqueue(
        session,
        dedup_key=f"agenda_card:{meeting.id}:{uuid.uuid4().hex}",
        recipient=outbox.Recipient.conversation(meeting.conversation_ref_id),
        kind=KIND_AGENDA_CARD,
        params={"meeting_id": meeting.id},
    )


# -- showing, RSVP, changes --


async def on_agenda_command(
    turn_context: TurnContext, *, sessions: SessionFactory, settings: Settings, info: TurnInfo
) -> None:
    """`ordre du jour`: the next meeting of the channel's community, or of the person's."""
    t = translator(info.locale)
    async with sessions() as session:
        if info.in_channel:
            community = await _channel_community(sessions, turn_context)
            candidates = [community] if community else []
        else:
            candidates = [
                c
                for _m, c in await communities.memberships_of(
                    session, person_id=info.person_id or 0
                )
            ]
        shown = 0
        for community in candidates:
            if community is None or community.id is None:
                continue
            meeting = await meetings.upcoming(session, community_id=community.id, now=utcnow())
            if meeting is None:
                continue
            agenda = await meetings.agenda_of(session, meeting_id=meeting.id or 0)
            counts = await meetings.rsvp_counts(session, meeting_id=meeting.id or 0)
            card = build_agenda_card(
                meeting, community, agenda, counts, locale=info.locale, tz=settings.timezone
            )
            await _send_card(turn_context, card)
            shown += 1
    if not shown:
        await turn_context.send_activity(t("agenda.none"))


async def _on_rsvp(turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx) -> None:
    t = translator(ctx.info.locale)
    meeting_id = as_int(value.get("meeting_id"))
    answer = value.get("answer")
    if (
        meeting_id is None
        or not isinstance(answer, str)
        or answer not in {a.value for a in RsvpAnswer}
    ):
        await turn_context.send_activity(t("error.unknown_action"))
        return
    try:
        async with transaction(ctx.sessions) as session:
            meeting, changed = await meetings.answer_rsvp(
                session,
                meeting_id=meeting_id,
                person_id=ctx.info.person_id or 0,
                answer=RsvpAnswer(answer),
                now=utcnow(),
            )
            if changed:
                await _queue_card_update(session, meeting)
    except InvalidMeeting:
        await turn_context.send_activity(t("plan.error.not_open"))
        return
    except NotAllowed:
        await turn_context.send_activity(t("leave.not_member"))
        return
    if not changed:  # a second click: the card already counts this answer
        await turn_context.send_activity(t(f"agenda.rsvp_already.{answer}"))
        return
    ctx.wake()
    await turn_context.send_activity(t(f"agenda.rsvp_saved.{answer}"))


async def on_cancel_meeting_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    wake: Callable[[], None],
) -> None:
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    t = translator(info.locale)
    async with transaction(sessions) as session:
        meeting = await meetings.upcoming(session, community_id=community.id, now=utcnow())
        if meeting is None:
            await turn_context.send_activity(t("agenda.none"))
            return
        meeting, accepted = await meetings.cancel_meeting(
            session, meeting_id=meeting.id or 0, by_person_id=info.person_id
        )
        for person_id in accepted:
            await outbox.enqueue(
                session,
                dedup_key=f"meeting:{meeting.id}:cancelled:to:{person_id}",
                recipient=outbox.Recipient.person(person_id),
                kind="meeting_change",
                params={"meeting_id": meeting.id, "change": "cancelled"},
            )
        await _queue_card_update(session, meeting)
    wake()
    await turn_context.send_activity(t("plan.cancelled_done"))


async def on_move_meeting_command(
    turn_context: TurnContext, *, sessions: SessionFactory, settings: Settings, info: TurnInfo
) -> None:
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    t = translator(info.locale)
    async with sessions() as session:
        meeting = await meetings.upcoming(session, community_id=community.id, now=utcnow())
    if meeting is None:
        await turn_context.send_activity(t("agenda.none"))
        return
    tz = ZoneInfo(settings.timezone)
    card = adaptive_card(
        [
            heading(t("plan.move_title")),
            {
                "type": "Input.Date",
                "id": "date",
                "label": t("plan.field.date"),
                "value": meeting.starts_at.astimezone(tz).date().isoformat(),
            },
            {
                "type": "Input.Time",
                "id": "start",
                "label": t("plan.field.start"),
                "value": local_time(meeting.starts_at, settings.timezone),
            },
            {
                "type": "Input.Time",
                "id": "end",
                "label": t("plan.field.end"),
                "value": local_time(meeting.ends_at, settings.timezone),
            },
        ],
        [
            submit(
                t("plan.move_submit"), verb="meeting.move", meeting_id=meeting.id, style="positive"
            )
        ],
    )
    await _send_card(turn_context, card)


async def _on_move(turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx) -> None:
    t = translator(ctx.info.locale)
    meeting_id = as_int(value.get("meeting_id"))
    tz = ctx.settings.timezone
    starts_at = _at(_text(value, "date", 10), _text(value, "start", 5), tz)
    ends_at = _at(_text(value, "date", 10), _text(value, "end", 5), tz)
    if meeting_id is None or starts_at is None or ends_at is None:
        await turn_context.send_activity(t("plan.error.date"))
        return
    try:
        async with transaction(ctx.sessions) as session:
            meeting, old_start, accepted = await meetings.move_meeting(
                session,
                meeting_id=meeting_id,
                by_person_id=ctx.info.person_id,
                starts_at=starts_at,
                ends_at=ends_at,
                now=utcnow(),
            )
            for person_id in accepted:
                await outbox.enqueue(
                    session,
                    dedup_key=f"meeting:{meeting.id}:moved:{starts_at:%Y%m%dT%H%M}:to:{person_id}",
                    recipient=outbox.Recipient.person(person_id),
                    kind="meeting_change",
                    params={
                        "meeting_id": meeting.id,
                        "change": "moved",
                        "old_start": old_start.isoformat(),
                    },
                )
            await _queue_card_update(session, meeting)
    except InvalidMeeting as error:
        await turn_context.send_activity(_error(t, error))
        return
    except NotAllowed:
        await turn_context.send_activity(t("plan.animators_only"))
        return
    except LookupError:
        await turn_context.send_activity(t("plan.error.not_open"))
        return
    ctx.wake()
    await turn_context.send_activity(t("plan.moved_done"))


async def _on_attendance(turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx) -> None:
    t = translator(ctx.info.locale)
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is None:
        await turn_context.send_activity(t("error.unknown_action"))
        return
    present = [
        person_id
        for key, flag in value.items()
        if key.startswith("present_") and str(flag).lower() == "true"
        for person_id in [as_int(key.removeprefix("present_"))]
        if person_id is not None
    ]
    try:
        async with transaction(ctx.sessions) as session:
            _meeting, changed = await meetings.confirm_attendance(
                session,
                meeting_id=meeting_id,
                by_person_id=ctx.info.person_id,
                attendee_ids=present,
                now=utcnow(),
            )
            count = len(await meetings.attendees(session, meeting_id=meeting_id))
    except NotAllowed:
        await turn_context.send_activity(t("plan.animators_only"))
        return
    except (InvalidMeeting, LookupError) as error:
        await turn_context.send_activity(
            _error(t, InvalidMeeting(str(error)))
            if isinstance(error, InvalidMeeting)
            else t("plan.error.not_open")
        )
        return
    # A second submission of the same list (a double click) rewrote nothing: say so.
    key = "attendance.saved" if changed else "attendance.unchanged"
    await turn_context.send_activity(plural(ctx.info.locale, key, count))


# -- routing of this feature's buttons --


class _Ctx:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        settings: Settings,
        info: TurnInfo,
        wake: Callable[[], None],
    ) -> None:
        self.sessions, self.settings, self.info, self.wake = sessions, settings, info, wake


_ACTIONS = {
    "meeting.plan": _on_plan_submit,
    "meeting.agenda.add_row": _on_add_row,
    "meeting.agenda.publish": _on_publish,
    "meeting.rsvp": _on_rsvp,
    "meeting.move": _on_move,
    "meeting.attendance": _on_attendance,
}


async def handle_meeting_action(
    turn_context: TurnContext,
    value: dict[str, Any],
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    wake: Callable[[], None],
) -> bool:
    verb = str(value.get("verb", ""))
    if verb == "meeting.plan.cancel":
        await turn_context.send_activity(translator(info.locale)("dialog.cancelled"))
        return True
    handler = _ACTIONS.get(verb)
    if handler is None:
        return False
    await handler(
        turn_context, value, _Ctx(sessions=sessions, settings=settings, info=info, wake=wake)
    )
    return True


# -- outbox renderers and the attendance job --


async def render_agenda_card(context: RenderContext) -> Activity | None:
    """The posted agenda card, as it is now (updated in place)."""
    meeting_id = int(str(context.message.params["meeting_id"]))
    async with context.sessions() as session:
        found = await meetings.meeting_with_community(session, meeting_id=meeting_id)
        if found is None or not found[0].activity_id:
            return None
        meeting, community = found
        agenda = await meetings.agenda_of(session, meeting_id=meeting_id)
        counts = await meetings.rsvp_counts(session, meeting_id=meeting_id)
    card = build_agenda_card(
        meeting, community, agenda, counts, locale=context.locale, tz=context.timezone
    )
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    activity.id = meeting.activity_id
    return activity


async def render_meeting_change(context: RenderContext) -> Activity | None:
    params = context.message.params
    async with context.sessions() as session:
        found = await meetings.meeting_with_community(
            session, meeting_id=int(str(params["meeting_id"]))
        )
    if found is None:
        return None
    meeting, community = found
    t = translator(context.locale)
    if params.get("change") == "cancelled":
        text = t(
            "meeting.cancelled_notice",
            community=community.name,
            day=format_when(meeting.starts_at, locale=context.locale, tz=context.timezone),
        )
    else:
        old = datetime.fromisoformat(str(params["old_start"]))
        text = t(
            "meeting.moved_notice",
            community=community.name,
            old=format_when(old, locale=context.locale, tz=context.timezone),
            new=format_when(meeting.starts_at, locale=context.locale, tz=context.timezone),
        )
    return MessageFactory.text(text)


async def render_attendance_request(context: RenderContext) -> Activity | None:
    meeting_id = int(str(context.message.params["meeting_id"]))
    async with context.sessions() as session:
        found = await meetings.meeting_with_community(session, meeting_id=meeting_id)
        if found is None or found[0].attendance_confirmed_at is not None:
            return None
        meeting, community = found
        roster = await meetings.attendance_roster(session, meeting_id=meeting_id)
    card = build_attendance_card(
        meeting, roster, community=community, locale=context.locale, tz=context.timezone
    )
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


MEETING_RENDERERS: dict[str, Renderer] = {
    KIND_AGENDA_CARD: render_agenda_card,
    "meeting_change": render_meeting_change,
    KIND_ATTENDANCE: render_attendance_request,
}


async def enqueue_attendance_requests(
    *, sessions: SessionFactory, now: datetime, wake: Callable[[], None]
) -> int:
    """After a meeting ends, its animators get the attendance list to confirm (once)."""
    queued = 0
    async with transaction(sessions) as session:
        for meeting in await meetings.meetings_awaiting_attendance(session, now=now):
            animators = await communities.people_with_role(
                session, community_id=meeting.community_id, roles=[Role.ANIMATOR]
            )
            for animator in animators:
                queued += await outbox.enqueue(
                    session,
                    dedup_key=f"attendance:{meeting.id}:to:{animator.id}",
                    recipient=outbox.Recipient.person(animator.id or 0),
                    kind=KIND_ATTENDANCE,
                    params={"meeting_id": meeting.id},
                )
    if queued:
        wake()
    return queued


__all__ = [
    "MEETING_RENDERERS",
    "default_agenda",
    "enqueue_attendance_requests",
    "handle_meeting_action",
    "on_agenda_command",
    "on_cancel_meeting_command",
    "on_edit_agenda_command",
    "on_move_meeting_command",
    "on_plan_command",
]
