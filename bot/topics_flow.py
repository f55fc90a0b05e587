"""The topic bank in the bot: the `sujets` / `topics` and `proposer un sujet` / `propose a topic`
commands and the `topics.*` card verbs.

No routing here: the feature (bot/features/topics.py) sends those commands to these
functions and declares the verbs' handlers (`ACTIONS`). Every action re-checks its rule in
storage/topics.py; card data only says which topic or community is meant (a status comes from
the topic's own choice set and is validated like any typed answer).

Who sees what: in a channel the card is seen by everyone there, so it is always the members'
view (hidden proposers stay hidden, no status controls, no "your +1"); the animators' view is
for their personal chat only. Likewise a proposal started in a channel is written in the
person's 1:1 chat (bot/personal.py), like joining and consultation requests.

Outbox: "notice" messages — `topics.notice_animators` (queued by the dialog when a topic is
proposed) and `topics.notice_proposer.*` (to the proposer when an animator moves their topic).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from microsoft_agents.hosting.core import TurnContext

from bot.channels import channel_community_id
from bot.community_actions import Services
from bot.personal import begin_dialog_privately
from bot.turns import FeatureTurn, VerbHandler, card_activity, param_int
from cards.common import Element
from cards.topics import (
    VERB_PROPOSE,
    VERB_SHOW,
    VERB_STATUS,
    VERB_VOTE,
    build_topic_bank_card,
    build_topics_community_choice_card,
    status_input_id,
    status_label,
)
from dialogs.context import TurnInfo, turn_info
from dialogs.propose_topic_dialog import ProposeTopicDialog, ProposeTopicOptions
from storage import communities, outbox, topics
from storage.communities import NotAllowed, has_role
from storage.db import SessionFactory, transaction
from storage.models import Role, TopicStatus
from storage.topics import TopicClosed, TopicNotFound

logger = logging.getLogger(__name__)

# What the proposer is told when an animator moves their topic (back to "proposed": nothing).
PROPOSER_NOTICE_KEYS: dict[TopicStatus, str] = {
    TopicStatus.SHORTLISTED: "topics.notice_proposer.shortlisted",
    TopicStatus.SCHEDULED: "topics.notice_proposer.scheduled",
    TopicStatus.DONE: "topics.notice_proposer.done",
    TopicStatus.DECLINED: "topics.notice_proposer.declined",
}


async def _bank_card(turn: FeatureTurn, community_id: int) -> Element | None:
    """The bank as this turn may see it; None (after saying why) when it may not.

    Members see their community's bank anywhere; anyone in a community's own channel sees
    what that channel already shows everyone."""
    here_id = await channel_community_id(turn.sessions, turn.info, turn.context.activity)
    async with turn.sessions() as session:
        community = await communities.get_community(session, community_id=community_id)
        if community is None or community.id is None:
            await turn.say("error.unknown_action")
            return None
        member = await communities.membership(
            session, person_id=turn.person_id, community_id=community.id
        )
        active = member is not None and member.left_at is None
        if not active and here_id != community.id:
            await turn.say("topics.not_member_of", community=community.name)
            return None
        personal = not turn.info.in_channel
        rows = await topics.bank(
            session, community_id=community.id, viewer_id=turn.person_id if personal else None
        )
    return build_topic_bank_card(
        rows,
        community=community,
        viewer_is_animator=personal and has_role(member, Role.ANIMATOR),
        locale=turn.info.locale,
    )


async def _show_bank(turn: FeatureTurn, community_id: int, *, in_place: bool = False) -> None:
    card = await _bank_card(turn, community_id)
    if card is None:
        return
    replaced = turn.context.activity.reply_to_id if in_place else None
    if replaced:
        activity = card_activity(card)
        activity.id = replaced
        try:
            await turn.context.update_activity(activity)
            return
        # Teams refuses some updates (a card too old, posted by another bot, a client that
        # does not say which message was clicked): sending the card again still answers.
        except Exception as error:
            logger.info("topic bank not updated in place (%s); sending it", type(error).__name__)
    await turn.context.send_activity(card_activity(card))


async def on_topics_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    info: TurnInfo,
    community_id: int | None,
) -> None:
    """`sujets` / `topics`: the bank of the given community (the channel's, from the handler),
    else the person's only community, else a card to choose one."""
    turn = FeatureTurn(turn_context, sessions, info)
    if info.person_id is None:
        await turn.say("topics.not_member")
        return
    if community_id is None and info.in_channel:
        community_id = await channel_community_id(turn.sessions, turn.info, turn.context.activity)
        if community_id is None:
            await turn.say("topics.no_community_here")
            return
    if community_id is not None:
        await _show_bank(turn, community_id)
        return
    async with sessions() as session:
        mine = [c for _m, c in await communities.memberships_of(session, person_id=turn.person_id)]
    if not mine:
        await turn.say("topics.not_member")
    elif len(mine) == 1 and mine[0].id is not None:
        await _show_bank(turn, mine[0].id)
    else:
        await turn_context.send_activity(
            card_activity(build_topics_community_choice_card(mine, locale=info.locale))
        )


async def on_propose_command(
    services: Services, turn_context: TurnContext, *, community_id: int | None
) -> None:
    """`proposer un sujet` / `propose a topic`, or a card's button: start the dialog.

    From a channel it runs in the person's 1:1 chat (no @mention for each answer, colleagues
    do not watch a half-written proposal) with the community of the button, else of the
    channel, already chosen; the channel reads a short note. Someone who could not propose
    there is told so in the channel, with no private chat opened for nothing. The dialog
    checks membership again."""
    info = turn_info(turn_context)
    if info.in_channel and info.person_id is not None:
        turn = FeatureTurn(turn_context, services.sessions, info)
        if community_id is None:
            community_id = await channel_community_id(turn.sessions, info, turn_context.activity)
        async with services.sessions() as session:
            mine = {
                c.id
                for _m, c in await communities.memberships_of(session, person_id=turn.person_id)
            }
        if community_id is not None and community_id not in mine:
            await turn.say("topics.propose.not_member_here")
            return
        if not mine:
            await turn.say("topics.propose.not_member")
            return
    await begin_dialog_privately(
        services,
        turn_context,
        ProposeTopicDialog.ID,
        ProposeTopicOptions(community_id=community_id),
        note_key="topics.propose.moved_to_personal",
    )


# -- card actions ------------------------------------------------------------------------------


async def _show_verb(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await on_topics_command(
        turn.context,
        sessions=turn.sessions,
        info=turn.info,
        community_id=param_int(value, "community_id"),
    )


async def _vote(turn: FeatureTurn, value: dict[str, Any]) -> None:
    topic_id = param_int(value, "topic_id")
    if topic_id is None:
        await turn.say("error.unknown_action")
        return
    # The button says which way (+1 or take it back), so a second click changes nothing. A
    # button posted before buttons said so is a +1: the card it refreshes can take it back.
    wanted = value.get("support") is not False
    try:
        async with transaction(turn.sessions) as session:
            changed = await topics.support(
                session, topic_id=topic_id, person_id=turn.person_id, wanted=wanted
            )
            topic = await topics.get_topic(session, topic_id=topic_id)
            assert topic is not None
            community_id = topic.community_id
    except TopicNotFound:
        await turn.say("error.unknown_action")
        return
    except TopicClosed:
        await turn.say("topics.vote.closed")
        return
    except NotAllowed:
        await turn.say("topics.vote.not_member")
        return
    await _show_bank(turn, community_id, in_place=True)
    if not changed:
        await turn.say(
            "topics.vote.already_supported" if wanted else "topics.vote.already_withdrawn"
        )


async def _status(turn: FeatureTurn, value: dict[str, Any]) -> None:
    topic_id = param_int(value, "topic_id")
    if topic_id is None:
        await turn.say("error.unknown_action")
        return
    raw = value.get(status_input_id(topic_id))
    try:
        wanted = TopicStatus(str(raw))
    except ValueError:
        await turn.say("topics.change.invalid")
        return
    queued = False
    try:
        async with transaction(turn.sessions) as session:
            topic = await topics.get_topic(session, topic_id=topic_id)
            if topic is None:
                raise TopicNotFound(topic_id)
            before = TopicStatus(topic.status)
            topic = await topics.set_status(
                session, topic_id=topic_id, status=wanted, by_person_id=turn.person_id
            )
            community = await communities.get_community(session, community_id=topic.community_id)
            proposer_id = topic.proposed_by_id
            notice = PROPOSER_NOTICE_KEYS.get(wanted)
            if (
                before != wanted
                and notice is not None
                and proposer_id is not None
                and proposer_id != turn.person_id
            ):
                proposer = await communities.membership(
                    session, person_id=proposer_id, community_id=topic.community_id
                )
                if proposer is not None and proposer.left_at is None:
                    queued = await outbox.enqueue(
                        session,
                        dedup_key=topics.status_notice_key(topic_id, wanted, proposer_id),
                        recipient=outbox.Recipient.person(proposer_id),
                        kind=outbox.KIND_NOTICE,
                        params={
                            "text": notice,
                            "values": {
                                "title": topic.title,
                                "community": community.name if community else "",
                            },
                        },
                    )
            title, community_id = topic.title, topic.community_id
    except TopicNotFound:
        await turn.say("error.unknown_action")
        return
    except NotAllowed:
        await turn.say("topics.change.not_allowed")
        return
    if queued:
        turn.host.wake()
    await _show_bank(turn, community_id, in_place=True)
    await turn.say(
        "topics.change.done",
        title=title,
        status=status_label(wanted, locale=turn.info.locale),
    )


async def _propose(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await on_propose_command(turn.host, turn.context, community_id=param_int(value, "community_id"))


# The bank's buttons, as the feature declares them (bot/features/topics.py); the host routes a
# button here only for a recorded sender (bot/registry.py).
ACTIONS: Mapping[str, VerbHandler] = {
    VERB_SHOW: _show_verb,
    VERB_VOTE: _vote,
    VERB_STATUS: _status,
    VERB_PROPOSE: _propose,
}
