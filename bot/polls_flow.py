"""Polls (sondages) in the bot: the command, the card buttons, the closing job, the renderers.

No routing here: bot/features/polls.py declares the `sondage` / `poll` command and the
`polls.*` card verbs (`ACTIONS`) to the host, the scheduler calls `close_expired_polls`, and
`POLL_RENDERERS` joins the dispatcher's renderers. Every action re-checks its rule in
storage/polls.py.

The poll card is posted with `Action.Submit` buttons and updated in place: every viewer sees
the same shared results. Its `refresh` (`polls.view`, an invoke answered by `on_poll_view`)
adds each person's own ballot to their copy only (see docs/decisions.md).
A vote answers with the updated card only; anything to tell the voter alone (a refusal) goes
to their 1:1 chat through the outbox, never into the channel.

Outbox kinds: poll_card (update the posted card in place), poll_results (final results to an
animator).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import TurnContext
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels import channel_community
from bot.deliveries import RenderContext, Renderer
from bot.invokes import CardActionReply, Invokes
from bot.settings import Settings
from bot.turns import FeatureTurn, VerbHandler, card_activity, param_int
from cards.common import REFRESH_USER_LIMIT, Element
from cards.confirm import is_confirmed
from cards.consultations import identifier_kinds_text
from cards.i18n import normalize_locale, translator
from cards.polls import (
    CHOICE_INPUT,
    NO_CLIENT_INPUT,
    VERB_CANCEL,
    VERB_CLOSE,
    VERB_CREATE,
    VERB_TOPICS,
    VERB_VIEW,
    VERB_VOTE,
    PollForm,
    build_close_confirmation_card,
    build_close_outcome_card,
    build_poll_card,
    build_poll_form_card,
    build_poll_results_card,
)
from dialogs.context import TurnInfo
from storage import communities, outbox, polls
from storage.communities import NotAllowed, has_role
from storage.db import SessionFactory, transaction
from storage.identifiers import CONFIRMABLE, confirmable
from storage.models import Community, Person, Poll, PollStatus, Role, utcnow
from storage.polls import (
    KIND_CARD,
    KIND_RESULTS,
    InvalidChoice,
    InvalidPoll,
    PollClosed,
    UnknownPoll,
)
from storage.secrets import derive

logger = logging.getLogger(__name__)

# The form's suggestion: a week to answer, closing at the end of the working day.
DEFAULT_DURATION = timedelta(days=7)
DEFAULT_CLOSE_TIME = time(17, 0)
CLOSES_INVALID = "closes_invalid"

# Storage's reason codes → what the form says about them.
FORM_ERROR_KEYS = {
    polls.QUESTION_LENGTH: "polls.error.question_length",
    polls.TOO_FEW_OPTIONS: "polls.error.too_few_options",
    polls.TOO_MANY_OPTIONS: "polls.error.too_many_options",
    polls.OPTION_EMPTY: "polls.error.too_few_options",
    polls.OPTION_TOO_LONG: "polls.error.option_too_long",
    polls.DUPLICATE_OPTIONS: "polls.error.duplicate_options",
    polls.CLOSES_IN_PAST: "polls.error.closes_in_past",
    polls.CLOSES_TOO_LATE: "polls.error.closes_too_late",
    CLOSES_INVALID: "polls.error.closes_invalid",
}
VOTE_ERROR_KEYS = {
    polls.NO_CHOICE: "polls.vote.no_choice",
    polls.ONE_CHOICE_ONLY: "polls.vote.one_choice_only",
    polls.INVALID_CHOICE: "polls.vote.invalid_choice",
}

Wake = Callable[[], None]
Clock = Callable[[], datetime]


def _locale_of(person: Person | None, *, default: str) -> str:
    chosen = (person.preferred_locale or person.locale) if person is not None else None
    return normalize_locale(chosen, default=default)


async def channel_card(
    session: AsyncSession, poll: Poll, *, default_locale: str, tz: str
) -> Element:
    """The poll card as everyone in the channel sees it, in its author's language (one
    shared card cannot follow each viewer's language; each person's own view does)."""
    assert poll.id is not None
    author = await session.get(Person, poll.created_by_id) if poll.created_by_id else None
    results = await polls.results(session, poll_id=poll.id)
    return build_poll_card(
        results,
        locale=_locale_of(author, default=default_locale),
        tz=tz,
        viewers=await _viewers(session, poll),
    )


async def _viewers(session: AsyncSession, poll: Poll) -> list[str]:
    """Whose client asks for their own view of the poll card (Teams refreshes at most 60
    listed people on its own; the others can refresh from the card's menu): a named poll's
    voters first, then the other members. An anonymous poll lists nobody (its card names no
    one; a list following its ballots would tell who voted): Teams then refreshes for all
    in a channel of up to 60 people."""
    if poll.anonymous:
        return []
    return await communities.member_teams_ids(
        session,
        community_id=poll.community_id,
        first=await polls.named_voters(session, poll=poll),
        limit=REFRESH_USER_LIMIT,
    )


async def on_poll_view(
    turn: FeatureTurn, data: dict[str, Any], *, settings: Settings
) -> CardActionReply:
    """The poll card as this person sees it, in their language: the shared card plus their
    own ballot (« Votre vote : … », pre-selected to be changed). Anyone else (no ballot, not
    a member, an anonymous ballot sealed at closing) gets the shared card; no view ever holds
    another person's choice."""
    poll_id = param_int(data, "poll_id")
    person_id = turn.info.person_id
    async with turn.sessions() as session:
        poll = await polls.get_poll(session, poll_id=poll_id) if poll_id is not None else None
        if poll is None or poll.id is None:
            return CardActionReply(message=turn.t("error.unknown_action"))
        member = (
            await communities.membership(
                session, person_id=person_id, community_id=poll.community_id
            )
            if person_id is not None
            else None
        )
        own = (
            await polls.own_choices(
                session, poll=poll, person_id=person_id, key=_voter_key(settings)
            )
            if person_id is not None and member is not None and member.left_at is None
            else None
        )
        card = build_poll_card(
            await polls.results(session, poll_id=poll.id),
            locale=turn.info.locale,
            tz=turn.info.timezone,
            viewers=await _viewers(session, poll),
            own_choices=own,
        )
    return CardActionReply(card=card)


def register_poll_views(invokes: Invokes, *, settings: Settings) -> None:
    """The refresh the posted poll card carries (`polls.view`)."""

    async def view(turn: FeatureTurn, data: dict[str, Any]) -> CardActionReply:
        return await on_poll_view(turn, data, settings=settings)

    invokes.action(VERB_VIEW, view)


# -- outbox renderers ------------------------------------------------------------------------


async def render_poll_card(context: RenderContext) -> Activity | None:
    """The posted poll card with current results, as an update of the posted message."""
    poll_id = param_int(context.message.params, "poll_id")
    if poll_id is None:
        return None
    async with context.sessions() as session:
        poll = await polls.get_poll(session, poll_id=poll_id)
        if poll is None or not poll.activity_id:
            return None
        card = await channel_card(session, poll, default_locale=context.locale, tz=context.timezone)
    activity = card_activity(card)
    # An id makes the dispatcher update that message rather than post a new one.
    activity.id = poll.activity_id
    return activity


async def render_poll_results(context: RenderContext) -> Activity | None:
    """The final results, to an animator who still animates the community."""
    poll_id = param_int(context.message.params, "poll_id")
    recipient = context.message.person_id
    if poll_id is None or recipient is None:
        return None
    async with context.sessions() as session:
        poll = await polls.get_poll(session, poll_id=poll_id)
        if poll is None:
            return None
        member = await communities.membership(
            session, person_id=recipient, community_id=poll.community_id
        )
        community = await session.get(Community, poll.community_id)
        if not has_role(member, Role.ANIMATOR) or community is None:
            return None
        results = await polls.results(session, poll_id=poll_id)
    card = build_poll_results_card(
        results, community_name=community.name, locale=context.locale, tz=context.timezone
    )
    return card_activity(card)


POLL_RENDERERS: dict[str, Renderer] = {
    KIND_CARD: render_poll_card,
    KIND_RESULTS: render_poll_results,
}


# -- the creation form -----------------------------------------------------------------------


def _text(values: dict[str, Any], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def _flag(values: dict[str, Any], key: str) -> bool:
    value = values.get(key)
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def form_from(values: dict[str, Any]) -> PollForm:
    return PollForm(
        question=_text(values, "question"),
        options=_text(values, "options"),
        multiple=_flag(values, "multiple"),
        anonymous=_flag(values, "anonymous"),
        close_date=_text(values, "close_date"),
        close_time=_text(values, "close_time"),
        no_client=_flag(values, NO_CLIENT_INPUT),
    )


def confirmed_kinds(form: PollForm) -> list[str]:
    """What the toggle « n'identifie aucune personne usagère » vouches for: names only
    (storage re-checks whatever a forged card sends)."""
    return [kind.value for kind in CONFIRMABLE] if form.no_client else []


def option_lines(text: str) -> list[str]:
    """One option per line; list bullets and blank lines are not options."""
    return [line.strip(" -•*\t") for line in text.splitlines() if line.strip(" -•*\t")]


def closing_moment(form: PollForm, *, tz: str) -> datetime | None:
    """The form's date and time in the community's time zone, as UTC; None if unreadable.
    No time given means the default closing hour."""
    try:
        day = date.fromisoformat(form.close_date)
        hour = time.fromisoformat(form.close_time) if form.close_time else DEFAULT_CLOSE_TIME
    except ValueError:
        return None
    return datetime.combine(day, hour, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def form_problems(form: PollForm, *, tz: str, now: datetime) -> list[str]:
    """Reason codes for everything the animator must fix (empty when the form is valid)."""
    closes_at = closing_moment(form, tz=tz)
    options = option_lines(form.options)
    return [
        *polls.question_problems(form.question),
        *polls.option_problems(options),
        *polls.identifier_problems(form.question, options, confirmed_kinds(form)),
        *(polls.closing_problems(closes_at, now=now) if closes_at else [CLOSES_INVALID]),
    ]


def default_form(*, tz: str, now: datetime) -> PollForm:
    day = (now.astimezone(ZoneInfo(tz)) + DEFAULT_DURATION).date()
    return PollForm(close_date=day.isoformat(), close_time=DEFAULT_CLOSE_TIME.strftime("%H:%M"))


def form_error_texts(codes: list[str], locale: str, *, may_confirm: bool = False) -> list[str]:
    """The form's messages for storage's reason codes. The client identifiers spotted make one
    message naming their kinds; `may_confirm`: the form has the « n'identifie aucune personne
    usagère » toggle, so names can be confirmed rather than rewritten."""
    t = translator(locale)
    texts: list[str] = []
    for code in codes:
        if polls.is_identifier(code):
            continue
        text = t(FORM_ERROR_KEYS[code], max=polls.MAX_OPTIONS, length=polls.MAX_OPTION_LENGTH)
        if text not in texts:  # two codes may share a message
            texts.append(text)
    kinds = polls.identifier_kinds(codes)
    if kinds:
        key = (
            "polls.error.names"
            if may_confirm and confirmable(kinds)
            else "polls.error.names_rewrite"
            if confirmable(kinds)
            else "polls.error.identifiers"
        )
        texts.append(t(key, kinds=identifier_kinds_text(kinds, locale=locale)))
    return texts


# -- a turn's form, private word and role check ----------------------------------------------------


async def _send_form(turn: FeatureTurn, form: PollForm, errors: list[str] | None = None) -> None:
    today = turn.clock().astimezone(ZoneInfo(turn.info.timezone)).date()
    await turn.show(
        build_poll_form_card(form, locale=turn.info.locale, today=today, errors=errors or [])
    )


async def _tell_privately(turn: FeatureTurn, poll_id: int | None, key: str) -> None:
    """A word for the voter alone, in their 1:1 chat: a reply in the channel would show
    everyone that this person tried to vote."""
    activity_id = str(turn.context.activity.id or uuid.uuid4().hex)[:64]
    async with transaction(turn.sessions) as session:
        queued = await outbox.enqueue(
            session,
            dedup_key=polls.notice_key(poll_id, activity_id, turn.person_id),
            recipient=outbox.Recipient.person(turn.person_id),
            kind=outbox.KIND_NOTICE,
            params={"text": key, "values": {}},
        )
    if queued:
        turn.wake()


async def _animated_here(turn: FeatureTurn) -> Community | None:
    """The channel's community when the sender animates it; otherwise says why not."""
    if not turn.info.in_channel:
        await turn.say("polls.channel_only")
        return None
    community = await channel_community(turn.sessions, turn.info, turn.context.activity)
    if community is None or community.id is None:
        await turn.say("polls.no_community")
        return None
    async with turn.sessions() as session:
        member = await communities.membership(
            session, person_id=turn.person_id, community_id=community.id
        )
    if not has_role(member, Role.ANIMATOR):
        await turn.say("polls.animators_only")
        return None
    return community


async def on_poll_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    settings: Settings,
    info: TurnInfo,
    clock: Clock = utcnow,
) -> None:
    """`sondage` / `poll` in the community's channel: the creation form, for animators."""
    # A turn of the flow's own: the form needs neither the host's services nor a wake-up.
    turn = FeatureTurn(context=turn_context, sessions=sessions, info=info, clock=clock)
    if info.person_id is None:
        await turn.say("polls.animators_only")
        return
    if await _animated_here(turn) is None:
        return
    await _send_form(turn, default_form(tz=info.timezone, now=clock()))


# -- card actions ------------------------------------------------------------------------------


async def _create(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community = await _animated_here(turn)
    if community is None or community.id is None:
        return
    form = form_from(value)
    now = turn.clock()
    codes = form_problems(form, tz=turn.info.timezone, now=now)
    closes_at = closing_moment(form, tz=turn.info.timezone)
    if codes or closes_at is None:
        await _send_form(turn, form, form_error_texts(codes, turn.info.locale, may_confirm=True))
        return
    try:
        async with transaction(turn.sessions) as session:
            poll = await polls.create(
                session,
                community_id=community.id,
                created_by_id=turn.person_id,
                question=form.question,
                options=option_lines(form.options),
                multiple=form.multiple,
                anonymous=form.anonymous,
                closes_at=closes_at,
                now=now,
                confirmed=confirmed_kinds(form),
            )
            card = await channel_card(
                session, poll, default_locale=turn.info.locale, tz=turn.info.timezone
            )
    except NotAllowed:  # the role was removed while the form was open
        await turn.say("polls.animators_only")
        return
    except InvalidPoll as invalid:
        errors = form_error_texts(list(invalid.reasons), turn.info.locale, may_confirm=True)
        await _send_form(turn, form, errors)
        return
    assert poll.id is not None
    try:
        response = await turn.show(card)
    except Exception:
        # Not posted, so nobody can vote on it: forget it rather than close an empty poll.
        async with transaction(turn.sessions) as session:
            await polls.discard_unposted(session, poll_id=poll.id)
        raise
    activity_id = getattr(response, "id", None)
    if not activity_id:
        logger.warning("poll %s posted without an activity id; its card cannot update", poll.id)
        return
    conversation_id = str(turn.context.activity.conversation.id or "")
    async with transaction(turn.sessions) as session:
        await polls.record_posted(
            session,
            poll_id=poll.id,
            conversation_ref_id=await polls.conversation_ref_id(
                session, conversation_id=conversation_id
            ),
            activity_id=str(activity_id),
        )


def parse_choices(raw: object) -> list[int] | None:
    """The ChoiceSet's value: "2", or "0,3" from a multi-select; None when unreadable."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, int) and not isinstance(raw, bool):
        return [raw]
    parts = raw if isinstance(raw, list) else str(raw).split(",")
    choices: list[int] = []
    for part in parts:
        text = str(part).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 3:
            return None
        choices.append(int(text))
    return choices


async def _refresh_card(turn: FeatureTurn, poll_id: int) -> None:
    """Update the posted card now, from this turn (the voter is waiting for it); the outbox
    takes over if Teams refuses."""
    async with turn.sessions() as session:
        poll = await polls.get_poll(session, poll_id=poll_id)
        if poll is None or not poll.activity_id:
            return
        card = await channel_card(
            session, poll, default_locale=turn.settings.default_locale, tz=turn.info.timezone
        )
    activity = card_activity(card)
    activity.id = poll.activity_id
    try:
        await turn.context.update_activity(activity)
    except Exception:
        logger.warning("poll %s card not updated in place; queued", poll_id, exc_info=True)
        if poll.conversation_ref_id is None:
            return
        activity_id = str(turn.context.activity.id or uuid.uuid4().hex)[:64]
        async with transaction(turn.sessions) as session:
            await outbox.enqueue(
                session,
                dedup_key=polls.card_key(poll_id, activity_id),
                recipient=outbox.Recipient.conversation(poll.conversation_ref_id),
                kind=KIND_CARD,
                params={"poll_id": poll_id},
            )
        turn.wake()


def _voter_key(settings: Settings) -> bytes:
    return derive(settings.master_key(), polls.VOTER_KEY_PURPOSE)


async def _vote(turn: FeatureTurn, value: dict[str, Any]) -> None:
    poll_id = param_int(value, "poll_id")
    if poll_id is None:
        await _tell_privately(turn, None, "error.unknown_action")
        return
    choices = parse_choices(value.get(CHOICE_INPUT))
    try:
        if choices is None:
            raise InvalidChoice(polls.INVALID_CHOICE)
        async with transaction(turn.sessions) as session:
            await polls.vote(
                session,
                poll_id=poll_id,
                person_id=turn.person_id,
                choices=choices,
                key=_voter_key(turn.settings),
                now=turn.clock(),
            )
    except UnknownPoll:
        await _tell_privately(turn, poll_id, "error.unknown_action")
        return
    except PollClosed:
        await _tell_privately(turn, poll_id, "polls.vote.closed")
        return
    except NotAllowed:
        await _tell_privately(turn, poll_id, "polls.vote.not_member")
        return
    except InvalidChoice as invalid:
        await _tell_privately(turn, poll_id, VOTE_ERROR_KEYS[invalid.reason])
        return
    await _refresh_card(turn, poll_id)


async def queue_closing(session: AsyncSession, poll: Poll) -> int:
    """What a closed poll sends: the channel card's final update and the results to each
    animator. Keys are per poll, so closing twice (button and scheduler) sends once."""
    assert poll.id is not None
    queued = 0
    if poll.conversation_ref_id is not None and poll.activity_id:
        queued += await outbox.enqueue(
            session,
            dedup_key=polls.closed_card_key(poll.id),
            recipient=outbox.Recipient.conversation(poll.conversation_ref_id),
            kind=KIND_CARD,
            params={"poll_id": poll.id},
        )
    animators = await communities.people_with_role(
        session, community_id=poll.community_id, roles=[Role.ANIMATOR]
    )
    for animator in animators:
        assert animator.id is not None
        queued += await outbox.enqueue(
            session,
            dedup_key=polls.closed_results_key(poll.id, animator.id),
            recipient=outbox.Recipient.person(animator.id),
            kind=KIND_RESULTS,
            params={"poll_id": poll.id},
        )
    return queued


async def _close(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Fermer maintenant »: the first click asks (how many voted, that the results go out);
    the confirmation's button closes, the animator's role checked again."""
    poll_id = param_int(value, "poll_id")
    if poll_id is None:
        await turn.say("error.unknown_action")
        return
    if not is_confirmed(value):
        await _ask_to_close(turn, poll_id)
        return
    try:
        async with transaction(turn.sessions) as session:
            poll, closed_now = await polls.close_once(
                session, poll_id=poll_id, by_person_id=turn.person_id, now=turn.clock()
            )
            queued = await queue_closing(session, poll) if closed_now else 0
    except UnknownPoll:
        await turn.say("error.unknown_action")
        return
    except NotAllowed:
        await turn.say("polls.close.not_allowed")
        return
    if queued:
        turn.wake()
    await turn.replace_clicked(
        build_close_outcome_card(closed_now=closed_now, locale=turn.info.locale)
    )
    if closed_now:
        # The outbox also sends the final card; updating now shows it without waiting.
        await _refresh_card(turn, poll_id)


async def _ask_to_close(turn: FeatureTurn, poll_id: int) -> None:
    try:
        async with turn.sessions() as session:
            poll = await polls.may_close(session, poll_id=poll_id, person_id=turn.person_id)
            voters = (await polls.results(session, poll_id=poll_id)).voters
    except UnknownPoll:
        await turn.say("error.unknown_action")
        return
    except NotAllowed:
        await turn.say("polls.close.not_allowed")
        return
    if poll.status != PollStatus.OPEN:
        await turn.say("polls.close.already")
        return
    await turn.show(build_close_confirmation_card(poll_id, voters=voters, locale=turn.info.locale))


async def _topics(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The form again, its options replaced by the shortlisted topics."""
    community = await _animated_here(turn)
    if community is None or community.id is None:
        return
    async with turn.sessions() as session:
        titles = await polls.from_shortlisted_topics(session, community_id=community.id)
    form = form_from(value)
    if not titles:
        await _send_form(turn, form, [turn.t("polls.form.no_topics")])
        return
    form = PollForm(
        question=form.question,
        options="\n".join(titles),
        multiple=form.multiple,
        anonymous=form.anonymous,
        close_date=form.close_date,
        close_time=form.close_time,
        no_client=form.no_client,
    )
    codes = [
        *polls.option_problems(titles),
        *polls.identifier_problems(form.question, titles, confirmed_kinds(form)),
    ]
    await _send_form(turn, form, form_error_texts(codes, turn.info.locale, may_confirm=True))


async def _cancel(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await turn.say("dialog.cancelled")


# The poll cards' buttons by verb (`polls.*`), as bot/features/polls.py declares them.
ACTIONS: Mapping[str, VerbHandler] = {
    VERB_CREATE: _create,
    VERB_VOTE: _vote,
    VERB_CLOSE: _close,
    VERB_TOPICS: _topics,
    VERB_CANCEL: _cancel,
}


# -- the scheduler's job -----------------------------------------------------------------------


async def close_expired_polls(*, sessions: SessionFactory, now: datetime, wake: Wake) -> int:
    """Close the polls whose time has come and queue their final card and results; returns
    how many were closed. Safe to run again and on several replicas (per-poll outbox keys,
    conditional close)."""
    async with sessions() as session:
        due = [poll.id for poll in await polls.due_to_close(session, now=now) if poll.id]
    queued = 0
    for poll_id in due:
        # One transaction per poll: one failing does not hold back the others.
        async with transaction(sessions) as session:
            poll = await polls.close(session, poll_id=poll_id, by_person_id=None, now=now)
            queued += await queue_closing(session, poll)
    if queued:
        wake()
    if due:
        logger.info("closed %d poll(s), queued %d message(s)", len(due), queued)
    return len(due)
