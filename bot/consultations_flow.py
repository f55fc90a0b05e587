"""Professional consultations in the bot: commands, card actions, outbox renderers and the two
scheduled jobs (escalation of unassigned requests, erasure of old content).

No routing here: bot/features/consultations.py declares the commands and `ACTIONS` (the
`consultations.*` card verbs), and the host's registry routes them to these functions. Every
action re-checks its rule in storage/consultations.py; card data only says which request is
meant.

Confidentiality: a request's content is read only through `consultations.read_request`
(which checks the reader and records the read) and only in a personal chat — commands and
buttons that would show a request answer in a channel with a pointer to the 1:1 chat. Logs
carry ids and references, never content.

Outbox kinds (storage.consultations.KIND_*), each re-checked at send time:
consultation_new, consultation_reminder, consultation_assigned (cards with content, to
coordinators or the assignee), consultation_assigned_notice, consultation_taken,
consultation_returned, consultation_withdrawn (texts without content),
consultation_waiting (to animators: reference, age and counts only),
consultation_feedback (the usefulness question, to the requester).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Protocol

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import MessageFactory
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.deliveries import RecordedRenderer, RenderContext, Renderer
from bot.personal import begin_dialog_privately
from bot.turns import FeatureTurn, VerbHandler, card_activity, param_int
from cards.confirm import build_outcome_card, is_confirmed
from cards.consultations import (
    ASSIGNEE_INPUT,
    COMMENT_INPUT,
    CONTEXT_ASSIGNED,
    CONTEXT_DETAILS,
    CONTEXT_NEW,
    CONTEXT_REMINDER,
    CONTEXT_RETURNED,
    NO_CLIENT_INPUT,
    RATING_INPUT,
    REASON_INPUT,
    VERB_ASSIGN,
    VERB_ASSIGNED,
    VERB_AUDIT,
    VERB_CLOSE,
    VERB_DECLINE,
    VERB_FEEDBACK,
    VERB_MINE,
    VERB_REQUEST,
    VERB_SHOW,
    VERB_START,
    VERB_TAKE,
    VERB_VOLUNTEER,
    VERB_WITHDRAW,
    build_assigned_requests_card,
    build_audit_card,
    build_community_choice_card,
    build_feedback_card,
    build_my_requests_card,
    build_request_card,
    build_withdraw_confirmation_card,
    identifier_kinds_text,
    motive_label,
    name_or_someone,
)
from cards.i18n import plural, translator
from dialogs.base import simplify
from dialogs.consultation_dialog import MOTIVE_WORDS, ConsultationDialog, ConsultationOptions
from storage import communities, consultations
from storage.communities import NotAllowed, has_role
from storage.consultations import (
    KIND_ASSIGNED,
    KIND_ASSIGNED_NOTICE,
    KIND_FEEDBACK,
    KIND_NEW,
    KIND_REMINDER,
    KIND_RETURNED,
    KIND_TAKEN,
    KIND_WAITING,
    KIND_WITHDRAWN,
    LOAD_STATUSES,
    MOTIVES,
    NoSuchRequest,
    Outcome,
    Viewer,
    WrongStatus,
)
from storage.db import SessionFactory, transaction
from storage.identifiers import CONFIRMABLE, HasIdentifiers, confirmable
from storage.models import Community, ConsultationRequest, ConsultationStatus, Person, Role
from storage.outbox import Claimed

logger = logging.getLogger(__name__)

Wake = Callable[[], None]

DEFAULT_TIMEZONE = "America/Montreal"
# Defaults of the settings the scheduler passes (see the report for bot/settings.py).
DEFAULT_REMINDER_WORKING_DAYS = 2
DEFAULT_ESCALATION_WORKING_DAYS = 5
DEFAULT_RETENTION_DAYS = 365
# How a reference is recognised in a command (« journal C-2026-0042 »).
REFERENCE_PATTERN = re.compile(r"\bc-\d{4}-\d{3,}\b", re.IGNORECASE)
# `consultant tout` / `consultant all`: every motive; `consultant retirer`: none any more.
ALL_WORDS = frozenset({"tout", "tous", "toutes", "all", "everything"})
WITHDRAW_WORDS = frozenset(
    {"retirer", "retrait", "arreter", "stop", "aucun", "aucune", "non", "none", "withdraw", "no"}
)
# Words the handler may leave in front of the motives (`consultant volunteer …`).
FILLER_WORDS = frozenset({"volunteer", "benevole", "devenir", "become", "pour", "for", "en"})


# -- outbox renderers ------------------------------------------------------------------------


async def _request_for(context: RenderContext) -> tuple[ConsultationRequest, int] | None:
    request_id = param_int(context.message.params, "request_id")
    recipient = context.message.person_id
    if request_id is None or recipient is None:
        return None
    async with context.sessions() as session:
        request = await consultations.get_request(session, request_id=request_id)
    return None if request is None else (request, recipient)


async def _content_card(
    context: RenderContext,
    *,
    part: Viewer,
    statuses: Sequence[ConsultationStatus],
    card_context: str,
) -> Activity | None:
    """The request with its content, if the recipient still has `part` in it (and is not its
    requester) and it is still in one of `statuses`. The read is recorded once the card is
    delivered (`_card_delivered`), not here: a card Teams refuses was never read."""
    found = await _request_for(context)
    if found is None:
        return None
    request, recipient = found
    async with context.sessions() as session:
        fresh = await consultations.get_request(session, request_id=request.id or 0)
        if fresh is None or fresh.status not in statuses:
            return None
        roles = await consultations.viewer_roles(session, fresh, recipient)
        # The recipient may have lost the role, or the request another assignee, since then.
        if part not in roles or Viewer.REQUESTER in roles:
            return None
        content = await consultations.content_to_send(
            session, request_id=fresh.id or 0, viewer_id=recipient
        )
        if content is None:
            return None
        ranked = (
            await consultations.colleagues(session, request=fresh, viewer_id=recipient)
            if part == Viewer.COORDINATOR
            else []
        )
    working_days = param_int(context.message.params, "working_days")
    return card_activity(
        build_request_card(
            content,
            locale=context.locale,
            tz=context.timezone,
            context=card_context,
            candidates=ranked,
            working_days=working_days,
        )
    )


async def render_new(context: RenderContext) -> Activity | None:
    returned = bool(context.message.params.get("returned"))
    return await _content_card(
        context,
        part=Viewer.COORDINATOR,
        statuses=[ConsultationStatus.SUBMITTED],
        card_context=CONTEXT_RETURNED if returned else CONTEXT_NEW,
    )


async def render_reminder(context: RenderContext) -> Activity | None:
    return await _content_card(
        context,
        part=Viewer.COORDINATOR,
        statuses=[ConsultationStatus.SUBMITTED],
        card_context=CONTEXT_REMINDER,
    )


async def render_assigned(context: RenderContext) -> Activity | None:
    return await _content_card(
        context, part=Viewer.ASSIGNEE, statuses=LOAD_STATUSES, card_context=CONTEXT_ASSIGNED
    )


async def _names(
    session: AsyncSession, request: ConsultationRequest
) -> tuple[Community | None, Person | None]:
    community = await session.get(Community, request.community_id)
    assignee = (
        None if request.assignee_id is None else await session.get(Person, request.assignee_id)
    )
    return community, assignee


async def render_taken(context: RenderContext) -> Activity | None:
    """To the requester: who took the request (as it is now)."""
    found = await _request_for(context)
    if found is None:
        return None
    request, recipient = found
    if recipient != request.requester_id or request.status not in LOAD_STATUSES:
        return None
    async with context.sessions() as session:
        community, assignee = await _names(session, request)
    t = translator(context.locale)
    return MessageFactory.text(
        t(
            "consultation.taken.notice",
            reference=request.reference,
            name=name_or_someone(assignee.name if assignee else None, locale=context.locale),
            community=community.name if community else "",
        )
    )


async def render_assigned_notice(context: RenderContext) -> Activity | None:
    """To the other coordinators: who has the request now (no content)."""
    found = await _request_for(context)
    if found is None:
        return None
    request, recipient = found
    if request.status not in LOAD_STATUSES:
        return None
    async with context.sessions() as session:
        if not await consultations.is_coordinator(
            session, person_id=recipient, community_id=request.community_id
        ):
            return None
        _community, assignee = await _names(session, request)
    return MessageFactory.text(
        translator(context.locale)(
            "consultation.assigned_notice",
            reference=request.reference,
            name=name_or_someone(assignee.name if assignee else None, locale=context.locale),
        )
    )


async def render_returned(context: RenderContext) -> Activity | None:
    found = await _request_for(context)
    if found is None:
        return None
    request, recipient = found
    if recipient != request.requester_id or request.status != ConsultationStatus.SUBMITTED:
        return None
    return MessageFactory.text(
        translator(context.locale)("consultation.returned.notice", reference=request.reference)
    )


async def render_withdrawn(context: RenderContext) -> Activity | None:
    found = await _request_for(context)
    if found is None:
        return None
    request, recipient = found
    if (
        request.status != ConsultationStatus.WITHDRAWN
        or param_int(context.message.params, "assignee_id") != recipient
    ):
        return None
    return MessageFactory.text(
        translator(context.locale)("consultation.withdrawn.notice", reference=request.reference)
    )


async def render_waiting(context: RenderContext) -> Activity | None:
    """To the animators: a request waits. Its reference, its age and the community's counts:
    animators may not read requests."""
    found = await _request_for(context)
    if found is None:
        return None
    request, recipient = found
    if request.status != ConsultationStatus.SUBMITTED:
        return None
    async with context.sessions() as session:
        member = await communities.membership(
            session, person_id=recipient, community_id=request.community_id
        )
        if not has_role(member, Role.ANIMATOR):
            return None
        community = await session.get(Community, request.community_id)
        counts = await consultations.counts_for_community(session, request.community_id)
    days = param_int(context.message.params, "working_days") or 0
    t = translator(context.locale)
    return MessageFactory.text(
        t(
            "consultation.waiting.notice",
            reference=request.reference,
            community=community.name if community else "",
            days=plural(context.locale, "consultation.working_days", days),
            waiting=plural(context.locale, "consultation.waiting.count", counts.submitted),
        )
    )


async def render_feedback(context: RenderContext) -> Activity | None:
    found = await _request_for(context)
    if found is None:
        return None
    request, recipient = found
    if (
        recipient != request.requester_id
        or request.status != ConsultationStatus.CLOSED
        or request.usefulness_rating is not None
        or request.summary_erased_at is not None
    ):
        return None
    async with context.sessions() as session:
        line = await consultations.line_of(session, request=request)
    return card_activity(build_feedback_card(line, locale=context.locale))


async def _card_delivered(message: Claimed, sessions: SessionFactory, now: datetime) -> None:
    """Teams accepted a card showing the request's content: the recipient read it."""
    request_id = param_int(message.params, "request_id")
    if request_id is None or message.person_id is None:
        return
    async with transaction(sessions) as session:
        await consultations.record_delivered_read(
            session, request_id=request_id, viewer_id=message.person_id, purpose="card", now=now
        )


