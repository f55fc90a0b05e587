"""Community commands and buttons: setup, list, join, leave, roles, onboarding, team joins."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import ChannelAccount
from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext
from microsoft_agents.hosting.dialogs import DialogSet

from bot.adapter import CarrefourAdapter
from bot.channels import channel_community, channel_ids
from bot.commands import role_argument
from bot.mentions import mentioned_people
from bot.mentoring_flow import withdraw_on_leaving
from bot.personal import begin_dialog_privately
from bot.settings import Settings
from bot.turns import as_int, replace_clicked_card
from cards.common import adaptive_card, heading, submit
from cards.community import (
    build_communities_card,
    build_leave_confirmation_card,
    build_leave_outcome_card,
    build_one_pager_card,
)
from cards.confirm import is_confirmed
from cards.help import HelpEntry
from cards.i18n import translator
from cards.onboarding import build_plan_card
from dialogs.context import TURN_INFO_KEY, TurnInfo
from dialogs.join_dialog import JoinDialog, JoinOptions
from dialogs.setup_dialog import SetupDialog, SetupOptions
from dialogs.views import load_one_pager
from storage import communities, mentoring, onboarding, outbox, people
from storage.communities import NotAllowed, has_role
from storage.db import SessionFactory, transaction
from storage.models import Community, Membership, Person, Role, utcnow
from storage.onboarding import Step

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    sessions: SessionFactory
    adapter: CarrefourAdapter
    dialogs: DialogSet
    wake: Callable[[], None]
    save_state: Callable[[TurnContext], Any]
    # Every feature's commands as the help card lists them (the registry's, in its order).
    help_entries: tuple[HelpEntry, ...]


def _info(turn_context: TurnContext) -> TurnInfo:
    info = turn_context.turn_state[TURN_INFO_KEY]
    assert isinstance(info, TurnInfo)
    return info


async def _say(turn_context: TurnContext, key: str, **values: Any) -> None:
    await turn_context.send_activity(translator(_info(turn_context).locale)(key, **values))


async def _send_card(turn_context: TurnContext, card: dict[str, Any]) -> None:
    await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))


# -- setup --


async def setup(services: Services, turn_context: TurnContext) -> None:
    info = _info(turn_context)
    if not info.in_channel or turn_context.activity.conversation.conversation_type != "channel":
        await _say(turn_context, "setup.channel_only")
        return
    team_id, channel_id = channel_ids(turn_context.activity)
    existing = await channel_community(services.sessions, info, turn_context.activity)
    if existing is not None or channel_id is None:
        await _say(turn_context, "setup.already_exists")
        return
    dialog_context = await services.dialogs.create_context(turn_context)
    await dialog_context.cancel_all_dialogs()
    tenant = info.tenant_id
    await dialog_context.begin_dialog(
        SetupDialog.ID,
        SetupOptions(tenant_id=tenant, team_id=team_id, teams_channel_id=channel_id),
    )


# -- listing, joining, leaving --


async def show_communities(services: Services, turn_context: TurnContext) -> None:
    info = _info(turn_context)
    async with services.sessions() as session:
        person = await session.get(Person, info.person_id or 0)
        rows = await communities.joinable_communities(
            session, tenant_id=person.tenant_id if person else None
        )
        mine = {
            c.id
            for _m, c in await communities.memberships_of(session, person_id=info.person_id or 0)
        }
    card = build_communities_card(
        [(community, count, community.id in mine) for community, count in rows],
        locale=info.locale,
    )
    await _send_card(turn_context, card)


async def join(services: Services, turn_context: TurnContext, community_id: int | None) -> None:
    """Start the join dialog; from a channel, in the person's 1:1 chat."""
    info = _info(turn_context)
    if info.in_channel and community_id is None:
        community = await channel_community(services.sessions, info, turn_context.activity)
        if community is None:
            await _say(turn_context, "join.no_community_here")
            return
        community_id = community.id
    await begin_dialog_privately(
        services,
        turn_context,
        JoinDialog.ID,
        JoinOptions(community_id=community_id),
        note_key="join.moved_to_personal",
    )


async def leave(
    services: Services, turn_context: TurnContext, community_id: int | None, argument: str = ""
) -> None:
    """`quitter` or the leave button: the community meant, then the confirmation card; only
    that card's button (`confirmed: true`) leaves."""
    info = _info(turn_context)
    value = turn_context.activity.value
    if isinstance(value, dict) and is_confirmed(value):
        await _leave_confirmed(services, turn_context, community_id, value)
        return
    async with services.sessions() as session:
        memberships = await communities.memberships_of(session, person_id=info.person_id or 0)
        target: Community | None = None
        if community_id is not None:
            target = next((c for _m, c in memberships if c.id == community_id), None)
        elif info.in_channel:
            here = await channel_community(services.sessions, info, turn_context.activity)
            target = next((c for _m, c in memberships if here and c.id == here.id), None)
        elif argument:
            wanted = argument.casefold()
            target = next((c for _m, c in memberships if wanted in c.name.casefold()), None)
        elif len(memberships) == 1:
            target = memberships[0][1]
        if target is None:
            if len(memberships) > 1 and community_id is None:
                await _send_card(turn_context, _leave_choices(memberships, info.locale))
            else:
                await _say(turn_context, "leave.not_member")
            return
        assert target.id is not None
        request = await mentoring.open_request(
            session, community_id=target.id, mentee_id=info.person_id or 0
        )
    card = build_leave_confirmation_card(
        target,
        person_id=info.person_id or 0,
        mentor_request=request is not None,
        locale=info.locale,
    )
    await _send_card(turn_context, card)


