"""Mentoring (jumelage) in the bot: commands, card actions and the outbox messages they queue.

No routing here: bot/features/mentoring.py declares the `mentor` / `devenir mentor` commands
and the `mentoring.*` card verbs (`ACTIONS`; the one-pager's and onboarding's
`mentoring.request` too), and the host sends them to these functions. Every action re-checks
its rule in storage/mentoring.py; card data only says which request or pairing is meant.
`expire_proposals` is the scheduler's job for proposals left unanswered.

Outbox kinds (rendered at send time from current data, None when no longer relevant):
mentoring_suggestions, mentoring_proposal, mentoring_agreement, mentoring_checkin,
mentoring_paired, mentoring_terms, mentoring_lapsed, mentoring_withdrawn.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeVar

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import MessageFactory, TurnContext
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels import channel_community
from bot.deliveries import RenderContext, Renderer
from bot.turns import FeatureTurn, VerbHandler, card_activity, param_int
from cards.common import Element
from cards.confirm import build_outcome_card, is_confirmed
from cards.i18n import format_day, plural, translator
from cards.mentoring import (
    VERB_ACCEPT,
    VERB_AGREEMENT,
    VERB_CHECKIN,
    VERB_CONFIRM,
    VERB_DECLINE,
    VERB_END,
    VERB_REQUEST,
    VERB_VOLUNTEER,
    VERB_WITHDRAW,
    WaitingProposal,
    build_agreement_card,
    build_checkin_card,
    build_community_choice_card,
    build_end_confirmation_card,
    build_pending_requests_card,
    build_proposal_card,
    build_request_card,
    build_suggestions_card,
    build_terms_card,
    build_withdraw_confirmation_card,
    person_name,
)
from dialogs.context import TurnInfo
from storage import communities, mentoring, outbox
from storage.communities import NotAllowed
from storage.db import SessionFactory, transaction
from storage.mentoring import (
    KIND_AGREEMENT,
    KIND_CHECKIN,
    KIND_LAPSED,
    KIND_PAIRED,
    KIND_PROPOSAL,
    KIND_SUGGESTIONS,
    KIND_TERMS,
    KIND_WITHDRAWN,
    AlreadyPaired,
    AlreadyProposed,
    ProposalLapsed,
    RequestClosed,
    agreement_key,
    checkin_key,
    declined_cause,
    ended_key,
    lapsed_cause,
    lapsed_key,
    paired_key,
    pairing_prefix,
    proposal_key,
    request_prefix,
    suggestions_key,
    terms_key,
    volunteer_cause,
    withdrawn_key,
)
from storage.models import (
    Community,
    MentorPairing,
    MentorRequestStatus,
    PairingStatus,
    Person,
    utcnow,
)

logger = logging.getLogger(__name__)

# `devenir mentor` without a number: one mentee at a time is the usual first commitment.
DEFAULT_CAPACITY = 1
RATING_RANGE = range(1, 6)
# At or below this, the person is reminded they can talk to the coordination.
LOW_RATING = 2
MAX_COMMENT_LENGTH = 1000

Wake = Callable[[], None]
_T = TypeVar("_T")


# -- outbox renderers ------------------------------------------------------------------------


async def _suggestions_card(
    session: AsyncSession,
    *,
    request_id: int,
    locale: str,
    declined_pairing_id: int | None = None,
    lapsed_pairing_id: int | None = None,
    days: int | None = None,
    volunteer_id: int | None = None,
) -> Element | None:
    """The current suggestions for an open request with no proposal waiting; else None.
    After a new volunteer, None too when nobody is available any more (nothing new to say)."""
    request = await mentoring.get_request(session, request_id=request_id)
    if request is None or request.status != MentorRequestStatus.OPEN:
        return None
    if await mentoring.pending_proposal(session, request_id=request_id) is not None:
        return None
    mentee = await session.get(Person, request.mentee_id)
    community = await session.get(Community, request.community_id)
    profile = await communities.membership(
        session, person_id=request.mentee_id, community_id=request.community_id
    )
    if mentee is None or community is None or profile is None or profile.left_at is not None:
        return None
    declined_by = await _mentor_of(session, declined_pairing_id, request_id)
    silent = await _mentor_of(session, lapsed_pairing_id, request_id)
    lapsed = None if silent is None or days is None else (silent, days)
    new_volunteer = None if volunteer_id is None else await session.get(Person, volunteer_id)
    found = await mentoring.suggestions(session, request_id=request_id)
    if volunteer_id is not None and not found:
        return None
    return build_suggestions_card(
        request,
        mentee=mentee,
        profile=profile,
        community=community,
        suggestions=found,
        declined_by=declined_by,
        lapsed=lapsed,
        new_volunteer=new_volunteer,
        locale=locale,
    )


async def _mentor_of(
    session: AsyncSession, pairing_id: int | None, request_id: int
) -> Person | None:
    """The mentor of a pairing on this request (who declined, or let the proposal lapse)."""
    if pairing_id is None:
        return None
    pairing = await mentoring.get_pairing(session, pairing_id=pairing_id)
    if pairing is None or pairing.request_id != request_id:
        return None
    return await session.get(Person, pairing.mentor_id)


async def render_suggestions(context: RenderContext) -> Activity | None:
    params = context.message.params
    request_id = param_int(params, "request_id")
    recipient = context.message.person_id
    if request_id is None or recipient is None:
        return None
    async with context.sessions() as session:
        request = await mentoring.get_request(session, request_id=request_id)
        # The recipient may have lost the role since the message was queued.
        if request is None or not await mentoring.may_supervise(
            session, person_id=recipient, community_id=request.community_id
        ):
            return None
        card = await _suggestions_card(
            session,
            request_id=request_id,
            locale=context.locale,
            declined_pairing_id=param_int(params, "declined_pairing_id"),
            lapsed_pairing_id=param_int(params, "lapsed_pairing_id"),
            days=param_int(params, "days"),
            volunteer_id=param_int(params, "volunteer_id"),
        )
    return None if card is None else card_activity(card)


async def _pairing(
    session: AsyncSession, params: dict[str, Any], status: PairingStatus
) -> tuple[MentorPairing, Person, Person, Community] | None:
    pairing_id = param_int(params, "pairing_id")
    pairing = (
        None if pairing_id is None else await mentoring.get_pairing(session, pairing_id=pairing_id)
    )
    if pairing is None or pairing.status != status:
        return None
    mentor = await session.get(Person, pairing.mentor_id)
    mentee = await session.get(Person, pairing.mentee_id)
    community = await session.get(Community, pairing.community_id)
    if mentor is None or mentee is None or community is None:
        return None
    return pairing, mentor, mentee, community


async def render_proposal(context: RenderContext) -> Activity | None:
    async with context.sessions() as session:
        found = await _pairing(session, context.message.params, PairingStatus.PROPOSED)
        if found is None:
            return None
        pairing, _mentor, mentee, community = found
        profile = await communities.membership(
            session, person_id=pairing.mentee_id, community_id=pairing.community_id
        )
    return card_activity(
        build_proposal_card(
            pairing, mentee=mentee, profile=profile, community=community, locale=context.locale
        )
    )


async def render_agreement(context: RenderContext) -> Activity | None:
    async with context.sessions() as session:
        found = await _pairing(session, context.message.params, PairingStatus.ACTIVE)
    if found is None:
        return None
    pairing, mentor, mentee, community = found
    return card_activity(
        build_agreement_card(
            pairing,
            mentor=mentor,
            mentee=mentee,
            community=community,
            locale=context.locale,
            tz=context.timezone,
            support=context.message.person_id == pairing.mentor_id,
        )
    )


async def render_checkin(context: RenderContext) -> Activity | None:
    params = context.message.params
    moment = params.get("moment")
    if moment not in (mentoring.CHECKIN_HALF, mentoring.CHECKIN_END):
        return None
    async with context.sessions() as session:
        found = await _pairing(session, params, PairingStatus.ACTIVE)
    if found is None:
        return None
    pairing, mentor, mentee, community = found
    # A check-in planned for an earlier duration was replaced when the terms changed.
    if param_int(params, "duration_weeks") != pairing.duration_weeks:
        return None
    recipient = context.message.person_id
    if recipient not in (pairing.mentor_id, pairing.mentee_id):
        return None
    other = mentee if recipient == pairing.mentor_id else mentor
    return card_activity(
        build_checkin_card(
            pairing, other=other, community=community, moment=str(moment), locale=context.locale
        )
    )


async def render_paired(context: RenderContext) -> Activity | None:
    async with context.sessions() as session:
        found = await _pairing(session, context.message.params, PairingStatus.ACTIVE)
    if found is None:
        return None
    _pairing_row, mentor, mentee, community = found
    t = translator(context.locale)
    return MessageFactory.text(
        t(
            "mentoring.paired.notice",
            mentor=person_name(mentor, locale=context.locale),
            mentee=person_name(mentee, locale=context.locale),
            community=community.name,
        )
    )


async def render_terms(context: RenderContext) -> Activity | None:
    params = context.message.params
    async with context.sessions() as session:
        found = await _pairing(session, params, PairingStatus.ACTIVE)
        by_id = param_int(params, "by_id")
        by = None if by_id is None else await session.get(Person, by_id)
    if found is None or by is None:
        return None
    pairing = found[0]
    return card_activity(
        build_terms_card(
            pairing,
            by=by,
            first_meeting=_date(params.get("first_meeting")),
            locale=context.locale,
            tz=context.timezone,
        )
    )


async def render_lapsed(context: RenderContext) -> Activity | None:
    """To the mentor whose proposal expired unanswered: a kind word, no action needed."""
    async with context.sessions() as session:
        found = await _pairing(session, context.message.params, PairingStatus.EXPIRED)
    if found is None:
        return None
    pairing, _mentor, mentee, community = found
    if context.message.person_id != pairing.mentor_id:
        return None
    return MessageFactory.text(
        translator(context.locale)(
            "mentoring.lapsed.notice",
            mentee=person_name(mentee, locale=context.locale),
            community=community.name,
            date=format_day(pairing.created_at, locale=context.locale, tz=context.timezone),
        )
    )


async def render_withdrawn(context: RenderContext) -> Activity | None:
    """A withdrawn request: to the mentor who had a proposal on it, or to the mentee when a
    coordinator or animator withdrew it."""
    params = context.message.params
    request_id = param_int(params, "request_id")
    recipient = context.message.person_id
    if request_id is None or recipient is None:
        return None
    async with context.sessions() as session:
        request = await mentoring.get_request(session, request_id=request_id)
        if request is None or request.status != MentorRequestStatus.CANCELLED:
            return None
        community = await session.get(Community, request.community_id)
        mentee = await session.get(Person, request.mentee_id)
        if recipient != request.mentee_id:
            ended = await _pairing(session, params, PairingStatus.ENDED)
            if ended is None or ended[0].request_id != request_id:
                return None
            if ended[0].mentor_id != recipient:
                return None
    if community is None:
        return None
    t = translator(context.locale)
    if recipient == request.mentee_id:
        return MessageFactory.text(t("mentoring.withdrawn.mentee_notice", community=community.name))
    return MessageFactory.text(
        t(
            "mentoring.withdrawn.mentor_notice",
            mentee=person_name(mentee, locale=context.locale),
            community=community.name,
        )
    )


MENTORING_RENDERERS: dict[str, Renderer] = {
    KIND_SUGGESTIONS: render_suggestions,
    KIND_PROPOSAL: render_proposal,
    KIND_AGREEMENT: render_agreement,
    KIND_CHECKIN: render_checkin,
    KIND_PAIRED: render_paired,
    KIND_TERMS: render_terms,
    KIND_LAPSED: render_lapsed,
    KIND_WITHDRAWN: render_withdrawn,
}


# -- what is queued (the kinds and keys: storage/mentoring.py) ----------------------------------


async def _queue_suggestions(
    session: AsyncSession,
    *,
    request_id: int,
    community_id: int,
    mentee_id: int,
    cause: str | None = None,
    **why: int,
) -> tuple[int, int]:
    """Suggestions to every coordinator and animator: (how many supervisors, how many queued).
    `why` goes to the renderer (declined_pairing_id, lapsed_pairing_id and days, volunteer_id)."""
    people = [
        p
        for p in await mentoring.supervisors(session, community_id=community_id)
        if p.id is not None and p.id != mentee_id
    ]
    params: dict[str, Any] = {"request_id": request_id, **why}
    queued = 0
    for person in people:
        assert person.id is not None
        queued += await outbox.enqueue(
            session,
            dedup_key=suggestions_key(request_id, person.id, cause=cause),
            recipient=outbox.Recipient.person(person.id),
            kind=KIND_SUGGESTIONS,
            params=params,
        )
    return len(people), queued


async def _queue_checkins(session: AsyncSession, pairing: MentorPairing, *, after: datetime) -> int:
    """Check-ins for both people of the pair, at half-term and at the end (those still ahead)."""
    assert pairing.id is not None
    queued = 0
    for moment, due in mentoring.checkin_moments(pairing):
        if due <= after:
            continue
        for person_id in (pairing.mentor_id, pairing.mentee_id):
            queued += await outbox.enqueue(
                session,
                dedup_key=checkin_key(pairing.id, moment, pairing.duration_weeks, person_id),
                recipient=outbox.Recipient.person(person_id),
                kind=KIND_CHECKIN,
                params={
                    "pairing_id": pairing.id,
                    "moment": moment,
                    "duration_weeks": pairing.duration_weeks,
                },
                not_before=due,
            )
    return queued


# -- the turn ----------------------------------------------------------------------------------


def _date(value: object) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _number(value: object) -> int | None:
    """Input.Number comes back as a string ("12" or "12.0") or a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