CONSULTATION_RENDERERS: dict[str, Renderer] = {
    KIND_NEW: RecordedRenderer(render_new, _card_delivered),
    KIND_REMINDER: RecordedRenderer(render_reminder, _card_delivered),
    KIND_ASSIGNED: RecordedRenderer(render_assigned, _card_delivered),
    KIND_ASSIGNED_NOTICE: render_assigned_notice,
    KIND_TAKEN: render_taken,
    KIND_RETURNED: render_returned,
    KIND_WITHDRAWN: render_withdrawn,
    KIND_WAITING: render_waiting,
    KIND_FEEDBACK: render_feedback,
}


# -- scheduled jobs ------------------------------------------------------------------------------


async def escalate(
    *,
    sessions: SessionFactory,
    now: datetime,
    reminder_after_working_days: int = DEFAULT_REMINDER_WORKING_DAYS,
    escalate_after_working_days: int = DEFAULT_ESCALATION_WORKING_DAYS,
    timezone: str = DEFAULT_TIMEZONE,
    extra_non_working_days: Sequence[date] = (),
    wake: Wake,
) -> int:
    """Unassigned requests: remind the coordinators after N working days, tell the animators
    after M (Monday to Friday in `timezone`, without Quebec's statutory holidays nor
    `extra_non_working_days`). Idempotent; returns how many messages were queued."""
    async with transaction(sessions) as session:
        queued = await consultations.queue_escalations(
            session,
            now=now,
            reminder_after=reminder_after_working_days,
            escalate_after=escalate_after_working_days,
            timezone=timezone,
            extra_non_working_days=extra_non_working_days,
        )
    if queued:
        logger.info("consultations: %d reminder(s) or escalation(s) queued", queued)
        wake()
    return queued


