"""Complex-case discussions in the bot: the `soumettre un cas` / `submit a case` and
`discussions de cas` / `case discussions` commands, the `cases.*` card verbs and the two
outbox kinds' renderers.

No routing here: the feature (bot/features/cases.py) sends those commands to these functions
and declares the verbs' handlers (`ACTIONS`). Every action re-checks its rule in
storage/cases.py; card data only says which case (and meeting) is meant, so a forged button —
a member picking a case, someone withdrawing another's, a facilitator of another community —
is refused and changes nothing.

Who sees what: the lists are for the personal chat only (a facilitator's list names
presenters and shows the texts; a presenter's list holds their private takeaways). In a
channel the command answers with where to look, and a submission moves to the 1:1 chat.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import MessageFactory, TurnContext

from bot.channels import channel_community_id
from bot.community_actions import Services
from bot.deliveries import RenderContext
from bot.personal import begin_dialog_privately
from bot.turns import FeatureTurn, VerbHandler, param_int
from cards.agenda import meeting_label
from cards.cases import (
    VERB_DECLINE,
    VERB_RETURN,
    VERB_SCHEDULE,
    VERB_SHOW,
    VERB_SUBMIT,
    VERB_TAKEAWAY,
    VERB_THEMES,
    VERB_WITHDRAW,
    build_facilitator_cases_card,
    build_my_cases_card,
    kinds_text,
    meeting_input_id,
    message_input_id,
    takeaway_input_id,
    themes_input_id,
)
from cards.common import Element
from cards.i18n import translator
from dialogs.context import turn_info
from dialogs.submit_case_dialog import SubmitCaseDialog, SubmitCaseOptions
from storage import cases, communities
from storage.cases import CaseClosed, CaseNotFound, Changed, MeetingNotOpen, TooEarly
from storage.communities import NotAllowed
from storage.db import transaction
from storage.identifiers import HasIdentifiers
from storage.models import CaseStatus, Meeting, Person, Role

logger = logging.getLogger(__name__)

# A facilitator of many communities sees the lists of this many (the rest: one `community_id`
# button at a time, from the help card or a notice).
MAX_FACILITATOR_CARDS = 3


# -- showing -------------------------------------------------------------------------------------


async def _facilitator_card(turn: FeatureTurn, community_id: int) -> Element | None:
    """One community's list for a facilitator; None (after saying why) for anyone else."""
    async with turn.sessions() as session:
        community = await communities.get_community(session, community_id=community_id)
        if community is None or community.id is None:
            await turn.say("error.unknown_action")
            return None
        try:
            rows = await cases.facilitators_list(
                session, community_id=community.id, viewer_id=turn.person_id
            )
        except NotAllowed:
            await turn.say("cases.facilitators_only")
            return None
        meetings = await cases.open_meetings(session, community_id=community.id, now=turn.clock())
    return build_facilitator_cases_card(
        rows,
        community,
        meetings,
        now=turn.clock(),
        locale=turn.info.locale,
        tz=turn.info.timezone,
    )


async def _my_card(turn: FeatureTurn) -> Element:
    async with turn.sessions() as session:
        rows = await cases.presenters_list(session, person_id=turn.person_id)
        takeaways = await cases.takeaways_of(session, person_id=turn.person_id)
        names = {
            c.id: c.name
            for c in [
                await communities.get_community(session, community_id=cid)
                for cid in {row.case.community_id for row in rows}
            ]
            if c is not None and c.id is not None
        }
    return build_my_cases_card(
        rows, names, takeaways, now=turn.clock(), locale=turn.info.locale, tz=turn.info.timezone
    )


async def _animated(turn: FeatureTurn) -> list[int]:
    async with turn.sessions() as session:
        return [
            c.id
            for m, c in await communities.memberships_of(session, person_id=turn.person_id)
            if c.id is not None and communities.has_role(m, Role.ANIMATOR)
        ]