async def _pick_community(
    turn: FeatureTurn, community_id: int | None, *, verb: str, capacity: int | None = None
) -> Community | None:
    """The community meant: the one given, the channel's, the person's only one — or None
    after asking which (a card) or saying the person belongs to none."""
    async with turn.sessions() as session:
        if community_id is not None:
            given = await communities.get_community(session, community_id=community_id)
            if given is None:
                await turn.say("error.unknown_action")
            return given
        mine = [c for _, c in await communities.memberships_of(session, person_id=turn.person_id)]
    here = await channel_community(turn.sessions, turn.info, turn.context.activity)
    if here is not None and any(c.id == here.id for c in mine):
        return here
    if len(mine) == 1:
        return mine[0]
    if not mine:
        not_member = (
            "mentoring.volunteer.not_member"
            if verb == VERB_VOLUNTEER
            else "mentoring.request.not_member"
        )
        await turn.say(not_member)
        return None
    await turn.show(
        build_community_choice_card(mine, verb=verb, locale=turn.info.locale, capacity=capacity)
    )
    return None


async def on_mentor_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    info: TurnInfo,
    community_id: int | None,
    wake: Wake,
) -> None:
    """`mentor`, or the onboarding button: ask for a mentor; coordinators and animators get
    the suggestions privately."""
    turn = FeatureTurn(turn_context, sessions, info, wake, utcnow)
    if info.person_id is None:
        await turn.say("mentoring.request.not_member")
        return
    await _request(turn, community_id)