async def purge_summaries(
    *, sessions: SessionFactory, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS
) -> int:
    """Erase the content of requests closed or withdrawn more than `retention_days` ago;
    returns how many requests were erased. Counts stay."""
    async with transaction(sessions) as session:
        return await consultations.erase_old_content(
            session, now=now, retention=timedelta(days=retention_days)
        )


# -- commands ------------------------------------------------------------------------------------


async def _private(turn: FeatureTurn) -> bool:
    """Requests are shown in the personal chat only: in a channel, say where to look."""
    if turn.info.in_channel:
        await turn.say("consultation.private_only")
        return False
    if turn.info.person_id is None:
        await turn.say("consultation.request.not_member")
        return False
    return True


async def _pick_community(
    turn: FeatureTurn,
    candidates: list[Community],
    community_id: int | None,
    *,
    none_key: str,
    verb: str,
    intro_key: str,
    expertise: Sequence[str] | None = None,
) -> Community | None:
    """The community meant among `candidates`: the one named, else the only one. None once
    the person has been answered: `none_key` when there is none, a choice card (its buttons
    send `verb` back) when there are several."""
    if community_id is not None:
        candidates = [c for c in candidates if c.id == community_id]
    if not candidates:
        await turn.say(none_key)
        return None
    if len(candidates) > 1:
        await turn.show(
            build_community_choice_card(
                candidates,
                verb=verb,
                intro_key=intro_key,
                locale=turn.info.locale,
                expertise=expertise,
            )
        )
        return None
    return candidates[0]