async def on_cases_command(turn: FeatureTurn, *, community_id: int | None = None) -> None:
    """`discussions de cas` / `case discussions`: in the personal chat, the person's own cases
    and, for facilitators, the cases of the communities they animate (the one given first)."""
    if turn.info.in_channel:
        await turn.say("cases.private_only")
        return
    if community_id is not None:
        card = await _facilitator_card(turn, community_id)
        if card is not None:
            await turn.show(card)
        return
    await turn.show(await _my_card(turn))
    for animated in (await _animated(turn))[:MAX_FACILITATOR_CARDS]:
        card = await _facilitator_card(turn, animated)
        if card is not None:
            await turn.show(card)


async def on_submit_command(
    services: Services, turn_context: TurnContext, *, community_id: int | None
) -> None:
    """`soumettre un cas` / `submit a case`, or a card's button: start the dialog, in the
    person's 1:1 chat (a case is never written in front of colleagues)."""
    info = turn_info(turn_context)
    if community_id is None and info.in_channel:
        community_id = await channel_community_id(services.sessions, info, turn_context.activity)
    await begin_dialog_privately(
        services,
        turn_context,
        SubmitCaseDialog.ID,
        SubmitCaseOptions(community_id=community_id),
        note_key="cases.submit.moved_to_personal",
    )


# -- card actions ------------------------------------------------------------------------------


async def _refresh_facilitators(turn: FeatureTurn, community_id: int) -> None:
    card = await _facilitator_card(turn, community_id)
    if card is not None:
        await turn.replace_clicked(card)


async def _after(turn: FeatureTurn, done: Changed, *, tell: bool) -> None:
    """What every change queues: the presenter's notice, agenda cards the case joined or
    left; then the dispatcher is woken once."""
    queued = 0
    async with transaction(turn.sessions) as session:
        if tell:
            queued += await cases.tell_presenter(session, done.case)
        queued += await cases.refresh_agendas(session, done.meetings)
    if queued:
        turn.wake()


async def _case_id(turn: FeatureTurn, value: dict[str, Any]) -> int | None:
    case_id = param_int(value, "case_id")
    if case_id is None:
        await turn.say("error.unknown_action")
    return case_id