async def _request(turn: FeatureTurn, community_id: int | None) -> None:
    community = await _pick_community(turn, community_id, verb=VERB_REQUEST)
    if community is None or community.id is None:
        return
    try:
        async with transaction(turn.sessions) as session:
            request, created = await mentoring.request_mentor(
                session, community_id=community.id, mentee_id=turn.person_id
            )
            assert request.id is not None
            supervisors, queued = await _queue_suggestions(
                session,
                request_id=request.id,
                community_id=community.id,
                mentee_id=turn.person_id,
            )
    except AlreadyPaired:
        await turn.say("mentoring.request.already_paired", community=community.name)
        return
    except NotAllowed:
        await turn.say("mentoring.request.not_member")
        return
    if queued:
        turn.wake()
    status = "no_supervisor" if not supervisors else "sent" if created else "already_open"
    await turn.show(
        build_request_card(
            request,
            community=community,
            status=status,
            locale=turn.info.locale,
            tz=turn.info.timezone,
        )
    )


# Suggestions cards sent by one `demandes de mentorat`: enough to act, not a flood.
MAX_LISTED_REQUESTS = 10


async def on_requests_command(
    turn_context: TurnContext, *, sessions: SessionFactory, info: TurnInfo, wake: Wake
) -> None:
    """`demandes de mentorat` / `mentoring requests`: for a coordinator or animator who missed
    the proactive cards, the requests still open in the communities they supervise — those
    waiting for a mentor's answer in a list, the others on their suggestions card (the same
    buttons). In the personal chat only: the cards carry the mentees' profiles."""
    turn = FeatureTurn(turn_context, sessions, info, wake, utcnow)
    if info.in_channel:
        await turn.say("mentoring.requests.private_only")
        return
    if info.person_id is None:
        await turn.say("mentoring.requests.not_allowed")
        return
    cards: list[Element] = []
    listed = 0
    async with sessions() as session:
        supervised = await mentoring.supervised_communities(session, person_id=info.person_id)
        if not supervised:
            await turn.say("mentoring.requests.not_allowed")
            return
        for community in supervised:
            assert community.id is not None
            waiting: list[WaitingProposal] = []
            to_pair: list[Element] = []
            for request in await mentoring.open_requests(session, community_id=community.id):
                assert request.id is not None
                if request.mentee_id == info.person_id:
                    continue  # nobody pairs themself (the proactive cards skip them too)
                proposal = await mentoring.pending_proposal(session, request_id=request.id)
                if proposal is not None:
                    waiting.append(
                        WaitingProposal(
                            mentee=await session.get(Person, request.mentee_id),
                            mentor=await session.get(Person, proposal.mentor_id),
                            proposed_at=proposal.created_at,
                        )
                    )
                elif listed < MAX_LISTED_REQUESTS:
                    card = await _suggestions_card(
                        session, request_id=request.id, locale=info.locale
                    )
                    if card is not None:
                        to_pair.append(card)
                        listed += 1
            if waiting or to_pair:
                cards.append(
                    build_pending_requests_card(
                        community, waiting, locale=info.locale, tz=info.timezone
                    )
                )
                cards.extend(to_pair)
    if not cards:
        await turn.say("mentoring.requests.none")
        return
    for card in cards:
        await turn.show(card)