async def on_request_command(turn: FeatureTurn, *, community_id: int | None) -> None:
    """`consultation` (or the one-pager's button): start the request dialog in the person's
    1:1 chat — from a channel, the dialog moves there and the channel only reads that the
    bot wrote privately (nothing about a consultation)."""
    if community_id is None:
        community_id = await turn.channel_community_id()  # None in a personal chat
    await begin_dialog_privately(
        turn.host,
        turn.context,
        ConsultationDialog.ID,
        ConsultationOptions(community_id=community_id),
        note_key="consultation.moved_to_personal",
    )


async def on_my_requests_command(turn: FeatureTurn) -> None:
    """`mes demandes` / `my requests`: the person's own requests and their statuses."""
    if not await _private(turn):
        return
    async with turn.sessions() as session:
        lines = await consultations.lines_of_requester(session, person_id=turn.person_id)
    await turn.show(build_my_requests_card(lines, locale=turn.info.locale, tz=turn.info.timezone))


async def on_assigned_requests_command(turn: FeatureTurn) -> None:
    """`demandes assignées` / `assigned requests`: what the person holds; for coordinators
    what waits in their communities; for animators the counts of theirs (never content)."""
    if not await _private(turn):
        return
    async with turn.sessions() as session:
        assigned = await consultations.lines_of_assignee(session, person_id=turn.person_id)
        waiting = await consultations.lines_waiting_for(session, coordinator_id=turn.person_id)
        counts = [
            (community, await consultations.counts_for_community(session, community.id or 0))
            for m, community in await communities.memberships_of(session, person_id=turn.person_id)
            if has_role(m, Role.ANIMATOR) and not has_role(m, Role.COORDINATOR)
        ]
    await turn.show(
        build_assigned_requests_card(
            assigned, waiting, counts, locale=turn.info.locale, tz=turn.info.timezone
        )
    )