async def _leave_confirmed(
    services: Services, turn_context: TurnContext, community_id: int | None, value: dict[str, Any]
) -> None:
    """The confirmation's button: leave (membership, onboarding, open mentor request), once."""
    info = _info(turn_context)
    person_id = info.person_id
    if community_id is None or person_id is None:
        await _say(turn_context, "error.unknown_action")
        return
    if as_int(value.get("person_id")) != person_id:
        await _say(turn_context, "confirm.not_yours")
        return
    async with transaction(services.sessions) as session:
        community = await communities.get_community(session, community_id=community_id)
        if community is None:
            await _say(turn_context, "error.unknown_action")
            return
        left = await communities.leave(session, person_id=person_id, community_id=community_id)
        queued = 0
        if left is not None:
            await onboarding.stop(session, community_id=community_id, person_id=person_id)
            # A mentor request in a community one has left would wait for nobody.
            queued = await withdraw_on_leaving(
                session, community_id=community_id, mentee_id=person_id, now=utcnow()
            )
    if queued:
        services.wake()
    await replace_clicked_card(
        turn_context,
        build_leave_outcome_card(community, left_now=left is not None, locale=info.locale),
    )


def _leave_choices(memberships: list[tuple[Membership, Community]], locale: str) -> dict[str, Any]:
    t = translator(locale)
    return adaptive_card(
        [heading(t("leave.which"), size="Medium")],
        [submit(c.name, verb="communities.leave", community_id=c.id) for _m, c in memberships],
    )


# -- roles --


async def change_role(
    services: Services, turn_context: TurnContext, argument: str, *, grant: bool
) -> None:
    info = _info(turn_context)
    t = translator(info.locale)
    community = await channel_community(services.sessions, info, turn_context.activity)
    if community is None or community.id is None:
        await _say(turn_context, "roles.channel_only")
        return
    role = role_argument(argument)
    targets = mentioned_people(turn_context.activity)
    if role is None or not targets:
        await _say(turn_context, "roles.usage")
        return
    done: list[str] = []
    try:
        async with transaction(services.sessions) as session:
            for account in targets:
                person = await _person_from_mention(session, account, turn_context)
                await communities.change_role(
                    session,
                    community_id=community.id,
                    person_id=person.id or 0,
                    role=role,
                    grant=grant,
                    by_person_id=info.person_id or 0,
                )
                done.append(person.name or account.name or "")
    except NotAllowed as refusal:
        key = "roles.last_animator" if str(refusal) == "last animator" else "roles.not_allowed"
        await _say(turn_context, key)
        return
    role_name = t(f"role.{role.value}")
    key = "roles.granted" if grant else "roles.revoked"
    await _say(turn_context, key, names=", ".join(done), role=role_name, community=community.name)


async def _person_from_mention(
    session: Any, account: ChannelAccount, turn_context: TurnContext
) -> Person:
    """The Person behind a mention, recorded if the bot never heard from them."""
    existing = await people.get_person(session, teams_user_id=str(account.id))
    if existing is not None:
        return existing
    return await people.record_participant(
        session,
        participant=people.Participant(
            teams_user_id=str(account.id),
            aad_object_id=getattr(account, "aad_object_id", None),
            tenant_id=_info(turn_context).tenant_id,
            name=account.name,
            locale=None,
        ),
    )


# -- onboarding --


async def _animated_community(
    services: Services, turn_context: TurnContext, community_id: int | None
) -> tuple[Community | None, bool]:
    """The community concerned and whether the sender animates it."""
    info = _info(turn_context)
    async with services.sessions() as session:
        community: Community | None = None
        if community_id is not None:
            community = await communities.get_community(session, community_id=community_id)
        elif info.in_channel:
            community = await channel_community(services.sessions, info, turn_context.activity)
        else:
            animated = [
                c
                for m, c in await communities.memberships_of(session, person_id=info.person_id or 0)
                if has_role(m, Role.ANIMATOR)
            ]
            community = animated[0] if animated else None
        if community is None or community.id is None:
            return None, False
        member = await communities.membership(
            session, person_id=info.person_id or 0, community_id=community.id
        )
    return community, has_role(member, Role.ANIMATOR)