async def on_volunteer_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    info: TurnInfo,
    community_id: int | None,
    capacity: int | None,
    wake: Wake | None = None,
) -> None:
    """`devenir mentor [N]` / `mentor volunteer [N]`: N mentees at once; 0 withdraws;
    `capacity=None` (no number given) is DEFAULT_CAPACITY. Requests that waited for want of a
    mentor go back to the coordination with fresh suggestions."""
    turn = FeatureTurn(turn_context, sessions, info, wake or (lambda: None), utcnow)
    if info.person_id is None:
        await turn.say("mentoring.volunteer.not_member")
        return
    await _volunteer(turn, community_id, capacity)


async def _volunteer(turn: FeatureTurn, community_id: int | None, capacity: int | None) -> None:
    capacity = DEFAULT_CAPACITY if capacity is None else capacity
    if not 0 <= capacity <= mentoring.MAX_CAPACITY:
        await turn.say("mentoring.volunteer.invalid", max=mentoring.MAX_CAPACITY)
        return
    community = await _pick_community(turn, community_id, verb=VERB_VOLUNTEER, capacity=capacity)
    if community is None or community.id is None:
        return
    try:
        async with transaction(turn.sessions) as session:
            waiting = await mentoring.unserved_requests(session, community_id=community.id)
            await mentoring.volunteer(
                session, person_id=turn.person_id, community_id=community.id, capacity=capacity
            )
            queued = await _queue_for_new_volunteer(
                session, waiting, community_id=community.id, volunteer_id=turn.person_id
            )
    except NotAllowed:
        await turn.say("mentoring.volunteer.not_member")
        return
    if queued:
        turn.wake()
    if capacity:
        thanks = plural(
            turn.info.locale, "mentoring.volunteer.saved", capacity, community=community.name
        )
        await turn.context.send_activity(thanks)
    else:
        await turn.say("mentoring.volunteer.withdrawn", community=community.name)


