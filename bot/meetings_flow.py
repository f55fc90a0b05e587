"""Meetings: planning (two form cards), the agenda card and its RSVPs, changes, attendance.

The planning forms are stateless: the second card carries the first card's answers in its
button data, and everything is validated again (and the role re-checked) when it is
published, so any replica can take any click.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels import channel_community
from bot.deliveries import RecordedRenderer, RenderContext, Renderer
from bot.invokes import CardActionReply, Invokes, TaskReply
from bot.meeting_calendar import calendar_url
from bot.settings import Settings
from bot.turns import (
    FeatureTurn,
    VerbHandler,
    as_int,
    card_activity,
    param_int,
    replace_clicked_card,
)
from cards.agenda import (
    VERB_COHOST_ACCEPT,
    VERB_COHOST_DECLINE,
    VERB_COHOST_INVITE,
    VERB_COHOST_WITHDRAW,
    AgendaForm,
    AgendaRow,
    MeetingForm,
    MoveForm,
    build_agenda_card,
    build_agenda_form_card,
    build_attendance_card,
    build_cohost_form_card,
    build_cohost_invitation_card,
    build_form_launcher_card,
    build_meeting_choice_card,
    build_meeting_form_card,
    build_meeting_outcome_card,
    build_move_form_card,
    capitalized,
    local_time,
    meeting_label,
)
from cards.agenda import VERB_VIEW as VERB_AGENDA_VIEW
from cards.common import REFRESH_USER_LIMIT, Element, submit
from cards.confirm import build_confirmation_card, is_confirmed
from cards.i18n import Translate, format_when, plural, translator
from dialogs.context import TurnInfo
from storage import cases, communities, meetings, outbox, questions, toolbox
from storage.communities import NotAllowed, has_role
from storage.db import SessionFactory, transaction
from storage.meetings import (
    KIND_AGENDA_CARD,
    KIND_ATTENDANCE,
    KIND_CHANGE,
    AgendaDraft,
    AttendanceChange,
    InvalidMeeting,
    MeetingDraft,
)
from storage.models import (
    CohostStatus,
    Community,
    ConversationRef,
    Meeting,
    MeetingMode,
    MeetingStatus,
    OutboxMessage,
    Role,
    RsvpAnswer,
    Topic,
    TopicStatus,
    Volet,
    utcnow,
)
from storage.outbox import Claimed

logger = logging.getLogger(__name__)


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


async def _is_animator(
    sessions: SessionFactory, *, person_id: int | None, community_id: int
) -> bool:
    async with sessions() as session:
        member = await communities.membership(
            session, person_id=person_id or 0, community_id=community_id
        )
    return has_role(member, Role.ANIMATOR)


async def _animator_community(
    sessions: SessionFactory, turn_context: TurnContext, info: TurnInfo
) -> Community | str:
    """The channel's community if the sender animates it; else what to tell them."""
    t = translator(info.locale)
    community = await channel_community(sessions, info, turn_context.activity)
    if community is None or community.id is None:
        return t("plan.channel_only")
    if not await _is_animator(sessions, person_id=info.person_id, community_id=community.id):
        return t("plan.animators_only")
    return community


async def _animated_channel_community(
    sessions: SessionFactory, turn_context: TurnContext, info: TurnInfo
) -> Community | None:
    """The channel's community if the sender animates it; answers politely otherwise."""
    found = await _animator_community(sessions, turn_context, info)
    if isinstance(found, str):
        await turn_context.send_activity(found)
        return None
    return found


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
                Volet.MEAL.value,
            ),
            AgendaRow(
                local_time(middle + timedelta(minutes=45), tz),
                t("agenda.default.reflective"),
                Volet.REFLECTIVE.value,
            ),
            AgendaRow(local_time(ends_at, tz), t("agenda.default.end"), Volet.LOGISTICS.value),
        ]
    # Shorter meetings: the same parts in proportion, on five-minute marks, each one starting
    # after the one before and before the end (a two-hour meeting put « Affaires diverses »
    # at its end, the minute of « Fin de la journée »).
    quarter = length / 4
    last = min(quarter * 3 + timedelta(minutes=30), length - timedelta(minutes=15))
    parts = [
        (timedelta(), t("agenda.default.welcome"), Volet.LOGISTICS),
        (min(timedelta(minutes=10), quarter / 2), t("agenda.default.round_table"), Volet.EXCHANGE),
        (quarter, formative, Volet.FORMATIVE),
        (
            min(quarter * 2 + timedelta(minutes=15), (quarter * 2 + last) / 2),
            t("agenda.default.reflective"),
            Volet.REFLECTIVE,
        ),
        (last, t("agenda.default.other_business"), Volet.EXCHANGE),
    ]
    rows: list[AgendaRow] = []
    previous: timedelta | None = None
    for offset, title, volet in parts:
        mark = timedelta(minutes=5 * round(offset / timedelta(minutes=5)))
        if (previous is not None and mark <= previous) or mark >= length:
            continue  # too short a meeting for this part: one fewer row, never two at once
        rows.append(AgendaRow(at(mark), title, volet.value))
        previous = mark
    rows.append(AgendaRow(local_time(ends_at, tz), t("agenda.default.end"), Volet.LOGISTICS.value))
    return rows


# -- where a form is shown: a Teams dialog, or the conversation --
#
# `planifier une rencontre`, `modifier l'ordre du jour` and `déplacer la rencontre` post a small
# card in the channel. Its main button opens the form in a Teams dialog (task module): the
# steps, the errors and the drafts stay there, private, and only the outcome reaches the
# channel. « Remplir ici » shows the same form in the conversation instead, for clients without
# Teams dialogs (the Agents Playground: docs/decisions.md). Both paths run the same steps below;
# a step answers with a `_Shown`, which each path presents in its own way.

FORM_PLAN = "meetings.plan"
FORM_AGENDA = "meetings.agenda"
FORM_MOVE = "meetings.move"
VERB_PLAN_OPEN = "meetings.plan.open"
VERB_AGENDA_OPEN = "meetings.agenda.open"
VERB_MOVE = "meetings.move"
VERB_FORM_CANCEL = "meetings.plan.cancel"
# The small card that opened a dialog (Teams' replyToId at task/fetch, carried by the form).
_LAUNCHER = "launcher"
_MAX_ACTIVITY_ID = 255