def parse_expertise(text: str) -> tuple[list[str], list[str]] | None:
    """« dilemme éthique, situation complexe » → (motive codes, words not understood);
    « tout » → every motive; « retirer » → ([], []) to stop volunteering; nothing → None."""
    words = simplify(text)
    head, _, rest = words.partition(" ")
    while head in FILLER_WORDS:
        words = rest
        head, _, rest = words.partition(" ")
    if not words:
        return None
    if words in WITHDRAW_WORDS:
        return [], []
    if words in ALL_WORDS:
        return list(MOTIVES), []
    lookup = {simplify(word): code for code, synonyms in MOTIVE_WORDS.items() for word in synonyms}
    chosen: list[str] = []
    unknown: list[str] = []
    for part in re.split(r"[,;/+]|\bet\b|\band\b", words):
        token = part.strip(" .")
        if not token:
            continue
        code = lookup.get(token)
        if code is None:
            unknown.append(token)
        elif code not in chosen:
            chosen.append(code)
    return chosen, unknown


def _motives_text(codes: Sequence[str], *, locale: str) -> str:
    return ", ".join(motive_label(code, locale=locale) for code in codes)


async def on_volunteer_consultant_command(
    turn: FeatureTurn, *, community_id: int | None, argument: str
) -> None:
    """`consultant dilemme éthique, situation complexe` / `consultant volunteer ethical
    dilemma`: offer to give consultations for these motives (`tout` / `all`: every one;
    `retirer` / `withdraw`: stop). In the channel's community, the only one, or a choice."""
    info = turn.info
    if info.person_id is None:
        await turn.say("consultation.volunteer.not_member")
        return
    parsed = parse_expertise(argument)
    if parsed is None:
        await turn.say(
            "consultation.volunteer.usage", motives=_motives_text(MOTIVES, locale=info.locale)
        )
        return
    expertise, unknown = parsed
    if unknown:
        await turn.say(
            "consultation.volunteer.unknown",
            words=", ".join(f"«\u00a0{word}\u00a0»" for word in unknown),
            motives=_motives_text(MOTIVES, locale=info.locale),
        )
        return
    if community_id is None:
        community_id = await turn.channel_community_id()
    await _volunteer(turn, community_id, expertise)


async def _volunteer(turn: FeatureTurn, community_id: int | None, expertise: list[str]) -> None:
    async with turn.sessions() as session:
        mine = [c for _m, c in await communities.memberships_of(session, person_id=turn.person_id)]
    community = await _pick_community(
        turn,
        mine,
        community_id,
        none_key="consultation.volunteer.not_member",
        verb=VERB_VOLUNTEER,
        intro_key="consultation.choose.volunteer",
        expertise=expertise,
    )
    if community is None:
        return
    try:
        async with transaction(turn.sessions) as session:
            await consultations.volunteer(
                session,
                person_id=turn.person_id,
                community_id=community.id or 0,
                expertise=expertise,
            )
    except (NotAllowed, ValueError):
        await turn.say("consultation.volunteer.not_member")
        return
    if expertise:
        await turn.say(
            "consultation.volunteer.saved",
            community=community.name,
            motives=_motives_text(expertise, locale=turn.info.locale),
        )
    else:
        await turn.say("consultation.volunteer.withdrawn", community=community.name)