async def _queue_for_new_volunteer(
    session: AsyncSession, waiting: list[int], *, community_id: int, volunteer_id: int
) -> int:
    """Requests that had no eligible mentor before this volunteer and have one now: their
    suggestions again, once per request and volunteer (the key says who brought them back)."""
    queued = 0
    for request_id in waiting:
        request = await mentoring.get_request(session, request_id=request_id)
        if request is None or not await mentoring.suggestions(session, request_id=request_id):
            continue
        _supervisors, count = await _queue_suggestions(
            session,
            request_id=request_id,
            community_id=community_id,
            mentee_id=request.mentee_id,
            cause=volunteer_cause(volunteer_id),
            volunteer_id=volunteer_id,
        )
        queued += count
    return queued


# -- the scheduler's job -----------------------------------------------------------------------


async def expire_proposals(
    *, sessions: SessionFactory, now: datetime, days: int, wake: Wake
) -> int:
    """Proposals left unanswered `days` days: expired, the mentor told kindly, the request back
    to the coordination and animation with fresh suggestions (or a plain word that none is left).
    Each proposal expires in one transaction that only one run can win (a conditional update),
    and every message has its key: running twice, or on two replicas, sends nothing twice.
    Returns how many messages were queued."""
    proposed_before = now - timedelta(days=days)
    async with sessions() as session:
        overdue = await mentoring.overdue_proposals(session, proposed_before=proposed_before)
    queued = 0
    for pairing_id in overdue:
        async with transaction(sessions) as session:
            pairing = await mentoring.expire_proposal(
                session, pairing_id=pairing_id, proposed_before=proposed_before, now=now
            )
            if pairing is None:
                continue
            # A proposal card still waiting in the outbox would ask for an answer nobody needs.
            await outbox.cancel_pending(session, dedup_key_prefix=pairing_prefix(pairing_id))
            queued += await outbox.enqueue(
                session,
                dedup_key=lapsed_key(pairing_id, pairing.mentor_id),
                recipient=outbox.Recipient.person(pairing.mentor_id),
                kind=KIND_LAPSED,
                params={"pairing_id": pairing_id},
            )
            _supervisors, count = await _queue_suggestions(
                session,
                request_id=pairing.request_id,
                community_id=pairing.community_id,
                mentee_id=pairing.mentee_id,
                cause=lapsed_cause(pairing_id),
                lapsed_pairing_id=pairing_id,
                days=days,
            )
            queued += count
    if overdue:
        logger.info("mentoring: %d overdue proposal(s) looked at", len(overdue))
    if queued:
        wake()
    return queued


# -- card actions ------------------------------------------------------------------------------


async def _confirm(turn: FeatureTurn, value: dict[str, Any]) -> None:
    request_id, mentor_id = param_int(value, "request_id"), param_int(value, "mentor_id")
    if request_id is None or mentor_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with transaction(turn.sessions) as session:
            pairing = await mentoring.confirm(
                session,
                request_id=request_id,
                mentor_id=mentor_id,
                confirmed_by_id=turn.person_id,
                now=turn.clock(),
            )
            assert pairing.id is not None
            queued = await outbox.enqueue(
                session,
                dedup_key=proposal_key(pairing.id),
                recipient=outbox.Recipient.person(mentor_id),
                kind=KIND_PROPOSAL,
                params={"pairing_id": pairing.id},
            )
            mentor = await session.get(Person, mentor_id)
    except AlreadyProposed as waiting:
        async with turn.sessions() as session:
            other = await session.get(Person, waiting.mentor_id)
        await turn.say(
            "mentoring.confirm.already_proposed",
            mentor=person_name(other, locale=turn.info.locale),
        )
        return
    except RequestClosed:
        await turn.say("mentoring.request_closed")
        return
    except NotAllowed:
        await _explain_refused_confirm(turn, request_id)
        return
    name = person_name(mentor, locale=turn.info.locale)
    if not queued:
        # The proposal was already made (a double click, or another coordinator at the same
        # moment): its message was queued then, not now.
        await turn.say("mentoring.confirm.already_proposed", mentor=name)
        return
    turn.wake()
    await turn.say("mentoring.confirm.sent", mentor=name)


async def _explain_refused_confirm(turn: FeatureTurn, request_id: int) -> None:
    """Not a supervisor → say so; a mentor no longer eligible → the suggestions as they are now."""
    async with turn.sessions() as session:
        request = await mentoring.get_request(session, request_id=request_id)
        allowed = request is not None and await mentoring.may_supervise(
            session, person_id=turn.person_id, community_id=request.community_id
        )
        card = (
            await _suggestions_card(session, request_id=request_id, locale=turn.info.locale)
            if allowed
            else None
        )
    if not allowed:
        await turn.say("mentoring.confirm.not_allowed")
        return
    await turn.say("mentoring.confirm.unavailable")
    if card is not None:
        await turn.show(card)