@dataclass(frozen=True, slots=True)
class _Surface:
    """Where a form is shown: `dialog` names the registered dialog form, None in the
    conversation; `launcher` is the id of the small card that opened the dialog, if known."""

    dialog: str | None = None
    launcher: str | None = None

    @property
    def carry_key(self) -> str:
        # Step 1's answers ride with step 2's buttons: under "form" in the conversation (cards
        # already posted carry them there); in a dialog "form" names the form (FORM_KEY).
        return "plan" if self.dialog else "form"

    def carried(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.dialog and self.launcher:
            return {**data, _LAUNCHER: self.launcher}
        return data


INLINE = _Surface()


@dataclass(frozen=True, slots=True)
class _Shown:
    """What a step answers: a form (the next one, or the same again with its errors and the
    values kept), else a sentence. `done`: the form's work is over (published, saved). In a
    dialog, `launcher_line` is what the small card in the channel becomes."""

    card: Element | None = None
    title: str = ""
    text: str = ""
    done: bool = False
    launcher_line: str = ""


_Step = Callable[[TurnContext, dict[str, Any], "_Ctx", _Surface], Awaitable[_Shown]]


def _carry(card: Element, data: dict[str, Any]) -> Element:
    """Put `data` (the draft's key, step 1's answers, the meeting's id…) in every button of a
    form but its cancel button."""
    for action in card.get("actions", []):
        if action.get("type") == "Action.Submit" and action["data"].get("verb") != VERB_FORM_CANCEL:
            action["data"].update(data)
    return card


async def _show_inline(
    turn_context: TurnContext, shown: _Shown, *, replace_clicked: bool = False
) -> None:
    if shown.card is not None:
        if replace_clicked:  # the small card becomes the form: no stale buttons left behind
            await replace_clicked_card(turn_context, shown.card)
        else:
            await _send_card(turn_context, shown.card)
    if shown.text:
        await turn_context.send_activity(shown.text)


async def _show_in_dialog(turn_context: TurnContext, surface: _Surface, shown: _Shown) -> TaskReply:
    if shown.card is not None:
        return TaskReply.card(shown.title, shown.card)
    replaced = bool(shown.launcher_line) and await _replace_launcher(
        turn_context, surface.launcher, shown.launcher_line
    )
    if shown.done and replaced:
        return TaskReply.close()  # the channel shows the outcome where the small card was
    return TaskReply.message(shown.text)


async def _replace_launcher(turn_context: TurnContext, launcher: str | None, line: str) -> bool:
    """The small card that opened the dialog becomes a line saying what was done. When Teams
    did not say which message opened the dialog (no replyToId), or refuses the update, the
    small card is left as it is: its buttons then answer that the draft is already published
    (planning) or open the form on the meeting as it now is (agenda, move). False then, and
    the dialog says what was done instead of closing silently."""
    if not launcher:
        return False
    activity = card_activity(build_meeting_outcome_card([line]))
    activity.id = launcher
    try:
        await turn_context.update_activity(activity)
    except Exception as error:
        logger.info("small form card not replaced (%s); left as it is", type(error).__name__)
        return False
    return True


def _launcher_id(turn_context: TurnContext, data: dict[str, Any]) -> str | None:
    """The small card's id: Teams' replyToId on the invoke, else what the form carried from
    the task/fetch (only ever used to update a message of this conversation)."""
    for candidate in (turn_context.activity.reply_to_id, data.get(_LAUNCHER)):
        if isinstance(candidate, str) and 0 < len(candidate) <= _MAX_ACTIVITY_ID:
            return candidate
    return None


async def _post_launcher(
    turn_context: TurnContext, info: TurnInfo, *, title: str, form: str, verb: str, **data: Any
) -> None:
    card = build_form_launcher_card(
        title=title, form=form, verb=verb, data=data, locale=info.locale
    )
    await _send_card(turn_context, card)


# -- step 1: the meeting --


async def on_plan_command(
    turn_context: TurnContext, *, sessions: SessionFactory, info: TurnInfo
) -> None:
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    await _post_launcher(
        turn_context,
        info,
        title=translator(info.locale)("plan.title"),
        form=FORM_PLAN,
        verb=VERB_PLAN_OPEN,
        draft=uuid.uuid4().hex,
    )


async def _plan_form_step(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, surface: _Surface
) -> _Shown:
    """The blank form of step 1 (the small card's buttons)."""
    found = await _animator_community(ctx.sessions, turn_context, ctx.info)
    if isinstance(found, str) or found.id is None:
        return _Shown(text=str(found))
    form = MeetingForm(mode=MeetingMode(found.usual_mode).value)
    prefill = value.get("prefill")
    if isinstance(prefill, dict):
        # A series' draft date or a date poll's winner (bot/planning_flow.py): only a start,
        # every value is checked again when the form is sent.
        form = _meeting_form({**_form_dict(form), **prefill})
    topics = await _topics(ctx.sessions, found.id)
    return _meeting_form_shown(form, topics, ctx, surface, _draft_key(value, found.id), [])


def _meeting_form_shown(
    form: MeetingForm,
    topics: list[tuple[int, str]],
    ctx: _Ctx,
    surface: _Surface,
    key: str,
    errors: list[str],
) -> _Shown:
    card = build_meeting_form_card(
        form, topics=topics, locale=ctx.info.locale, errors=errors, dialog=surface.dialog
    )
    _carry(card, surface.carried({"draft": key}))
    return _Shown(card=card, title=translator(ctx.info.locale)("plan.title"))


# A draft is every card that comes from one `planifier une rencontre`: its key rides along
# with each button (the small card, the form, the agenda form and its older copies, in the
# conversation or in a dialog), and the meeting stores it, so the draft publishes once however
# many times, or from whichever copy, it is clicked.
_DRAFT_KEY = re.compile(r"[0-9a-f]{32}")


def _draft_key(value: dict[str, Any], community_id: int) -> str:
    """The draft's key from card data; for a card posted before drafts had keys, a digest of
    its answers (the same card clicked twice gives the same digest)."""
    raw = value.get("draft")
    if isinstance(raw, str) and _DRAFT_KEY.fullmatch(raw):
        return raw
    answers = json.dumps(
        [community_id, value.get("form"), sorted((k, str(v)) for k, v in value.items())],
        sort_keys=True,
        ensure_ascii=True,
        default=str,
    )
    return hashlib.sha256(answers.encode("ascii")).hexdigest()[:32]


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


async def _plan_step(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, surface: _Surface
) -> _Shown:
    """Step 1 submitted: the same form again with its errors, or the agenda form."""
    found = await _animator_community(ctx.sessions, turn_context, ctx.info)
    if isinstance(found, str) or found.id is None:
        return _Shown(text=str(found))
    t = translator(ctx.info.locale)
    form = _meeting_form(value)
    draft = _draft(form, ctx.settings.timezone)
    topics = await _topics(ctx.sessions, found.id)
    errors: list[str] = []
    if draft is None:
        errors.append(t("plan.error.date"))
    else:
        try:
            meetings.check_draft(draft, now=utcnow())
        except InvalidMeeting as error:
            errors.append(_error(t, error))
    key = _draft_key(value, found.id)
    if errors or draft is None:
        return _meeting_form_shown(form, topics, ctx, surface, key, errors)
    topic_title = next((title for tid, title in topics if str(tid) == form.topic_id), None)
    rows = default_agenda(
        draft.starts_at,
        draft.ends_at,
        topic=topic_title,
        locale=ctx.info.locale,
        tz=ctx.settings.timezone,
    )
    return _agenda_form_shown(
        ctx,
        AgendaForm(
            rows=rows,
            general_objective=form.general_objective,
            specific_objectives=form.specific_objectives,
        ),
        surface=surface,
        carried={surface.carry_key: _form_dict(form), "draft": key},
        when=draft.starts_at,
    )


async def _on_plan_open(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _show_inline(
        turn.context,
        await _plan_form_step(turn.context, value, _ctx(turn), INLINE),
        replace_clicked=True,
    )


async def _on_plan_submit(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _show_inline(turn.context, await _plan_step(turn.context, value, _ctx(turn), INLINE))


def _form_dict(form: MeetingForm) -> dict[str, str]:
    return {name: getattr(form, name) for name in MeetingForm.__dataclass_fields__}


def _agenda_form_shown(
    ctx: _Ctx,
    form: AgendaForm,
    *,
    surface: _Surface,
    carried: dict[str, Any],
    when: datetime,
    errors: list[str] | None = None,
) -> _Shown:
    heading_text = format_when(when, locale=ctx.info.locale, tz=ctx.settings.timezone)
    card = build_agenda_form_card(
        form,
        heading_text=heading_text,
        locale=ctx.info.locale,
        errors=errors or [],
        dialog=surface.dialog,
    )
    # The answers of step 1 (or the meeting being edited) ride along with every button.
    _carry(card, surface.carried(carried))
    return _Shown(card=card, title=translator(ctx.info.locale)("plan.agenda_title"))


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


async def _add_row_step(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, surface: _Surface
) -> _Shown:
    found = await _animator_community(ctx.sessions, turn_context, ctx.info)
    if isinstance(found, str):
        return _Shown(text=found)
    form = _agenda_form(value)
    if len(form.rows) < meetings.MAX_AGENDA_ITEMS:
        form.rows.append(AgendaRow(time="", title="", volet=Volet.EXCHANGE.value))
    carried: dict[str, Any] = {
        k: value[k] for k in (surface.carry_key, "meeting_id", "draft") if k in value
    }
    when = await _carried_start(value, ctx, surface) or utcnow()
    return _agenda_form_shown(ctx, form, surface=surface, carried=carried, when=when)


async def _carried_start(value: dict[str, Any], ctx: _Ctx, surface: _Surface) -> datetime | None:
    plan = value.get(surface.carry_key)
    if isinstance(plan, dict):
        draft = _draft(_meeting_form(plan), ctx.settings.timezone)
        return draft.starts_at if draft else None
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is None:
        return None
    async with ctx.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
    return meeting.starts_at if meeting else None


async def _publish_step(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, surface: _Surface
) -> _Shown:
    """The agenda form's « Publier »: a new meeting (posted in the channel once per draft), or
    the changes to a published one; the form again with its errors otherwise."""
    found = await _animator_community(ctx.sessions, turn_context, ctx.info)
    if isinstance(found, str) or found.id is None:
        return _Shown(text=str(found))
    community = found
    t = translator(ctx.info.locale)
    tz = ctx.settings.timezone
    agenda_form = _agenda_form(value)
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is not None:
        return await _publish_changes(
            turn_context, ctx, community, meeting_id, agenda_form, surface
        )
    raw_form = value.get(surface.carry_key)
    form = _meeting_form(raw_form if isinstance(raw_form, dict) else {})
    draft = _draft(form, tz)
    if draft is None:
        return _Shown(text=t("plan.error.date"))
    # The objectives may have been edited on the agenda card.
    draft = dataclasses.replace(
        draft,
        general_objective=agenda_form.general_objective,
        specific_objectives=_lines(agenda_form.specific_objectives),
    )
    topic_id = as_int(form.topic_id)
    items = _agenda_drafts(agenda_form, day=form.date, tz=tz, topic_id=topic_id)
    key = _draft_key(value, found.id)
    carried = {surface.carry_key: _form_dict(form), "draft": key}
    try:
        if items is None:
            raise InvalidMeeting("agenda_time")
        async with transaction(ctx.sessions) as session:
            meeting, created = await meetings.plan_meeting(
                session,
                community_id=found.id,
                by_person_id=ctx.info.person_id,
                draft=draft,
                agenda=items,
                now=utcnow(),
                draft_key=key,
            )
            agenda = await meetings.agenda_of(session, meeting_id=meeting.id or 0)
            counts = await meetings.rsvp_counts(session, meeting_id=meeting.id or 0)
            link = await calendar_url(
                session,
                ctx.settings,
                meeting=meeting,
                person_id=ctx.info.person_id,
                locale=ctx.info.locale,
                now=utcnow(),
            )
            viewers = await _viewers(session, meeting)
            picked = await cases.agenda_cases(session, meeting_id=meeting.id or 0)
            attached = await toolbox.agenda_resources(session, meeting_id=meeting.id or 0)
    except InvalidMeeting as error:
        return _agenda_form_shown(
            ctx,
            agenda_form,
            surface=surface,
            carried=carried,
            when=draft.starts_at,
            errors=[_error(t, error)],
        )
    except NotAllowed:
        return _Shown(text=t("plan.animators_only"))
    card = build_agenda_card(
        meeting,
        community,
        agenda,
        counts,
        locale=ctx.info.locale,
        tz=tz,
        calendar_url=link,
        viewers=viewers,
        cases=picked,
        resources=attached,
    )
    if not created:
        # Clicked again (or from an older copy of the draft): the draft becomes the meeting
        # it published; nothing else changes. In a dialog the agenda card is in the channel
        # already: only the small card catches up.
        if surface.dialog is None:
            await _post_agenda_copy(
                turn_context, ctx.sessions, card, meeting, ctx.info.locale, True
            )
        return _Shown(text=t("plan.already_published"), launcher_line=t("plan.published"))
    posted = await _send_card(turn_context, card)
    async with transaction(ctx.sessions) as session:
        conversation = await _conversation_ref(session, turn_context)
        await meetings.record_posted(
            session,
            meeting_id=meeting.id or 0,
            conversation_ref_id=conversation.id if conversation else None,
            activity_id=getattr(posted, "id", None),
        )
        if conversation is not None and conversation.id and getattr(posted, "id", None):
            await meetings.record_card_copy(
                session,
                meeting_id=meeting.id or 0,
                conversation_ref_id=conversation.id,
                activity_id=str(posted.id),
                locale=ctx.info.locale,
                now=utcnow(),
            )
    return _Shown(text=t("plan.published"), done=True, launcher_line=t("plan.published"))


async def _on_add_row(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _show_inline(turn.context, await _add_row_step(turn.context, value, _ctx(turn), INLINE))


async def _on_publish(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _show_inline(turn.context, await _publish_step(turn.context, value, _ctx(turn), INLINE))


async def _post_agenda_copy(
    turn_context: TurnContext,
    sessions: SessionFactory,
    card: Element,
    meeting: Meeting,
    locale: str,
    replace_clicked: bool = False,
) -> None:
    """Show the agenda card (in place of the clicked card, or as a new message) and remember
    the copy, so that RSVPs and changes keep it current."""
    activity_id: str | None = None
    clicked = turn_context.activity.reply_to_id if replace_clicked else None
    if clicked:
        await replace_clicked_card(turn_context, card)
        activity_id = str(clicked)
    else:
        posted = await turn_context.send_activity(card_activity(card))
        activity_id = getattr(posted, "id", None)
    if not activity_id or meeting.id is None:
        return
    async with transaction(sessions) as session:
        conversation = await _conversation_ref(session, turn_context)
        if conversation is None or conversation.id is None:
            return
        await meetings.record_card_copy(
            session,
            meeting_id=meeting.id,
            conversation_ref_id=conversation.id,
            activity_id=activity_id,
            locale=locale,
            now=utcnow(),
        )


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
    if meeting is None:
        await turn_context.send_activity(translator(info.locale)("agenda.none"))
        return
    await _post_launcher(
        turn_context,
        info,
        title=translator(info.locale)("plan.edit_title"),
        form=FORM_AGENDA,
        verb=VERB_AGENDA_OPEN,
        meeting_id=meeting.id,
    )


async def _open_meeting(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx
) -> tuple[Community, Meeting] | str:
    """The channel's scheduled meeting the card names, if the sender animates its community;
    else what to tell them."""
    found = await _animator_community(ctx.sessions, turn_context, ctx.info)
    if isinstance(found, str):
        return found
    meeting_id = as_int(value.get("meeting_id"))
    async with ctx.sessions() as session:
        meeting = await session.get(Meeting, meeting_id) if meeting_id is not None else None
    if (
        meeting is None
        or meeting.community_id != found.id
        or meeting.status != MeetingStatus.SCHEDULED
    ):
        return translator(ctx.info.locale)("plan.error.not_open")
    return found, meeting


async def _agenda_form_step(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, surface: _Surface
) -> _Shown:
    """The agenda form of a published meeting, as it is now (the small card's buttons)."""
    found = await _open_meeting(turn_context, value, ctx)
    if isinstance(found, str):
        return _Shown(text=found)
    _community, meeting = found
    tz = ctx.settings.timezone
    async with ctx.sessions() as session:
        agenda = await meetings.agenda_of(session, meeting_id=meeting.id or 0)
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
    return _agenda_form_shown(
        ctx, form, surface=surface, carried={"meeting_id": meeting.id}, when=meeting.starts_at
    )


async def _on_agenda_open(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _show_inline(
        turn.context,
        await _agenda_form_step(turn.context, value, _ctx(turn), INLINE),
        replace_clicked=True,
    )


async def _publish_changes(
    turn_context: TurnContext,
    ctx: _Ctx,
    community: Community,
    meeting_id: int,
    agenda_form: AgendaForm,
    surface: _Surface,
) -> _Shown:
    t = translator(ctx.info.locale)
    tz = ctx.settings.timezone
    async with ctx.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
    if meeting is None or meeting.community_id != community.id:
        return _Shown(text=t("plan.error.not_open"))
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
        return _agenda_form_shown(
            ctx,
            agenda_form,
            surface=surface,
            carried={"meeting_id": meeting_id},
            when=meeting.starts_at,
            errors=[_error(t, error)],
        )
    except NotAllowed:
        return _Shown(text=t("plan.animators_only"))
    ctx.wake()
    return _Shown(text=t("plan.updated"), done=True, launcher_line=t("plan.updated"))


async def _queue_card_update(session: AsyncSession, meeting: Meeting) -> None:
    """Refresh every posted copy of the agenda card: the published one and those shown again
    by `ordre du jour` (through the outbox: the click may come from another conversation, e.g.
    an RSVP in a reminder)."""
    for conversation_ref_id, activity_id, locale in await meetings.card_copies(
        session, meeting=meeting
    ):
        await outbox.enqueue(
            session,
            dedup_key=meetings.agenda_card_key(meeting.id, uuid.uuid4().hex),
            recipient=outbox.Recipient.conversation(conversation_ref_id),
            kind=KIND_AGENDA_CARD,
            params={"meeting_id": meeting.id, "activity_id": activity_id, "locale": locale},
        )


# -- showing, RSVP, changes --


async def on_agenda_command(
    turn_context: TurnContext, *, sessions: SessionFactory, settings: Settings, info: TurnInfo
) -> None:
    """`ordre du jour`: the next meeting of the channel's community, or of the person's."""
    t = translator(info.locale)
    async with sessions() as session:
        if info.in_channel:
            community = await channel_community(sessions, info, turn_context.activity)
            candidates = [community] if community else []
        else:
            candidates = [
                c
                for _m, c in await communities.memberships_of(
                    session, person_id=info.person_id or 0
                )
            ]
        shown = 0
        seen: set[int] = set()
        for community in candidates:
            if community is None or community.id is None:
                continue
            # A joint meeting shows in its co-hosts' channels too (once for a member of both).
            meeting = await meetings.upcoming(
                session, community_id=community.id, now=utcnow(), joint=True
            )
            if meeting is None or meeting.id in seen:
                continue
            seen.add(meeting.id or 0)
            if meeting.community_id != community.id:
                community = await session.get(Community, meeting.community_id) or community
            agenda = await meetings.agenda_of(session, meeting_id=meeting.id or 0)
            counts = await meetings.rsvp_counts(session, meeting_id=meeting.id or 0)
            link = await calendar_url(
                session,
                settings,
                meeting=meeting,
                person_id=info.person_id,
                locale=info.locale,
                now=utcnow(),
            )
            card = build_agenda_card(
                meeting,
                community,
                agenda,
                counts,
                locale=info.locale,
                tz=settings.timezone,
                calendar_url=link,
                viewers=await _viewers(session, meeting),
                cases=await cases.agenda_cases(session, meeting_id=meeting.id or 0),
                resources=await toolbox.agenda_resources(session, meeting_id=meeting.id or 0),
                cohosts=await _cohost_names(session, meeting),
            )
            await _post_agenda_copy(turn_context, sessions, card, meeting, info.locale)
            shown += 1
    if not shown:
        await turn_context.send_activity(t("agenda.none"))


async def _on_rsvp(turn: FeatureTurn, value: dict[str, Any]) -> None:
    meeting_id = as_int(value.get("meeting_id"))
    answer = value.get("answer")
    if (
        meeting_id is None
        or not isinstance(answer, str)
        or answer not in {a.value for a in RsvpAnswer}
    ):
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            meeting, changed = await meetings.answer_rsvp(
                session,
                meeting_id=meeting_id,
                person_id=turn.person_id,
                answer=RsvpAnswer(answer),
                now=turn.clock(),
            )
            if changed:
                await _queue_card_update(session, meeting)
    except InvalidMeeting:
        await turn.say("plan.error.not_open")
        return
    except NotAllowed:
        await turn.say("leave.not_member")
        return
    if changed:
        turn.wake()
    if turn.info.in_channel:
        # In a channel, the card updating is the answer: a « C'est noté » there would tell
        # everyone who answered what (and pile up).
        return
    if not changed:  # a second click: the card already counts this answer
        await turn.say(f"agenda.rsvp_already.{answer}")
        return
    await turn.say(f"agenda.rsvp_saved.{answer}")


async def on_cancel_meeting_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    wake: Callable[[], None],
) -> None:
    """`annuler la rencontre`: never cancels at once. With several upcoming meetings, the
    facilitator picks one; then a confirmation card says what will happen."""
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    t = translator(info.locale)
    async with sessions() as session:
        upcoming = await meetings.upcoming_meetings(
            session, community_id=community.id, now=utcnow()
        )
    if not upcoming:
        await turn_context.send_activity(t("agenda.none"))
        return
    ctx = _Ctx(sessions=sessions, settings=settings, info=info, wake=wake)
    await _act_on_one(
        turn_context,
        upcoming,
        ctx,
        act=_cancel_meeting,
        verb=VERB_CANCEL,
        heading_key="plan.cancel.choose",
    )


async def _act_on_one(
    turn_context: TurnContext,
    candidates: Sequence[Meeting],
    ctx: _Ctx,
    *,
    act: Callable[..., Awaitable[None]],
    verb: str,
    heading_key: str,
    button_key: str = "plan.cancel.pick",
) -> None:
    """A typed command about « the » meeting: with one candidate, act on it (its answer is
    sent, not put in place of a clicked card: a typed command clicked nothing, and in a thread
    its reply_to_id is the thread's first post, perhaps the agenda card); with several, the
    facilitator picks one on a card whose buttons send `verb`."""
    if len(candidates) == 1:
        await act(turn_context, {"meeting_id": candidates[0].id}, ctx, typed=True)
        return
    async with ctx.sessions() as session:
        joint = await meetings.cohost_names(session, meeting_ids=[m.id or 0 for m in candidates])
    card = build_meeting_choice_card(
        candidates,
        verb=verb,
        heading_key=heading_key,
        button_key=button_key,
        locale=ctx.info.locale,
        tz=ctx.settings.timezone,
        cohosts=joint,
    )
    await _send_card(turn_context, card)


VERB_CANCEL = "meetings.cancel"
VERB_RESTORE = "meetings.restore"


def _notices_line(locale: str, key: str, none_key: str, count: int) -> str:
    # « 0 personne recevra un avis » reads badly: nobody has its own sentence.
    return translator(locale)(none_key) if count == 0 else plural(locale, key, count)


async def _tell_of_change(
    session: AsyncSession,
    meeting: Meeting,
    person_ids: Sequence[int],
    *,
    key_prefix: str,
    change: str,
    **details: str,
) -> None:
    """In the change's own transaction: one notice per person (its key ends with the person,
    so a double click or a retried turn queues nothing more), and every posted copy of the
    agenda card brought up to date."""
    for person_id in person_ids:
        await outbox.enqueue(
            session,
            dedup_key=meetings.change_notice_key(key_prefix, person_id),
            recipient=outbox.Recipient.person(person_id),
            kind=KIND_CHANGE,
            params={"meeting_id": meeting.id, "change": change, **details},
        )
    await _queue_card_update(session, meeting)


async def _cancel_meeting(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, *, typed: bool = False
) -> None:
    """First click: the confirmation card naming the meeting and what will happen. The
    confirm click (`confirmed: true`): permissions checked again, then cancelled, once."""
    t = translator(ctx.info.locale)
    tz = ctx.settings.timezone
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is None:
        await turn_context.send_activity(t("error.unknown_action"))
        return
    try:
        if not is_confirmed(value):
            async with ctx.sessions() as session:
                meeting, accepted = await meetings.check_cancellable(
                    session, meeting_id=meeting_id, by_person_id=ctx.info.person_id, now=utcnow()
                )
            label = meeting_label(meeting, locale=ctx.info.locale, tz=tz)
            card = build_confirmation_card(
                t,
                title=t("plan.cancel.confirm_title", meeting=label),
                consequences=[
                    _notices_line(
                        ctx.info.locale,
                        "plan.cancel.notices",
                        "plan.cancel.notices_none",
                        len(accepted),
                    ),
                    t("plan.cancel.reminders"),
                    t("plan.cancel.undo"),
                ],
                confirm_title=t("plan.cancel.confirm"),
                verb=VERB_CANCEL,
                data={"meeting_id": meeting_id},
            )
            if typed:
                await _send_card(turn_context, card)
            else:
                await replace_clicked_card(turn_context, card)
            return
        async with transaction(ctx.sessions) as session:
            meeting, accepted = await meetings.cancel_meeting(
                session, meeting_id=meeting_id, by_person_id=ctx.info.person_id, now=utcnow()
            )
            await _tell_of_change(
                session,
                meeting,
                accepted,
                key_prefix=meetings.cancellation_notice_prefix(meeting),
                change="cancelled",
            )
    except NotAllowed:
        await turn_context.send_activity(t("plan.animators_only"))
        return
    except LookupError:
        await turn_context.send_activity(t("plan.error.not_open"))
        return
    except InvalidMeeting as error:
        key = "plan.cancel.already" if str(error) == "already_cancelled" else "plan.error.not_open"
        await turn_context.send_activity(t(key))
        return
    ctx.wake()
    label = meeting_label(meeting, locale=ctx.info.locale, tz=tz)
    outcome = build_meeting_outcome_card(
        [
            t("plan.cancel.done", meeting=capitalized(label)),
            _notices_line(
                ctx.info.locale, "plan.cancel.notified", "plan.cancel.notified_none", len(accepted)
            ),
            t(
                "plan.cancel.undo_until",
                when=format_when(meeting.starts_at, locale=ctx.info.locale, tz=tz),
            ),
        ],
        actions=[submit(t("plan.restore.button"), verb=VERB_RESTORE, meeting_id=meeting.id)],
        attention=True,
    )
    await replace_clicked_card(turn_context, outcome)


async def on_restore_meeting_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    wake: Callable[[], None],
) -> None:
    """`rétablir la rencontre`: the typed way to the « Rétablir » button, for a facilitator
    who no longer has the cancellation card. With several cancelled meetings still ahead,
    the facilitator picks one."""
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    async with sessions() as session:
        restorable = await meetings.upcoming_meetings(
            session, community_id=community.id, now=utcnow(), status=MeetingStatus.CANCELLED
        )
    if not restorable:
        await turn_context.send_activity(translator(info.locale)("plan.restore.none"))
        return
    ctx = _Ctx(sessions=sessions, settings=settings, info=info, wake=wake)
    await _act_on_one(
        turn_context,
        restorable,
        ctx,
        act=_restore_meeting,
        verb=VERB_RESTORE,
        heading_key="plan.restore.choose",
        button_key="plan.restore.button",
    )


async def _restore_meeting(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, *, typed: bool = False
) -> None:
    """« Rétablir la rencontre »: until the meeting starts; those who read the cancellation
    hear of it (once), and the reminder job plans its reminders again."""
    t = translator(ctx.info.locale)
    tz = ctx.settings.timezone
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is None:
        await turn_context.send_activity(t("error.unknown_action"))
        return
    try:
        async with transaction(ctx.sessions) as session:
            meeting, told = await meetings.restore_meeting(
                session, meeting_id=meeting_id, by_person_id=ctx.info.person_id, now=utcnow()
            )
            await _tell_of_change(
                session,
                meeting,
                told,
                key_prefix=meetings.restored_notice_prefix(meeting),
                change="restored",
            )
    except NotAllowed:
        await turn_context.send_activity(t("plan.animators_only"))
        return
    except LookupError:
        await turn_context.send_activity(t("plan.error.not_open"))
        return
    except InvalidMeeting as error:
        if str(error) == "restore_too_late":
            async with ctx.sessions() as session:
                started = await session.get(Meeting, meeting_id)
            when = format_when(
                started.starts_at if started else utcnow(), locale=ctx.info.locale, tz=tz
            )
            await turn_context.send_activity(t("plan.restore.too_late", when=when))
        else:
            await turn_context.send_activity(t("plan.restore.not_cancelled"))
        return
    ctx.wake()
    label = meeting_label(meeting, locale=ctx.info.locale, tz=tz)
    outcome = build_meeting_outcome_card(
        [
            t("plan.restore.done", meeting=capitalized(label)),
            _notices_line(
                ctx.info.locale, "plan.restore.notified", "plan.restore.notified_none", len(told)
            ),
            t("plan.restore.reminders"),
        ]
    )
    if typed:  # a typed command clicked nothing: its answer is sent
        await _send_card(turn_context, outcome)
    else:
        await replace_clicked_card(turn_context, outcome)


async def on_move_meeting_command(
    turn_context: TurnContext, *, sessions: SessionFactory, settings: Settings, info: TurnInfo
) -> None:
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    async with sessions() as session:
        meeting = await meetings.upcoming(session, community_id=community.id, now=utcnow())
    if meeting is None:
        await turn_context.send_activity(translator(info.locale)("agenda.none"))
        return
    del settings  # the form shows the meeting's times when it opens
    await _post_launcher(
        turn_context,
        info,
        title=translator(info.locale)("plan.move_title"),
        form=FORM_MOVE,
        verb=VERB_MOVE,
        meeting_id=meeting.id,
    )


_MOVE_INPUTS = ("date", "start", "end")


def _move_form_shown(
    ctx: _Ctx,
    meeting: Meeting,
    surface: _Surface,
    form: MoveForm | None = None,
    errors: list[str] | None = None,
) -> _Shown:
    tz = ctx.settings.timezone
    form = form or MoveForm(
        date=meeting.starts_at.astimezone(ZoneInfo(tz)).date().isoformat(),
        start=local_time(meeting.starts_at, tz),
        end=local_time(meeting.ends_at, tz),
    )
    label = meeting_label(meeting, locale=ctx.info.locale, tz=tz)
    card = build_move_form_card(
        form,
        meeting_id=meeting.id or 0,
        heading_text=capitalized(label),
        locale=ctx.info.locale,
        errors=errors or [],
        dialog=surface.dialog,
    )
    _carry(card, surface.carried({}))
    return _Shown(card=card, title=translator(ctx.info.locale)("plan.move_title"))


async def _move_form_step(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, surface: _Surface
) -> _Shown:
    found = await _open_meeting(turn_context, value, ctx)
    if isinstance(found, str):
        return _Shown(text=found)
    return _move_form_shown(ctx, found[1], surface)


async def _move_step(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, surface: _Surface
) -> _Shown:
    """The move form submitted: the meeting moved (those who accepted are told), or the form
    again with its error."""
    if surface.dialog is None and not any(key in value for key in _MOVE_INPUTS):
        # The small card's « Remplir ici » sends the form's verb without its inputs.
        return await _move_form_step(turn_context, value, ctx, surface)
    t = translator(ctx.info.locale)
    found = await _open_meeting(turn_context, value, ctx)
    if isinstance(found, str):
        return _Shown(text=found)
    _community, meeting = found
    meeting_id = meeting.id or 0
    tz = ctx.settings.timezone
    form = MoveForm(
        date=_text(value, "date", 10), start=_text(value, "start", 5), end=_text(value, "end", 5)
    )
    starts_at = _at(form.date, form.start, tz)
    ends_at = _at(form.date, form.end, tz)
    if starts_at is None or ends_at is None:
        return _move_form_shown(ctx, meeting, surface, form, [t("plan.error.date")])
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
            await _tell_of_change(
                session,
                meeting,
                accepted,
                key_prefix=meetings.moved_notice_prefix(meeting, starts_at),
                change="moved",
                old_start=old_start.isoformat(),
            )
    except InvalidMeeting as error:
        return _move_form_shown(ctx, meeting, surface, form, [_error(t, error)])
    except NotAllowed:
        return _Shown(text=t("plan.animators_only"))
    except LookupError:
        return _Shown(text=t("plan.error.not_open"))
    ctx.wake()
    return _Shown(text=t("plan.moved_done"), done=True, launcher_line=t("plan.moved_done"))


async def _on_move(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _show_inline(
        turn.context,
        await _move_step(turn.context, value, _ctx(turn), INLINE),
        replace_clicked=not any(key in value for key in _MOVE_INPUTS),
    )


def _toggled(value: dict[str, Any], state: str) -> list[int]:
    """The people whose attendance toggle was sent with this value ("true" or "false")."""
    return [
        person_id
        for key, flag in value.items()
        if key.startswith("present_") and str(flag).lower() == state
        for person_id in [as_int(key.removeprefix("present_"))]
        if person_id is not None
    ]


def _removal_card(
    t: Translate, locale: str, change: AttendanceChange, value: dict[str, Any]
) -> Element:
    """Before anyone loses a recorded presence: who, by name."""
    names = [p.name or p.teams_user_id for p in change.needs_confirmation]
    others = len(names) - 1
    lines = [
        plural(locale, "attendance.remove.others", others, name=names[0])
        if others
        else t("attendance.remove.single", name=names[0])
    ]
    if others:
        lines.append(t("attendance.remove.names", names=", ".join(names)))
    return build_confirmation_card(
        t,
        title=t("attendance.remove.title"),
        consequences=lines,
        confirm_title=t("attendance.remove.confirm"),
        verb="meetings.attendance",
        data=value,
    )


async def _on_attendance(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """A submission of the attendance card (or of the confirmation of a removal): a change to
    what is recorded. The clicked card is then replaced by the list as recorded."""
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            change = await meetings.record_attendance(
                session,
                meeting_id=meeting_id,
                by_person_id=turn.person_id,
                present_ids=_toggled(value, "true"),
                absent_ids=_toggled(value, "false"),
                removal_confirmed=is_confirmed(value),
                now=turn.clock(),
            )
            sheet = await meetings.attendance_sheet(session, meeting_id=meeting_id)
    except NotAllowed:
        await turn.say("plan.animators_only")
        return
    except (InvalidMeeting, LookupError) as error:
        await turn.context.send_activity(
            _error(turn.t, InvalidMeeting(str(error)))
            if isinstance(error, InvalidMeeting)
            else turn.t("plan.error.not_open")
        )
        return
    if change.needs_confirmation:
        await turn.show(_removal_card(turn.t, turn.info.locale, change, value))
        return
    if sheet is not None:
        card = build_attendance_card(sheet, locale=turn.info.locale, tz=turn.settings.timezone)
        await turn.replace_clicked(card)
    # A second submission of the same list (a double click, a stale card) rewrote nothing.
    key = "attendance.saved" if change.changed else "attendance.unchanged"
    await turn.context.send_activity(plural(turn.info.locale, key, change.recorded))


# -- joint meetings --
#
# A host facilitator invites another community (`rencontre conjointe`, in the host's channel);
# the invited community's facilitators get a private card to accept or decline; only a yes
# posts the agenda card in the invited community's channel (storage/meetings.py says why). The
# co-host's facilitators leave with `quitter la rencontre conjointe`, in their channel.


async def _cohost_names(session: AsyncSession, meeting: Meeting) -> list[str]:
    return [c.name for c in await meetings.cohosts(session, meeting_id=meeting.id or 0)]


async def on_joint_meeting_command(
    turn_context: TurnContext, *, sessions: SessionFactory, settings: Settings, info: TurnInfo
) -> None:
    """`rencontre conjointe`: the form to invite a community to co-host one of the channel
    community's upcoming meetings."""
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    t = translator(info.locale)
    async with sessions() as session:
        upcoming = [
            m
            for m in await meetings.upcoming_meetings(
                session, community_id=community.id, now=utcnow()
            )
            if m.starts_at > utcnow()
        ]
        candidates = await meetings.cohost_candidates(session, community=community)
        names = await meetings.cohost_names(session, meeting_ids=[m.id or 0 for m in upcoming])
    if not upcoming:
        await turn_context.send_activity(t("cohost.no_meeting"))
        return
    if not candidates:
        await turn_context.send_activity(t("cohost.no_community"))
        return
    card = build_cohost_form_card(
        upcoming, candidates, locale=info.locale, tz=settings.timezone, cohosts=names
    )
    await _send_card(turn_context, card)


async def _guest_name(sessions: SessionFactory, community_id: int) -> str | None:
    async with sessions() as session:
        guest = await session.get(Community, community_id)
    return guest.name if guest is not None else None


async def _start_cohosting(session: AsyncSession, change: meetings.CohostChange) -> bool:
    """In the acceptance's transaction: the card queued for the co-host's channel (once per
    acceptance), every posted copy brought up to date (« Rencontre conjointe avec … »).
    False when the co-host's channel is not known to the bot."""
    channel = await questions.channel_conversation(session, community=change.guest)
    posted = await meetings.queue_cohost_post(session, change, channel_ref_id=channel)
    await _queue_card_update(session, change.meeting)
    return posted or channel is not None


async def _on_cohost_invite(turn: FeatureTurn, value: dict[str, Any]) -> None:
    meeting_id = as_int(value.get("meeting_id"))
    community_id = as_int(value.get("community_id"))
    if meeting_id is None or community_id is None:
        await turn.say("cohost.choose")
        return
    found = await _animator_community(turn.sessions, turn.context, turn.info)
    if isinstance(found, str):
        await turn.context.send_activity(found)
        return
    label = ""
    try:
        async with transaction(turn.sessions) as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None or meeting.community_id != found.id:
                # Only the channel's own meetings: a form from elsewhere invites nothing.
                raise InvalidMeeting("not_open")
            change = await meetings.invite_cohost(
                session,
                meeting_id=meeting_id,
                community_id=community_id,
                by_person_id=turn.person_id,
                now=turn.clock(),
            )
            label = meeting_label(
                change.meeting, locale=turn.info.locale, tz=turn.settings.timezone
            )
            channel_known = True
            if change.accepted_now:
                channel_known = await _start_cohosting(session, change)
            elif change.changed:
                await meetings.queue_cohost_invitations(session, change)
    except NotAllowed:
        await turn.say("cohost.animators_host_only")
        return
    except InvalidMeeting as error:
        await turn.context.send_activity(_cohost_error(turn.t, error))
        return
    guest = change.guest.name
    if change.changed:
        turn.wake()
    if change.accepted_now:
        key = "cohost.accepted_at_once" if channel_known else "cohost.accepted_no_channel"
    elif change.changed:
        key = "cohost.invited"
    elif change.cohost.status == CohostStatus.ACCEPTED:
        key = "cohost.already_cohost"
    else:
        key = "cohost.already_invited"
    await turn.replace_clicked(
        build_meeting_outcome_card([turn.t(key, guest=guest, meeting=label)])
    )


def _cohost_error(t: Translate, error: InvalidMeeting) -> str:
    reason = str(error)
    if reason in {"cohost_self", "cohost_unknown", "cohost_not_invited", "cohost_too_late"}:
        return t(f"cohost.error.{reason}")
    return _error(t, error)


async def _answer_cohost(turn: FeatureTurn, value: dict[str, Any], *, accept: bool) -> None:
    """« Accepter » / « Décliner » on the invitation card (a facilitator of the invited
    community, in their personal chat)."""
    meeting_id = as_int(value.get("meeting_id"))
    community_id = as_int(value.get("community_id"))
    guest = await _guest_name(turn.sessions, community_id) if community_id is not None else None
    if meeting_id is None or community_id is None or guest is None:
        await turn.say("error.unknown_action")
        return
    channel_known = True
    try:
        async with transaction(turn.sessions) as session:
            change = await meetings.answer_cohost(
                session,
                meeting_id=meeting_id,
                community_id=community_id,
                by_person_id=turn.person_id,
                accept=accept,
                now=turn.clock(),
            )
            if change.changed:
                if accept:
                    channel_known = await _start_cohosting(session, change)
                await meetings.queue_cohost_notices(
                    session,
                    change,
                    what="accepted" if accept else "declined",
                    person_ids=await meetings.animator_ids(session, [change.host.id or 0]),
                )
    except NotAllowed:
        await turn.say("cohost.animators_guest_only", guest=guest)
        return
    except LookupError:
        await turn.say("cohost.error.cohost_not_invited")
        return
    except InvalidMeeting as error:
        await turn.context.send_activity(_cohost_error(turn.t, error))
        return
    label = meeting_label(change.meeting, locale=turn.info.locale, tz=turn.settings.timezone)
    if change.changed:
        turn.wake()
        if accept:
            key = "cohost.accepted" if channel_known else "cohost.accepted_no_channel"
        else:
            key = "cohost.declined"
    else:
        key = "cohost.already_accepted" if accept else "cohost.already_declined"
    await turn.replace_clicked(
        build_meeting_outcome_card([turn.t(key, guest=guest, meeting=label)])
    )


async def _on_cohost_accept(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _answer_cohost(turn, value, accept=True)


async def _on_cohost_decline(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _answer_cohost(turn, value, accept=False)


async def on_leave_joint_meeting_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    wake: Callable[[], None],
) -> None:
    """`quitter la rencontre conjointe`, in the co-host's channel: which joint meeting (when
    several), then a confirmation."""
    community = await _animated_channel_community(sessions, turn_context, info)
    if community is None or community.id is None:
        return
    async with sessions() as session:
        joint = await meetings.cohosted_upcoming(session, community_id=community.id, now=utcnow())
    if not joint:
        await turn_context.send_activity(translator(info.locale)("cohost.withdraw.none"))
        return
    ctx = _Ctx(sessions=sessions, settings=settings, info=info, wake=wake)
    await _act_on_one(
        turn_context,
        joint,
        ctx,
        act=_withdraw_cohost,
        verb=VERB_COHOST_WITHDRAW,
        heading_key="cohost.withdraw.choose",
        button_key="cohost.withdraw.button",
    )


async def _withdraw_cohost(
    turn_context: TurnContext, value: dict[str, Any], ctx: _Ctx, *, typed: bool = False
) -> None:
    """First click: what withdrawing does. The confirm click: the channel's community stops
    co-hosting; its channel's copies say so (and lose their buttons), the host's facilitators
    and the members whose answer no longer holds are told."""
    t = translator(ctx.info.locale)
    tz = ctx.settings.timezone
    meeting_id = as_int(value.get("meeting_id"))
    if meeting_id is None:
        await turn_context.send_activity(t("error.unknown_action"))
        return
    found = await _animator_community(ctx.sessions, turn_context, ctx.info)
    if isinstance(found, str) or found.id is None:
        await turn_context.send_activity(str(found))
        return
    guest = found
    guest_id = found.id
    try:
        if not is_confirmed(value):
            async with ctx.sessions() as session:
                found_meeting = await meetings.meeting_with_community(
                    session, meeting_id=meeting_id
                )
            if found_meeting is None:
                raise LookupError(meeting_id)
            meeting, host = found_meeting
            label = meeting_label(meeting, locale=ctx.info.locale, tz=tz)
            card = build_confirmation_card(
                t,
                title=t("cohost.withdraw.confirm_title", guest=guest.name, meeting=label),
                consequences=[
                    t("cohost.withdraw.consequence_post"),
                    t("cohost.withdraw.consequence_rsvp", host=host.name),
                ],
                confirm_title=t("cohost.withdraw.confirm"),
                verb=VERB_COHOST_WITHDRAW,
                data={"meeting_id": meeting_id},
            )
            if typed:
                await _send_card(turn_context, card)
            else:
                await replace_clicked_card(turn_context, card)
            return
        async with transaction(ctx.sessions) as session:
            change = await meetings.withdraw_cohost(
                session,
                meeting_id=meeting_id,
                community_id=guest_id,
                by_person_id=ctx.info.person_id,
                now=utcnow(),
            )
            if change.changed:
                await _end_cohosting(session, change)
    except NotAllowed:
        await turn_context.send_activity(t("plan.animators_only"))
        return
    except LookupError:
        await turn_context.send_activity(t("cohost.withdraw.none"))
        return
    except InvalidMeeting as error:
        await turn_context.send_activity(_cohost_error(t, error))
        return
    label = meeting_label(change.meeting, locale=ctx.info.locale, tz=tz)
    if change.changed:
        ctx.wake()
    key = "cohost.withdraw.done" if change.changed else "cohost.withdraw.already"
    await replace_clicked_card(
        turn_context, build_meeting_outcome_card([t(key, guest=guest.name, meeting=label)])
    )


async def _end_cohosting(session: AsyncSession, change: meetings.CohostChange) -> None:
    """In the withdrawal's transaction: the copies in the co-host's channel get their last
    update (« … ne coanime plus cette rencontre », no buttons), the others lose the co-host's
    name, and the host's facilitators and the members dropped are told."""
    for conversation_ref_id, activity_id, locale in await meetings.forget_channel_copies(
        session, meeting_id=change.meeting.id or 0, community=change.guest
    ):
        await outbox.enqueue(
            session,
            dedup_key=meetings.agenda_card_key(change.meeting.id, uuid.uuid4().hex),
            recipient=outbox.Recipient.conversation(conversation_ref_id),
            kind=KIND_AGENDA_CARD,
            params={
                "meeting_id": change.meeting.id,
                "activity_id": activity_id,
                "locale": locale,
                "withdrawn": change.guest.id,
            },
        )
    await _queue_card_update(session, change.meeting)
    await meetings.queue_cohost_notices(
        session,
        change,
        what="withdrawn",
        person_ids=await meetings.animator_ids(
            session, [change.host.id or 0, change.guest.id or 0]
        ),
    )
    await meetings.queue_cohost_notices(
        session, change, what="dropped", person_ids=list(change.dropped)
    )


async def _on_cohost_withdraw(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _withdraw_cohost(turn.context, value, _ctx(turn))


async def render_cohost_invitation(context: RenderContext) -> Activity | None:
    """The invitation, while it is still open (not answered, withdrawn, nor the meeting
    cancelled or started since)."""
    params = context.message.params
    meeting_id, community_id = param_int(params, "meeting_id"), param_int(params, "community_id")
    if meeting_id is None or community_id is None:
        return None
    async with context.sessions() as session:
        found = await meetings.meeting_with_community(session, meeting_id=meeting_id)
        invited = await meetings.cohosts(
            session, meeting_id=meeting_id, statuses=(CohostStatus.INVITED,)
        )
    guest = next((c for c in invited if c.id == community_id), None)
    if found is None or guest is None:
        return None
    meeting, host = found
    if meeting.status != MeetingStatus.SCHEDULED or meeting.starts_at <= context.now:
        return None
    card = build_cohost_invitation_card(
        meeting, host, guest, locale=context.locale, tz=context.timezone
    )
    return card_activity(card)


async def render_cohost_post(context: RenderContext) -> Activity | None:
    """The agenda card, posted as a new message in the co-host's channel, while it still
    co-hosts a meeting not over."""
    params = context.message.params
    meeting_id, community_id = param_int(params, "meeting_id"), param_int(params, "community_id")
    if meeting_id is None or community_id is None:
        return None
    async with context.sessions() as session:
        found = await meetings.meeting_with_community(session, meeting_id=meeting_id)
        if found is None:
            return None
        meeting, host = found
        cohosting = (await meetings.host_ids(session, meeting=meeting))[1:]
        if community_id not in cohosting:
            return None  # withdrawn before the card went out
        if meeting.status != MeetingStatus.SCHEDULED or meeting.ends_at <= context.now:
            return None
        card = await _current_agenda_card(session, context, meeting, host, locale=context.locale)
    return card_activity(card)


async def _cohost_posted(message: Claimed, sessions: SessionFactory, now: datetime) -> None:
    """Teams accepted the card in the co-host's channel: remember the copy, so that answers
    and changes keep it current."""
    meeting_id = param_int(message.params, "meeting_id")
    if meeting_id is None or message.conversation_ref_id is None:
        return
    async with transaction(sessions) as session:
        row = await session.get(OutboxMessage, message.id)
        if row is None or not row.activity_id:
            logger.warning("joint meeting %s posted without an activity id", meeting_id)
            return
        await meetings.record_card_copy(
            session,
            meeting_id=meeting_id,
            conversation_ref_id=message.conversation_ref_id,
            activity_id=row.activity_id,
            locale="",
            now=now,
        )


_COHOST_NOTICES = frozenset({"accepted", "declined", "withdrawn", "dropped"})


async def render_cohost_notice(context: RenderContext) -> Activity | None:
    params = context.message.params
    meeting_id, community_id = param_int(params, "meeting_id"), param_int(params, "community_id")
    change = params.get("change")
    if meeting_id is None or community_id is None or change not in _COHOST_NOTICES:
        return None
    async with context.sessions() as session:
        found = await meetings.meeting_with_community(session, meeting_id=meeting_id)
        guest = await session.get(Community, community_id)
    if found is None or guest is None:
        return None
    meeting, host = found
    label = meeting_label(meeting, locale=context.locale, tz=context.timezone)
    text = translator(context.locale)(
        f"cohost.notice.{change}", guest=guest.name, host=host.name, meeting=label
    )
    return MessageFactory.text(text)


# -- this feature's buttons --


class _Ctx:
    """What the planning, agenda, move, cancel and restore steps read: shared by the buttons,
    the typed commands and the Teams dialogs, whose turns do not all carry the host's
    services (so not the settings)."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        settings: Settings,
        info: TurnInfo,
        wake: Callable[[], None],
    ) -> None:
        self.sessions, self.settings, self.info, self.wake = sessions, settings, info, wake


def _ctx(turn: FeatureTurn) -> _Ctx:
    """A button's turn, as the steps read it."""
    return _Ctx(sessions=turn.sessions, settings=turn.settings, info=turn.info, wake=turn.wake)


async def _on_form_cancel(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await turn.say("dialog.cancelled")


async def _on_cancel(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _cancel_meeting(turn.context, value, _ctx(turn))


async def _on_restore(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _restore_meeting(turn.context, value, _ctx(turn))


# The meeting cards' and forms' buttons, as bot/features/meetings.py declares them.
ACTIONS: Mapping[str, VerbHandler] = MappingProxyType(
    {
        VERB_FORM_CANCEL: _on_form_cancel,
        VERB_PLAN_OPEN: _on_plan_open,
        VERB_AGENDA_OPEN: _on_agenda_open,
        "meetings.plan": _on_plan_submit,
        "meetings.agenda.add_row": _on_add_row,
        "meetings.agenda.publish": _on_publish,
        "meetings.rsvp": _on_rsvp,
        VERB_MOVE: _on_move,
        VERB_CANCEL: _on_cancel,
        VERB_RESTORE: _on_restore,
        "meetings.attendance": _on_attendance,
        VERB_COHOST_INVITE: _on_cohost_invite,
        VERB_COHOST_ACCEPT: _on_cohost_accept,
        VERB_COHOST_DECLINE: _on_cohost_decline,
        VERB_COHOST_WITHDRAW: _on_cohost_withdraw,
    }
)


# -- the same forms in Teams dialogs --

# Which steps each dialog form answers (its buttons' verbs); the cancel button closes it.
_DIALOG_STEPS: dict[str, dict[str, _Step]] = {
    FORM_PLAN: {
        "meetings.plan": _plan_step,
        "meetings.agenda.add_row": _add_row_step,
        "meetings.agenda.publish": _publish_step,
    },
    FORM_AGENDA: {
        "meetings.agenda.add_row": _add_row_step,
        "meetings.agenda.publish": _publish_step,
    },
    FORM_MOVE: {VERB_MOVE: _move_step},
}
_DIALOG_OPENERS: dict[str, _Step] = {
    FORM_PLAN: _plan_form_step,
    FORM_AGENDA: _agenda_form_step,
    FORM_MOVE: _move_form_step,
}


def register_meeting_forms(invokes: Invokes, *, settings: Settings) -> None:
    """Planning, agenda editing and moving, as Teams dialogs (bot/invokes.py). Every fetch and
    submit checks again that the sender animates the channel's community."""

    def ctx_of(turn: FeatureTurn) -> _Ctx:
        return _Ctx(sessions=turn.sessions, settings=settings, info=turn.info, wake=turn.wake)

    def opener(form: str) -> Callable[[FeatureTurn, dict[str, Any]], Awaitable[TaskReply]]:
        async def fetch(turn: FeatureTurn, data: dict[str, Any]) -> TaskReply:
            surface = _Surface(dialog=form, launcher=_launcher_id(turn.context, data))
            shown = await _DIALOG_OPENERS[form](turn.context, data, ctx_of(turn), surface)
            return await _show_in_dialog(turn.context, surface, shown)

        return fetch

    def submitter(form: str) -> Callable[[FeatureTurn, dict[str, Any]], Awaitable[TaskReply]]:
        async def submit_(turn: FeatureTurn, data: dict[str, Any]) -> TaskReply:
            verb = data.get("verb")
            if verb == VERB_FORM_CANCEL:
                return TaskReply.close()
            step = _DIALOG_STEPS[form].get(verb) if isinstance(verb, str) else None
            if step is None:
                return TaskReply.message(turn.t("error.unknown_action"))
            surface = _Surface(dialog=form, launcher=_launcher_id(turn.context, data))
            shown = await step(turn.context, data, ctx_of(turn), surface)
            return await _show_in_dialog(turn.context, surface, shown)

        return submit_

    for form in _DIALOG_OPENERS:
        invokes.form(form, fetch=opener(form), submit=submitter(form))


# -- each person's view of the agenda card (Universal Actions) --


async def _viewers(session: AsyncSession, meeting: Meeting) -> list[str]:
    """Whose client asks for their own view of a posted agenda card: those who answered first
    (theirs differs from the shared card; Teams refreshes at most 60 listed people on its own,
    the others can refresh from the card's menu), then the other members."""
    first = await meetings.respondents(session, meeting_id=meeting.id or 0)
    found: list[str] = []
    # A joint meeting's copies are read in every host's channel: their members too.
    for community_id in await meetings.host_ids(session, meeting=meeting):
        found += await communities.member_teams_ids(
            session, community_id=community_id, first=first, limit=REFRESH_USER_LIMIT
        )
    return list(dict.fromkeys(found))[:REFRESH_USER_LIMIT]


async def on_agenda_view(
    turn: FeatureTurn, data: dict[str, Any], *, settings: Settings
) -> CardActionReply:
    """The agenda card as this person sees it, in their language: the shared card plus their
    own answer (« Votre réponse : Présent·e »), and their own calendar link. Anyone else
    (no answer, not a member) gets the shared card; nobody gets another person's answer."""
    meeting_id = as_int(data.get("meeting_id"))
    person_id = turn.info.person_id
    async with turn.sessions() as session:
        found = (
            await meetings.meeting_with_community(session, meeting_id=meeting_id)
            if meeting_id is not None
            else None
        )
        if found is None:
            return CardActionReply(message=turn.t("error.unknown_action"))
        meeting, community = found
        # A member of the host or of a co-host of a joint meeting reads their own answer.
        reader = (
            person_id
            if person_id is not None
            and await meetings.is_attendee(session, meeting=meeting, person_id=person_id)
            else None
        )
        own = (
            await meetings.rsvp_of(session, meeting_id=meeting_id or 0, person_id=reader)
            if reader is not None
            else None
        )
        card = build_agenda_card(
            meeting,
            community,
            await meetings.agenda_of(session, meeting_id=meeting_id or 0),
            await meetings.rsvp_counts(session, meeting_id=meeting_id or 0),
            locale=turn.info.locale,
            tz=settings.timezone,
            # A member's own link; anyone else the shared card's (made out to its creator).
            calendar_url=await calendar_url(
                session,
                settings,
                meeting=meeting,
                person_id=reader if reader is not None else meeting.created_by_id,
                locale=turn.info.locale,
                now=turn.clock(),
            ),
            viewers=await _viewers(session, meeting),
            own_answer=own,
            cases=await cases.agenda_cases(session, meeting_id=meeting_id or 0),
            resources=await toolbox.agenda_resources(session, meeting_id=meeting_id or 0),
            cohosts=await _cohost_names(session, meeting),
        )
    return CardActionReply(card=card)


def register_agenda_views(invokes: Invokes, *, settings: Settings) -> None:
    """The refresh every posted agenda card carries (`meetings.view`)."""

    async def view(turn: FeatureTurn, data: dict[str, Any]) -> CardActionReply:
        return await on_agenda_view(turn, data, settings=settings)

    invokes.action(VERB_AGENDA_VIEW, view)


# -- outbox renderers and the attendance job --


async def render_agenda_card(context: RenderContext) -> Activity | None:
    """The posted agenda card, as it is now (updated in place)."""
    params = context.message.params
    meeting_id = int(str(params["meeting_id"]))
    # The copy to update, in the language it was shown in (rows queued before copies were
    # recorded name no copy: the published card).
    locale = str(params.get("locale") or context.locale)
    # The last update of a copy in the channel of a community that stopped co-hosting.
    withdrawn_id = param_int(params, "withdrawn")
    async with context.sessions() as session:
        found = await meetings.meeting_with_community(session, meeting_id=meeting_id)
        if found is None:
            return None
        meeting, community = found
        activity_id = str(params.get("activity_id") or meeting.activity_id or "")
        if not activity_id:
            return None
        withdrawn = await session.get(Community, withdrawn_id) if withdrawn_id else None
        card = await _current_agenda_card(
            session,
            context,
            meeting,
            community,
            locale=locale,
            withdrawn=withdrawn.name if withdrawn is not None else None,
        )
    activity = card_activity(card)
    activity.id = activity_id
    return activity


async def _current_agenda_card(
    session: AsyncSession,
    context: RenderContext,
    meeting: Meeting,
    community: Community,
    *,
    locale: str,
    withdrawn: str | None = None,
) -> Element:
    """The shared agenda card as it is now (a posted copy's update, a co-host's post)."""
    meeting_id = meeting.id or 0
    link = (
        await calendar_url(
            session,
            context.settings,
            meeting=meeting,
            person_id=meeting.created_by_id,
            locale=locale,
            now=context.now,
        )
        if context.settings is not None
        else None
    )
    return build_agenda_card(
        meeting,
        community,
        await meetings.agenda_of(session, meeting_id=meeting_id),
        await meetings.rsvp_counts(session, meeting_id=meeting_id),
        locale=locale,
        tz=context.timezone,
        calendar_url=link,
        viewers=await _viewers(session, meeting),
        cases=await cases.agenda_cases(session, meeting_id=meeting_id),
        resources=await toolbox.agenda_resources(session, meeting_id=meeting_id),
        cohosts=await _cohost_names(session, meeting),
        withdrawn=withdrawn,
    )


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
    elif params.get("change") == "restored":
        if meeting.status != MeetingStatus.SCHEDULED:
            return None  # cancelled again before this notice went out
        text = t(
            "meeting.restored_notice",
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
    """The attendance list for an animator; if another animator confirmed it meanwhile, the
    list as recorded (never one redrawn from the RSVPs over a record)."""
    meeting_id = int(str(context.message.params["meeting_id"]))
    async with context.sessions() as session:
        sheet = await meetings.attendance_sheet(session, meeting_id=meeting_id)
    if sheet is None:
        return None
    card = build_attendance_card(sheet, locale=context.locale, tz=context.timezone)
    return card_activity(card)


MEETING_RENDERERS: dict[str, Renderer] = {
    KIND_AGENDA_CARD: render_agenda_card,
    KIND_CHANGE: render_meeting_change,
    KIND_ATTENDANCE: render_attendance_request,
    meetings.KIND_COHOST_INVITATION: render_cohost_invitation,
    meetings.KIND_COHOST_POST: RecordedRenderer(render_cohost_post, _cohost_posted),
    meetings.KIND_COHOST_NOTICE: render_cohost_notice,
}


async def enqueue_attendance_requests(
    *, sessions: SessionFactory, now: datetime, wake: Callable[[], None]
) -> int:
    """After a meeting ends, its animators (a joint meeting's: every host's) get the
    attendance list to confirm (once each)."""
    queued = 0
    async with transaction(sessions) as session:
        for meeting in await meetings.meetings_awaiting_attendance(session, now=now):
            # A joint meeting's list goes to the facilitators of every community hosting it.
            for animator_id in await meetings.animators_of_hosts(session, meeting=meeting):
                queued += await outbox.enqueue(
                    session,
                    dedup_key=meetings.attendance_key(meeting.id, animator_id),
                    recipient=outbox.Recipient.person(animator_id),
                    kind=KIND_ATTENDANCE,
                    params={"meeting_id": meeting.id},
                )
    if queued:
        wake()
    return queued


__all__ = [
    "ACTIONS",
    "MEETING_RENDERERS",
    "default_agenda",
    "enqueue_attendance_requests",
    "on_agenda_command",
    "on_cancel_meeting_command",
    "on_edit_agenda_command",
    "on_joint_meeting_command",
    "on_leave_joint_meeting_command",
    "on_move_meeting_command",
    "on_plan_command",
    "register_meeting_forms",
]