async def on_audit_command(
    turn: FeatureTurn, *, community_id: int | None, argument: str = ""
) -> None:
    """`journal des consultations [C-2026-0042]` / `consultation audit [reference]`: the audit
    trail of a community the person coordinates (of one request with its reference)."""
    if not await _private(turn):
        return
    match = REFERENCE_PATTERN.search(argument or "")
    reference = match.group(0).upper() if match else None
    async with turn.sessions() as session:
        if reference is not None:
            request = await consultations.request_by_reference(session, reference=reference)
            if request is None:
                await turn.say("consultation.audit.unknown_reference", reference=reference)
                return
            community_id = request.community_id
        coordinated = [
            c
            for m, c in await communities.memberships_of(session, person_id=turn.person_id)
            if has_role(m, Role.COORDINATOR)
        ]
    community = await _pick_community(
        turn,
        coordinated,
        community_id,
        none_key="consultation.audit.not_allowed",
        verb=VERB_AUDIT,
        intro_key="consultation.choose.audit",
    )
    if community is None:
        return
    try:
        async with turn.sessions() as session:
            entries = await consultations.audit_trail(
                session,
                community_id=community.id or 0,
                viewer_id=turn.person_id,
                reference=reference,
            )
    except NotAllowed:
        await turn.say("consultation.audit.not_allowed")
        return
    await turn.show(
        build_audit_card(
            entries,
            community=community,
            reference=reference,
            locale=turn.info.locale,
            tz=turn.info.timezone,
        )
    )


# -- card actions ------------------------------------------------------------------------------


async def _refused(turn: FeatureTurn, error: NotAllowed) -> None:
    """Say why an action did not happen (nothing changed)."""
    if isinstance(error, NoSuchRequest):
        await turn.say("consultation.not_found")
    elif isinstance(error, WrongStatus):
        if error.status in LOAD_STATUSES:
            async with turn.sessions() as session:
                assignee = (
                    None
                    if error.assignee_id is None
                    else await session.get(Person, error.assignee_id)
                )
            await turn.say(
                "consultation.already_taken",
                name=name_or_someone(assignee.name if assignee else None, locale=turn.info.locale),
            )
        elif error.status == ConsultationStatus.SUBMITTED:
            await turn.say("consultation.not_assigned_yet")
        else:
            await turn.say("consultation.no_longer_open")
    else:
        await turn.say("consultation.not_allowed")


async def _change(
    turn: FeatureTurn,
    value: dict[str, Any],
    change: Callable[[AsyncSession, int], Awaitable[Outcome]],
) -> Outcome | None:
    """Run one change in its own transaction; on refusal say why and return None."""
    request_id = param_int(value, "request_id")
    if request_id is None:
        await turn.say("error.unknown_action")
        return None
    try:
        async with transaction(turn.sessions) as session:
            outcome = await change(session, request_id)
    except NotAllowed as refusal:
        await _refused(turn, refusal)
        return None
    if outcome.queued:
        turn.wake()
    return outcome


async def _show_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    request_id = param_int(value, "request_id")
    if request_id is None:
        await turn.say("error.unknown_action")
        return
    async with transaction(turn.sessions) as session:
        # Committed either way: a refused read is recorded too.
        content = await consultations.read_request(
            session,
            request_id=request_id,
            viewer_id=turn.person_id,
            purpose="details",
            now=turn.clock(),
        )
        request = await consultations.get_request(session, request_id=request_id)
        ranked = (
            await consultations.colleagues(session, request=request, viewer_id=turn.person_id)
            if content is not None
            and request is not None
            and Viewer.COORDINATOR in content.viewer
            and request.status == ConsultationStatus.SUBMITTED
            else []
        )
    if content is None:
        await turn.say("consultation.not_allowed")
        return
    await turn.show(
        build_request_card(
            content,
            locale=turn.info.locale,
            tz=turn.info.timezone,
            context=CONTEXT_DETAILS,
            candidates=ranked,
        )
    )


async def _assigned_to(turn: FeatureTurn, outcome: Outcome) -> None:
    request = outcome.request
    if request.assignee_id == turn.person_id:
        await turn.say("consultation.take.done", reference=request.reference)
        return
    async with turn.sessions() as session:
        assignee = await session.get(Person, request.assignee_id or 0)
    await turn.say(
        "consultation.assign.done",
        reference=request.reference,
        name=name_or_someone(assignee.name if assignee else None, locale=turn.info.locale),
    )