async def _answer_proposal(
    turn: FeatureTurn,
    value: dict[str, Any],
    *,
    accept: bool,
    follow_up: Callable[[AsyncSession, MentorPairing], Awaitable[_T]],
) -> _T | None:
    """The proposed mentor's answer and what it queues, in one transaction. Returns what
    `follow_up` returned, or None once the person has been told why nothing changed."""
    pairing_id = param_int(value, "pairing_id")
    if pairing_id is None:
        await turn.say("error.unknown_action")
        return None
    try:
        async with transaction(turn.sessions) as session:
            pairing = await mentoring.answer(
                session,
                pairing_id=pairing_id,
                mentor_id=turn.person_id,
                accept=accept,
                now=turn.clock(),
            )
            return await follow_up(session, pairing)
    # Only an acceptance can find the request closed or the mentee already paired.
    except (RequestClosed, AlreadyPaired):
        await turn.say("mentoring.request_closed")
    except ProposalLapsed:
        await turn.say("mentoring.proposal.lapsed")
    except NotAllowed:
        await turn.say("mentoring.proposal.not_yours")
    return None


async def _accept(turn: FeatureTurn, value: dict[str, Any]) -> None:
    async def agree(session: AsyncSession, pairing: MentorPairing) -> tuple[str, bool]:
        """Both are sent the agreement card, the check-ins are planned, the supervisor told;
        returns the mentee's name, and False when all that was done by an earlier click."""
        assert pairing.id is not None
        queued = False
        for person_id in (pairing.mentor_id, pairing.mentee_id):
            queued |= await outbox.enqueue(
                session,
                dedup_key=agreement_key(pairing.id, person_id),
                recipient=outbox.Recipient.person(person_id),
                kind=KIND_AGREEMENT,
                params={"pairing_id": pairing.id},
            )
        assert pairing.accepted_at is not None
        # Planned from the acceptance (not from now): a repeated click plans nothing new.
        await _queue_checkins(session, pairing, after=pairing.accepted_at)
        if pairing.confirmed_by_id is not None:
            await outbox.enqueue(
                session,
                dedup_key=paired_key(pairing.id, pairing.confirmed_by_id),
                recipient=outbox.Recipient.person(pairing.confirmed_by_id),
                kind=KIND_PAIRED,
                params={"pairing_id": pairing.id},
            )
        mentee = await session.get(Person, pairing.mentee_id)
        return person_name(mentee, locale=turn.info.locale), queued

    agreed = await _answer_proposal(turn, value, accept=True, follow_up=agree)
    if agreed is None:
        return
    mentee, queued = agreed
    if not queued:
        await turn.say("mentoring.proposal.already_accepted", mentee=mentee)
        return
    turn.wake()
    await turn.say("mentoring.proposal.accepted", mentee=mentee)


async def _decline(turn: FeatureTurn, value: dict[str, Any]) -> None:
    async def suggest_again(session: AsyncSession, pairing: MentorPairing) -> int:
        """The supervisors get fresh suggestions; returns how many messages were queued."""
        assert pairing.id is not None
        _supervisors, queued = await _queue_suggestions(
            session,
            request_id=pairing.request_id,
            community_id=pairing.community_id,
            mentee_id=pairing.mentee_id,
            cause=declined_cause(pairing.id),
            declined_pairing_id=pairing.id,
        )
        return queued

    queued = await _answer_proposal(turn, value, accept=False, follow_up=suggest_again)
    if queued is None:
        return
    if queued:
        turn.wake()
    await turn.say("mentoring.proposal.declined")


async def _agreement(turn: FeatureTurn, value: dict[str, Any]) -> None:
    pairing_id = param_int(value, "pairing_id")
    if pairing_id is None:
        await turn.say("error.unknown_action")
        return
    goals, frequency = value.get("goals"), value.get("frequency")
    duration = _number(value.get("duration_weeks"))
    raw_date = value.get("first_meeting")
    first_meeting = _date(raw_date)
    if (
        not isinstance(goals, str)
        or not isinstance(frequency, str)
        or duration is None
        or (raw_date and first_meeting is None)
    ):
        await turn.say("mentoring.agreement.invalid", max=mentoring.MAX_DURATION_WEEKS)
        return
    activity_id = turn.context.activity.id or uuid.uuid4().hex
    try:
        async with transaction(turn.sessions) as session:
            pairing = await mentoring.set_agreement(
                session,
                pairing_id=pairing_id,
                person_id=turn.person_id,
                goals=goals,
                frequency=frequency,
                duration_weeks=duration,
            )
            if first_meeting is not None:
                pairing.first_meeting_on = first_meeting
            await _queue_checkins(session, pairing, after=turn.clock())
            other_id = (
                pairing.mentee_id if turn.person_id == pairing.mentor_id else pairing.mentor_id
            )
            # One message per submission (Teams re-deliveries are dropped before this turn).
            await outbox.enqueue(
                session,
                dedup_key=terms_key(pairing_id, str(activity_id), other_id),
                recipient=outbox.Recipient.person(other_id),
                kind=KIND_TERMS,
                params={
                    "pairing_id": pairing_id,
                    "by_id": turn.person_id,
                    "first_meeting": first_meeting.isoformat() if first_meeting else None,
                },
            )
            other = await session.get(Person, other_id)
    except ValueError:
        await turn.say("mentoring.agreement.invalid", max=mentoring.MAX_DURATION_WEEKS)
        return
    except NotAllowed:
        await turn.say("mentoring.pairing.not_active")
        return
    turn.wake()
    await turn.say("mentoring.agreement.saved", name=person_name(other, locale=turn.info.locale))