def _entered_number(value: object) -> int | None:
    """A whole number as typed in an Input.Number ("-3", "9999", "12.0"), to show it back."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.isascii() or len(text) > 12:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


async def save_onboarding_plan(
    services: Services, turn_context: TurnContext, value: dict[str, Any]
) -> None:
    info = _info(turn_context)
    community_id = as_int(value.get("community_id"))
    community, is_animator = await _animated_community(services, turn_context, community_id)
    if community is None or not is_animator:
        await _say(turn_context, "onboarding.plan.animators_only")
        return
    steps: list[Step] = []
    entered: list[Step] = []
    for step in onboarding.plan_of(community):
        raw = value.get(f"day_{step.key}")
        day = as_int(raw)
        enabled = str(value.get(f"enabled_{step.key}", "true")).lower() != "false"
        shown = _entered_number(raw)
        entered.append(Step(step.key, step.day if shown is None else shown, enabled))
        if day is not None and 0 <= day <= onboarding.MAX_DAY:
            steps.append(Step(step.key, day, enabled))
    if len(steps) < len(entered):
        # Nothing is saved nor adjusted: the form comes back with what was typed, and the range.
        t = translator(info.locale)
        card = build_plan_card(
            community, entered, locale=info.locale, errors=[t("onboarding.plan.invalid")]
        )
        await _send_card(turn_context, card)
        return
    async with transaction(services.sessions) as session:
        fresh = await communities.get_community(session, community_id=community.id or 0)
        assert fresh is not None
        await onboarding.set_plan(session, community=fresh, steps=steps)
    await _say(turn_context, "onboarding.plan.saved")


async def record_checkin(
    services: Services, turn_context: TurnContext, value: dict[str, Any]
) -> None:
    info = _info(turn_context)
    community_id = as_int(value.get("community_id"))
    rating = as_int(value.get("rating"))
    comment = value.get("comment")
    comment = comment if isinstance(comment, str) else ""
    if community_id is None or rating is None or not 1 <= rating <= 5:
        await _say(turn_context, "onboarding.checkin.rating_required")
        return
    try:
        async with transaction(services.sessions) as session:
            await onboarding.record_checkin(
                session,
                community_id=community_id,
                person_id=info.person_id or 0,
                rating=rating,
                comment=comment,
            )
            community = await communities.get_community(session, community_id=community_id)
            person = await session.get(Person, info.person_id or 0)
            animators = await communities.people_with_role(
                session, community_id=community_id, roles=[Role.ANIMATOR]
            )
            for animator in animators:
                await outbox.enqueue(
                    session,
                    dedup_key=onboarding.checkin_notice_key(
                        community_id, info.person_id, animator.id
                    ),
                    recipient=outbox.Recipient.person(animator.id or 0),
                    kind=outbox.KIND_NOTICE,
                    params={
                        "text": "onboarding.checkin.notice",
                        "values": {
                            "community": community.name if community else "",
                            "name": (person.name if person else None) or "—",
                            "rating": rating,
                            "comment": comment.strip()[:500],
                        },
                    },
                )
    except LookupError:
        await _say(turn_context, "onboarding.checkin.not_enrolled")
        return
    services.wake()
    await _say(turn_context, "onboarding.checkin.thanks")


# -- team membership (Teams conversationUpdate) --


async def on_team_members_added(
    services: Services, turn_context: TurnContext, members: list[ChannelAccount]
) -> None:
    """A person added to a team whose channel holds a community: a newcomer to welcome."""
    team_id, _channel = channel_ids(turn_context.activity)
    # bot/app.py refuses an activity without recipient.id before any turn runs.
    assert turn_context.activity.recipient is not None
    bot_id = turn_context.activity.recipient.id  # the bot's own arrival: bot/handler.py
    newcomers = [m for m in members if m.id and m.id != bot_id]
    if not team_id or not newcomers:
        return
    tenant = _info(turn_context).tenant_id
    started = 0
    async with transaction(services.sessions) as session:
        team_communities = await communities.communities_of_team(session, team_id=team_id)
        for account in newcomers:
            person = await people.record_participant(
                session,
                participant=people.Participant(
                    teams_user_id=str(account.id),
                    aad_object_id=getattr(account, "aad_object_id", None),
                    tenant_id=tenant,
                    name=account.name,
                    locale=None,
                ),
            )
            for community in team_communities:
                if not await communities.add_newcomer(
                    session, person_id=person.id or 0, community_id=community.id or 0
                ):
                    continue  # already a member: no onboarding
                started += await onboarding.start(
                    session, community=community, person_id=person.id or 0, source="team_join"
                )
    if started:
        logger.info("onboarding started for %d newcomer(s) in a team", started)
        services.wake()


async def send_one_pager(
    services: Services, turn_context: TurnContext, community: Community
) -> None:
    info = _info(turn_context)
    async with services.sessions() as session:
        page = await load_one_pager(session, community)
    await _send_card(turn_context, build_one_pager_card(page, locale=info.locale, tz=info.timezone))