async def _assign_to(turn: FeatureTurn, value: dict[str, Any], assignee_id: int) -> None:
    outcome = await _change(
        turn,
        value,
        lambda session, request_id: consultations.assign(
            session,
            request_id=request_id,
            actor_id=turn.person_id,
            assignee_id=assignee_id,
            now=turn.clock(),
        ),
    )
    if outcome is not None:
        await _assigned_to(turn, outcome)


async def _take(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _assign_to(turn, value, turn.person_id)


async def _assign(turn: FeatureTurn, value: dict[str, Any]) -> None:
    assignee_id = param_int(value, ASSIGNEE_INPUT)
    if assignee_id is None:
        await turn.say("consultation.assign.choose")
        return
    await _assign_to(turn, value, assignee_id)


async def _decline(turn: FeatureTurn, value: dict[str, Any]) -> None:
    reason = value.get(REASON_INPUT)
    if reason not in consultations.DECLINE_REASONS:
        await turn.say("consultation.decline.choose")
        return
    outcome = await _change(
        turn,
        value,
        lambda session, request_id: consultations.decline(
            session,
            request_id=request_id,
            actor_id=turn.person_id,
            reason=str(reason),
            now=turn.clock(),
        ),
    )
    if outcome is None:
        return
    # Handed back: it waits for the coordination again; a coordinator's own refusal: noted.
    key = (
        "consultation.decline.handed_back" if outcome.handed_back else "consultation.decline.noted"
    )
    await turn.say(key, reference=outcome.request.reference)


class _Step(Protocol):
    """A change that needs nothing but who acts and when: start, close, withdraw."""

    async def __call__(
        self, session: AsyncSession, *, request_id: int, actor_id: int, now: datetime
    ) -> Outcome: ...


def _step(change: _Step, done: str) -> VerbHandler:
    """The card action for such a change: run it, then say `done` with the reference."""

    async def action(turn: FeatureTurn, value: dict[str, Any]) -> None:
        outcome = await _change(
            turn,
            value,
            lambda session, request_id: change(
                session, request_id=request_id, actor_id=turn.person_id, now=turn.clock()
            ),
        )
        if outcome is not None:
            await turn.say(done, reference=outcome.request.reference)

    return action


_start = _step(consultations.start, "consultation.start.done")
_close = _step(consultations.close, "consultation.close.done")


async def _withdraw(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The requester withdraws: the first click asks on the confirmation card, its button
    withdraws (storage checks again who may); the confirmation card becomes the outcome."""
    request_id = param_int(value, "request_id")
    if request_id is None:
        await turn.say("error.unknown_action")
        return
    if not is_confirmed(value):
        await _ask_to_withdraw(turn, request_id)
        return
    outcome = await _change(
        turn,
        value,
        lambda session, request_id: consultations.withdraw(
            session, request_id=request_id, actor_id=turn.person_id, now=turn.clock()
        ),
    )
    if outcome is None:
        return
    key = "consultation.withdraw.done" if outcome.changed else "consultation.withdraw.already"
    await turn.replace_clicked(build_outcome_card(turn.t(key, reference=outcome.request.reference)))


async def _ask_to_withdraw(turn: FeatureTurn, request_id: int) -> None:
    async with turn.sessions() as session:
        request = await consultations.get_request(session, request_id=request_id)
        if request is None:
            await turn.say("consultation.not_found")
            return
        if request.requester_id != turn.person_id:
            await turn.say("consultation.not_allowed")
            return
        if request.status == ConsultationStatus.WITHDRAWN:
            await turn.say("consultation.withdraw.already", reference=request.reference)
            return
        if request.status not in consultations.OPEN_STATUSES:
            await turn.say("consultation.no_longer_open")
            return
        _community, assignee = await _names(session, request)
    await turn.show(
        build_withdraw_confirmation_card(
            request_id,
            reference=request.reference,
            assignee_name=None if assignee is None else (assignee.name or ""),
            locale=turn.info.locale,
        )
    )


def _rating(value: object) -> int | None:
    """Input.ChoiceSet comes back as a string ("4"), sometimes a number."""
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


async def _feedback(turn: FeatureTurn, value: dict[str, Any]) -> None:
    rating = _rating(value.get(RATING_INPUT))
    comment = value.get(COMMENT_INPUT) or ""
    # The toggle « n'identifie aucune personne usagère »: it may vouch for names only; storage
    # decides which kinds that covers (a forged value changes nothing more).
    no_client = value.get(NO_CLIENT_INPUT) in (True, "true")
    if rating is None or rating not in consultations.RATINGS or not isinstance(comment, str):
        await turn.say("consultation.feedback.invalid")
        return
    if len(comment.strip()) > consultations.MAX_COMMENT_LENGTH:
        await turn.say("consultation.feedback.too_long", max=consultations.MAX_COMMENT_LENGTH)
        return
    try:
        outcome = await _change(
            turn,
            value,
            lambda session, request_id: consultations.rate(
                session,
                request_id=request_id,
                actor_id=turn.person_id,
                rating=rating,
                comment=comment,
                now=turn.clock(),
                confirmed=[kind.value for kind in CONFIRMABLE] if no_client else (),
            ),
        )
    except HasIdentifiers as spotted:
        # Nothing saved, the rating either: the card keeps what was chosen, to send again.
        await turn.say(
            "consultation.feedback.names"
            if confirmable(spotted.kinds)
            else "consultation.feedback.identifiers",
            kinds=identifier_kinds_text(spotted.kinds, locale=turn.info.locale),
        )
        return
    if outcome is not None:
        await turn.say("consultation.feedback.thanks")


async def _volunteer_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    expertise = value.get("expertise")
    if (
        community_id is None
        or not isinstance(expertise, list)
        or not all(code in MOTIVES for code in expertise)
    ):
        await turn.say("error.unknown_action")
        return
    await _volunteer(turn, community_id, [str(code) for code in expertise])


async def _mine_verb(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await on_my_requests_command(turn)


async def _assigned_verb(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await on_assigned_requests_command(turn)


async def _audit_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await on_audit_command(turn, community_id=param_int(value, "community_id"))


async def _request_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The one-pager's button: the request dialog, as the command starts it (from a channel,
    in the 1:1 chat)."""
    await on_request_command(turn, community_id=param_int(value, "community_id"))


def _acting(action: VerbHandler, *, in_channel: bool = False) -> VerbHandler:
    """A button that shows or changes requests: in the personal chat only (in a channel it
    says where to look instead) unless `in_channel`; logged with ids, never content."""

    async def act(turn: FeatureTurn, value: dict[str, Any]) -> None:
        if not in_channel and not await _private(turn):
            return
        logger.info(
            "consultation action %s on request %s",
            value.get("verb"),
            param_int(value, "request_id"),
        )
        await action(turn, value)

    return act


# Every `consultations.*` button; the registry routes them here for a recorded person.
ACTIONS: Mapping[str, VerbHandler] = MappingProxyType(
    {
        VERB_REQUEST: _request_verb,
        VERB_SHOW: _acting(_show_verb),
        VERB_TAKE: _acting(_take),
        VERB_ASSIGN: _acting(_assign),
        VERB_DECLINE: _acting(_decline),
        VERB_START: _acting(_start),
        VERB_CLOSE: _acting(_close),
        VERB_WITHDRAW: _acting(_withdraw),
        VERB_FEEDBACK: _acting(_feedback),
        # Volunteering shows no request: fine in a channel.
        VERB_VOLUNTEER: _acting(_volunteer_verb, in_channel=True),
        VERB_MINE: _acting(_mine_verb),
        VERB_ASSIGNED: _acting(_assigned_verb),
        VERB_AUDIT: _acting(_audit_verb),
    }
)