async def _checkin(turn: FeatureTurn, value: dict[str, Any]) -> None:
    pairing_id = param_int(value, "pairing_id")
    rating = _number(value.get("rating"))
    comment = value.get("comment") or ""
    if pairing_id is None or value.get("moment") not in (
        mentoring.CHECKIN_HALF,
        mentoring.CHECKIN_END,
    ):
        await turn.say("error.unknown_action")
        return
    if rating is None or rating not in RATING_RANGE or not isinstance(comment, str):
        await turn.say("mentoring.checkin.invalid")
        return
    try:
        async with transaction(turn.sessions) as session:
            await mentoring.record_checkin(
                session,
                pairing_id=pairing_id,
                person_id=turn.person_id,
                moment=str(value["moment"]),
                rating=rating,
                comment=comment,
                now=turn.clock(),
            )
            pairing = await mentoring.get_pairing(session, pairing_id=pairing_id)
            community = (
                None if pairing is None else await session.get(Community, pairing.community_id)
            )
    except NotAllowed:
        await turn.say("mentoring.pairing.not_active")
        return
    if community is None:
        await turn.say("mentoring.pairing.not_active")
        return
    await turn.say("mentoring.checkin.thanks")
    if rating <= LOW_RATING:
        await turn.say("mentoring.checkin.low", community=community.name)