async def _show(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    if turn.info.in_channel:
        await turn.say("cases.private_only")
        return
    if community_id is not None:
        await _refresh_facilitators(turn, community_id)
        return
    await on_cases_command(turn)


async def _submit(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await on_submit_command(turn.host, turn.context, community_id=param_int(value, "community_id"))


async def _schedule(turn: FeatureTurn, value: dict[str, Any]) -> None:
    case_id = await _case_id(turn, value)
    if case_id is None:
        return
    meeting_id = param_int(value, meeting_input_id(case_id))
    if meeting_id is None:
        await turn.say("cases.schedule.pick_meeting")
        return
    try:
        async with transaction(turn.sessions) as session:
            done = await cases.schedule(
                session,
                case_id=case_id,
                meeting_id=meeting_id,
                by_person_id=turn.person_id,
                now=turn.clock(),
            )
            meeting = await session.get(Meeting, meeting_id)
            assert meeting is not None
    except CaseNotFound:
        await turn.say("error.unknown_action")
        return
    except CaseClosed:
        await turn.say("cases.closed")
        return
    except NotAllowed:
        await turn.say("cases.facilitators_only")
        return
    except MeetingNotOpen:
        await turn.say("cases.schedule.meeting_not_open")
        return
    when = meeting_label(meeting, locale=turn.info.locale, tz=turn.info.timezone)
    if not done.changed:
        await turn.say("cases.schedule.already", title=done.case.title, meeting=when)
        return
    await _after(turn, done, tell=True)
    await _refresh_facilitators(turn, done.case.community_id)
    await turn.say("cases.schedule.done", title=done.case.title, meeting=when)


async def _send_back(turn: FeatureTurn, value: dict[str, Any], status: CaseStatus) -> None:
    case_id = await _case_id(turn, value)
    if case_id is None:
        return
    raw = value.get(message_input_id(case_id))
    message = raw.strip() if isinstance(raw, str) else ""
    if not message:
        await turn.say("cases.send_back.need_message")
        return
    try:
        async with transaction(turn.sessions) as session:
            done = await cases.send_back(
                session,
                case_id=case_id,
                status=status,
                message=message,
                by_person_id=turn.person_id,
                now=turn.clock(),
            )
    except CaseNotFound:
        await turn.say("error.unknown_action")
        return
    except CaseClosed:
        await turn.say("cases.closed")
        return
    except NotAllowed:
        await turn.say("cases.facilitators_only")
        return
    except HasIdentifiers as spotted:
        await turn.say(
            "cases.send_back.identifiers",
            kinds=kinds_text(spotted.kinds, locale=turn.info.locale),
        )
        return
    except ValueError:
        await turn.say("cases.send_back.too_long", max=cases.MAX_MESSAGE_LENGTH)
        return
    if not done.changed:
        await turn.say(f"cases.send_back.already.{status.value}", title=done.case.title)
        return
    await _after(turn, done, tell=True)
    await _refresh_facilitators(turn, done.case.community_id)
    await turn.say(f"cases.send_back.done.{status.value}", title=done.case.title)


async def _return(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _send_back(turn, value, CaseStatus.RETURNED)


async def _decline(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await _send_back(turn, value, CaseStatus.DECLINED)


async def _withdraw(turn: FeatureTurn, value: dict[str, Any]) -> None:
    case_id = await _case_id(turn, value)
    if case_id is None:
        return
    try:
        async with transaction(turn.sessions) as session:
            done = await cases.withdraw(
                session, case_id=case_id, person_id=turn.person_id, now=turn.clock()
            )
    except CaseNotFound:
        await turn.say("error.unknown_action")
        return
    except CaseClosed:
        await turn.say("cases.closed")
        return
    except NotAllowed:
        await turn.say("cases.withdraw.not_yours")
        return
    if not done.changed:
        await turn.say("cases.withdraw.already", title=done.case.title)
        return
    await _after(turn, done, tell=False)
    if not turn.info.in_channel:
        await turn.replace_clicked(await _my_card(turn))
    await turn.say("cases.withdraw.done", title=done.case.title)


async def _themes(turn: FeatureTurn, value: dict[str, Any]) -> None:
    case_id = await _case_id(turn, value)
    if case_id is None:
        return
    raw = value.get(themes_input_id(case_id))
    themes = cases.parse_themes(raw if isinstance(raw, str) else "")
    if not themes or len(themes) > cases.MAX_THEMES:
        await turn.say("cases.themes.count", max=cases.MAX_THEMES)
        return
    try:
        async with transaction(turn.sessions) as session:
            done = await cases.record_themes(
                session,
                case_id=case_id,
                themes=themes,
                by_person_id=turn.person_id,
                now=turn.clock(),
            )
    except CaseNotFound:
        await turn.say("error.unknown_action")
        return
    except CaseClosed:
        await turn.say("cases.closed")
        return
    except NotAllowed:
        await turn.say("cases.facilitators_only")
        return
    except TooEarly:
        await turn.say("cases.too_early")
        return
    except HasIdentifiers as spotted:
        await turn.say(
            "cases.themes.identifiers", kinds=kinds_text(spotted.kinds, locale=turn.info.locale)
        )
        return
    except ValueError:
        await turn.say("cases.themes.too_long", max=cases.MAX_THEME_LENGTH)
        return
    if not done.changed:
        await turn.say("cases.themes.already", title=done.case.title)
        return
    await _refresh_facilitators(turn, done.case.community_id)
    await turn.say("cases.themes.done", title=done.case.title, themes=", ".join(themes))


async def _takeaway(turn: FeatureTurn, value: dict[str, Any]) -> None:
    case_id = await _case_id(turn, value)
    if case_id is None:
        return
    if turn.info.in_channel:
        # Never typed where colleagues read: the card that asks for it is personal.
        await turn.say("cases.private_only")
        return
    raw = value.get(takeaway_input_id(case_id))
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        await turn.say("cases.takeaway.empty")
        return
    try:
        async with transaction(turn.sessions) as session:
            changed = await cases.record_takeaway(
                session, case_id=case_id, person_id=turn.person_id, text=text, now=turn.clock()
            )
    except CaseNotFound:
        await turn.say("error.unknown_action")
        return
    except CaseClosed:
        await turn.say("cases.closed")
        return
    except NotAllowed:
        await turn.say("cases.takeaway.not_yours")
        return
    except TooEarly:
        await turn.say("cases.too_early")
        return
    except ValueError:
        await turn.say("cases.takeaway.too_long", max=cases.MAX_TAKEAWAY_LENGTH)
        return
    if changed:
        await turn.replace_clicked(await _my_card(turn))
    await turn.say("cases.takeaway.done" if changed else "cases.takeaway.already")


# The cards' buttons, as the feature declares them (bot/features/cases.py); the host routes a
# button here only for a recorded sender (bot/registry.py).
ACTIONS: Mapping[str, VerbHandler] = {
    VERB_SHOW: _show,
    VERB_SUBMIT: _submit,
    VERB_SCHEDULE: _schedule,
    VERB_RETURN: _return,
    VERB_DECLINE: _decline,
    VERB_WITHDRAW: _withdraw,
    VERB_THEMES: _themes,
    VERB_TAKEAWAY: _takeaway,
}


# -- outbox renderers ----------------------------------------------------------------------------


async def render_submitted(context: RenderContext) -> Activity | None:
    """A facilitator told of a new case, as it is now: nothing once it was withdrawn or
    answered (the list shows where it stands)."""
    case_id = param_int(context.message.params, "case_id")
    async with context.sessions() as session:
        case = await cases.get_case(session, case_id=case_id or 0)
        if case is None or case.status != CaseStatus.SUBMITTED:
            return None
        community = await communities.get_community(session, community_id=case.community_id)
        presenter = await session.get(Person, case.presenter_id) if case.presenter_id else None
    t = translator(context.locale)
    return MessageFactory.text(
        t(
            "cases.notice.submitted",
            name=(presenter.name if presenter else None) or t("cases.card.someone"),
            title=case.title,
            community=community.name if community else "",
        )
    )


async def render_update(context: RenderContext) -> Activity | None:
    """The presenter told of a decision on their case; nothing if it changed again since (a
    newer notice, or their own withdrawal, says where it stands)."""
    params = context.message.params
    case_id = param_int(params, "case_id")
    async with context.sessions() as session:
        case = await cases.get_case(session, case_id=case_id or 0)
        if (
            case is None
            or case.presenter_id != context.message.person_id
            or case.status != params.get("status")
        ):
            return None
        community = await communities.get_community(session, community_id=case.community_id)
        meeting = await session.get(Meeting, case.meeting_id) if case.meeting_id else None
    t = translator(context.locale)
    name = community.name if community else ""
    if case.status == CaseStatus.SCHEDULED and meeting is not None:
        text = t(
            "cases.notice.scheduled",
            title=case.title,
            community=name,
            meeting=meeting_label(meeting, locale=context.locale, tz=context.timezone),
        )
    elif case.status in (CaseStatus.RETURNED, CaseStatus.DECLINED):
        text = t(
            f"cases.notice.{CaseStatus(case.status).value}",
            title=case.title,
            community=name,
            message=case.facilitator_message or "",
        )
    else:
        return None
    return MessageFactory.text(text)


RENDERERS = {cases.KIND_SUBMITTED: render_submitted, cases.KIND_UPDATE: render_update}