async def _end(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Terminer le jumelage »: the first click asks (who will be told, that the check-ins
    stop); the confirmation's button ends it, once."""
    pairing_id = param_int(value, "pairing_id")
    if pairing_id is None:
        await turn.say("error.unknown_action")
        return
    if not is_confirmed(value):
        await _ask_to_end(turn, pairing_id)
        return
    try:
        async with transaction(turn.sessions) as session:
            before = await mentoring.get_pairing(session, pairing_id=pairing_id)
            already = before is not None and before.status == PairingStatus.ENDED
            pairing = await mentoring.end(
                session, pairing_id=pairing_id, person_id=turn.person_id, now=turn.clock()
            )
            if not already:
                await _after_end(session, pairing, by_id=turn.person_id)
    except NotAllowed:
        await turn.say("mentoring.pairing.not_active")
        return
    if not already:
        turn.wake()
    key = "mentoring.end.already" if already else "mentoring.end.done"
    await turn.replace_clicked(build_outcome_card(turn.t(key)))


async def _after_end(session: AsyncSession, pairing: MentorPairing, *, by_id: int) -> None:
    """Check-ins and agreement cards still queued no longer make sense; the other person of
    the pair is told."""
    assert pairing.id is not None
    await outbox.cancel_pending(session, dedup_key_prefix=pairing_prefix(pairing.id))
    community = await session.get(Community, pairing.community_id)
    for person_id in (pairing.mentor_id, pairing.mentee_id):
        if person_id == by_id:
            continue
        await outbox.enqueue(
            session,
            dedup_key=ended_key(pairing.id, person_id),
            recipient=outbox.Recipient.person(person_id),
            kind=outbox.KIND_NOTICE,
            params={
                "text": "mentoring.end.notice",
                "values": {"community": community.name if community else ""},
            },
        )


async def _ask_to_end(turn: FeatureTurn, pairing_id: int) -> None:
    async with turn.sessions() as session:
        pairing = await mentoring.get_pairing(session, pairing_id=pairing_id)
        allowed = pairing is not None and (
            turn.person_id in (pairing.mentor_id, pairing.mentee_id)
            or await mentoring.may_supervise(
                session, person_id=turn.person_id, community_id=pairing.community_id
            )
        )
        if pairing is None or not allowed or pairing.status not in mentoring.LOAD_STATUSES:
            await turn.say("mentoring.pairing.not_active")
            return
        mentor = await session.get(Person, pairing.mentor_id)
        mentee = await session.get(Person, pairing.mentee_id)
        community = await session.get(Community, pairing.community_id)
    told = [p for p in (mentor, mentee) if p is not None and p.id != turn.person_id]
    await turn.show(
        build_end_confirmation_card(
            pairing,
            mentor=mentor,
            mentee=mentee,
            community=community,
            told=told,
            locale=turn.info.locale,
        )
    )


async def _withdraw(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The mentee (or a coordinator or animator) withdraws a waiting request: the first click
    asks on the confirmation card, its button withdraws. Who may is decided in storage from the
    request itself; the card only names it."""
    request_id = param_int(value, "request_id")
    if request_id is None:
        await turn.say("error.unknown_action")
        return
    if not is_confirmed(value):
        await _ask_to_withdraw(turn, request_id)
        return
    told = 0
    try:
        async with transaction(turn.sessions) as session:
            outcome = await mentoring.withdraw_request(
                session, request_id=request_id, person_id=turn.person_id, now=turn.clock()
            )
            request = outcome.request
            community = await session.get(Community, request.community_id)
            mentee = await session.get(Person, request.mentee_id)
            if outcome.changed:
                told = await _after_withdrawal(session, outcome, by_id=turn.person_id)
    except RequestClosed:
        await turn.say("mentoring.request_closed")
        return
    except NotAllowed:
        await turn.say("mentoring.withdraw.not_allowed")
        return
    if told:
        turn.wake()
    t = turn.t
    name = community.name if community else ""
    if not outcome.changed:
        text = t("mentoring.withdraw.already")
    elif turn.person_id == request.mentee_id:
        text = t("mentoring.withdraw.done", community=name)
    else:
        text = t(
            "mentoring.withdraw.done_for",
            name=person_name(mentee, locale=turn.info.locale),
            community=name,
        )
    await turn.replace_clicked(build_outcome_card(text))


async def _ask_to_withdraw(turn: FeatureTurn, request_id: int) -> None:
    """The confirmation card: whose request, and who will be told."""
    async with turn.sessions() as session:
        request = await mentoring.get_request(session, request_id=request_id)
        # No such request and someone else's get the same answer: an id tells nothing.
        if request is None or (
            turn.person_id != request.mentee_id
            and not await mentoring.may_supervise(
                session, person_id=turn.person_id, community_id=request.community_id
            )
        ):
            await turn.say("mentoring.withdraw.not_allowed")
            return
        if request.status == MentorRequestStatus.CANCELLED:
            await turn.say("mentoring.withdraw.already")
            return
        if request.status != MentorRequestStatus.OPEN:
            await turn.say("mentoring.request_closed")
            return
        community = await session.get(Community, request.community_id)
        mentee = await session.get(Person, request.mentee_id)
        waiting = await mentoring.pending_proposal(session, request_id=request_id)
        mentor = None if waiting is None else await session.get(Person, waiting.mentor_id)
    if community is None:
        await turn.say("error.unknown_action")
        return
    await turn.show(
        build_withdraw_confirmation_card(
            request,
            community=community,
            mentee=mentee,
            mentor=mentor,
            by_mentee=turn.person_id == request.mentee_id,
            locale=turn.info.locale,
        )
    )


async def _after_withdrawal(
    session: AsyncSession, outcome: mentoring.Withdrawal, *, by_id: int
) -> int:
    """Suggestions and a proposal still waiting in the outbox are no longer relevant; the
    people concerned are told. Returns how many messages were queued."""
    assert outcome.request.id is not None
    await outbox.cancel_pending(session, dedup_key_prefix=request_prefix(outcome.request.id))
    return await _queue_withdrawn(session, outcome, by_id=by_id)


async def withdraw_on_leaving(
    session: AsyncSession, *, community_id: int, mentee_id: int, now: datetime
) -> int:
    """The mentee left the community: their open request there is withdrawn as if they had
    withdrawn it (the proposal waiting on it ends, its mentor is told). Returns how many
    messages were queued."""
    request = await mentoring.open_request(session, community_id=community_id, mentee_id=mentee_id)
    if request is None or request.id is None:
        return 0
    outcome = await mentoring.withdraw_request(
        session, request_id=request.id, person_id=mentee_id, now=now
    )
    if not outcome.changed:
        return 0
    return await _after_withdrawal(session, outcome, by_id=mentee_id)


async def _queue_withdrawn(
    session: AsyncSession, outcome: mentoring.Withdrawal, *, by_id: int
) -> int:
    """The mentor who had a proposal on the request; the mentee when someone else withdrew."""
    request = outcome.request
    assert request.id is not None
    queued = 0
    ended = outcome.ended_proposal
    if ended is not None and ended.id is not None:
        await outbox.cancel_pending(session, dedup_key_prefix=pairing_prefix(ended.id))
        queued += await outbox.enqueue(
            session,
            dedup_key=withdrawn_key(request.id, ended.mentor_id),
            recipient=outbox.Recipient.person(ended.mentor_id),
            kind=KIND_WITHDRAWN,
            params={"request_id": request.id, "pairing_id": ended.id},
        )
    if by_id != request.mentee_id:
        queued += await outbox.enqueue(
            session,
            dedup_key=withdrawn_key(request.id, request.mentee_id),
            recipient=outbox.Recipient.person(request.mentee_id),
            kind=KIND_WITHDRAWN,
            params={"request_id": request.id},
        )
    return queued


async def _request_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The community choice card's buttons, and the one-pager's and onboarding's « find a
    mentor » (no community named: the `mentor` command's choice)."""
    await _request(turn, param_int(value, "community_id"))


async def _volunteer_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    if community_id is None:
        await turn.say("error.unknown_action")
        return
    await _volunteer(turn, community_id, param_int(value, "capacity"))


# The mentoring cards' buttons (`mentoring.*`), as bot/features/mentoring.py declares them.
ACTIONS: Mapping[str, VerbHandler] = MappingProxyType(
    {
        VERB_CONFIRM: _confirm,
        VERB_ACCEPT: _accept,
        VERB_DECLINE: _decline,
        VERB_AGREEMENT: _agreement,
        VERB_CHECKIN: _checkin,
        VERB_END: _end,
        VERB_REQUEST: _request_verb,
        VERB_VOLUNTEER: _volunteer_verb,
        VERB_WITHDRAW: _withdraw,
    }
)
