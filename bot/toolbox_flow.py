"""The toolbox in the bot: the `outils` / `toolbox` and `partager un outil` / `share a
resource` commands and the `toolbox.*` card verbs.

No routing here: bot/features/toolbox.py sends those commands to these functions and declares
the verbs' handlers (`ACTIONS`). Every action re-checks its rule in storage/toolbox.py; card
data only says which resource or community is meant.

Who sees what: in a channel the card is seen by everyone there, so it is the members' view (no
management buttons, no "your mark"); facilitators and sharers manage from their personal chat.
Sharing started in a channel continues in the person's 1:1 chat (bot/personal.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from microsoft_agents.hosting.core import TurnContext
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels import channel_community_id
from bot.community_actions import Services
from bot.personal import begin_dialog_privately
from bot.turns import FeatureTurn, VerbHandler, as_int, card_activity, param_int
from cards.common import Element
from cards.confirm import build_confirmation_card, is_confirmed
from cards.toolbox import (
    FILTER_ALL,
    FILTER_KIND,
    FILTER_THEME,
    INPUT_AGENDA_ITEM,
    INPUT_MERGE_INTO,
    VERB_ATTACH,
    VERB_ATTACH_TO,
    VERB_CANCEL,
    VERB_EDIT,
    VERB_MARK,
    VERB_MERGE,
    VERB_PIN,
    VERB_REMOVE,
    VERB_SHARE,
    VERB_SHARE_START,
    VERB_SHOW,
    VERB_UPDATE,
    Viewer,
    build_attach_card,
    build_merge_card,
    build_outcome_card,
    build_shared_card,
    build_toolbox_card,
    build_toolbox_community_choice_card,
    draft_of,
    identifiers_text,
    problem_texts,
)
from dialogs.context import TurnInfo, turn_info
from dialogs.share_resource_dialog import (
    ShareResourceDialog,
    ShareResourceOptions,
    draft_from,
    form_card,
    form_errors,
    submit_share,
)
from storage import communities, meetings, outbox, toolbox
from storage.communities import NotAllowed
from storage.db import SessionFactory, transaction
from storage.identifiers import HasIdentifiers
from storage.models import Meeting, ResourceKind, ResourceStatus, Role
from storage.toolbox import AgendaItemNotFound, InvalidResource, ResourceNotFound

logger = logging.getLogger(__name__)


def _filter(value: dict[str, Any], key: str) -> str | None:
    """A filter's choice; None for « Tous » (FILTER_ALL, or "" from an older card)."""
    raw = value.get(key)
    if not isinstance(raw, str) or raw.strip() == FILTER_ALL:
        return None
    return raw.strip()[: toolbox.MAX_THEME_LENGTH] or None


async def _toolbox_card(
    turn: FeatureTurn, community_id: int, *, theme: str | None = None, kind: str | None = None
) -> Element | None:
    """The toolbox as this turn may see it; None (after saying why) when it may not. Members
    see their community's toolbox anywhere; anyone in a community's own channel sees what that
    channel already shows everyone."""
    here_id = await channel_community_id(turn.sessions, turn.info, turn.context.activity)
    if kind is not None and kind not in {k.value for k in ResourceKind}:
        kind = None
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
            await turn.say("toolbox.not_member_of", community=community.name)
            return None
        personal = not turn.info.in_channel
        viewer_id = turn.person_id if personal else None
        every = await toolbox.toolbox(session, community_id=community.id, viewer_id=viewer_id)
        rows = (
            await toolbox.toolbox(
                session, community_id=community.id, viewer_id=viewer_id, theme=theme, kind=kind
            )
            if theme or kind
            else every
        )
        facilitator = personal and communities.has_role(member, Role.ANIMATOR)
    return build_toolbox_card(
        rows,
        community=community,
        themes=toolbox.themes_of(every),
        viewer=Viewer(person_id=viewer_id, facilitator=facilitator),
        locale=turn.info.locale,
        theme=theme,
        kind=kind,
    )


async def _show_toolbox(
    turn: FeatureTurn,
    community_id: int,
    *,
    in_place: bool = False,
    theme: str | None = None,
    kind: str | None = None,
) -> None:
    card = await _toolbox_card(turn, community_id, theme=theme, kind=kind)
    if card is None:
        return
    if in_place and turn.context.activity.reply_to_id:
        await turn.replace_clicked(card)
        return
    await turn.context.send_activity(card_activity(card))


async def on_toolbox_command(
    turn_context: TurnContext,
    *,
    sessions: SessionFactory,
    info: TurnInfo,
    community_id: int | None,
    theme: str | None = None,
    kind: str | None = None,
) -> None:
    """`outils` / `toolbox`: the toolbox of the given community (the channel's), else the
    person's only community, else a card to choose one."""
    turn = FeatureTurn(turn_context, sessions, info)
    if info.person_id is None:
        await turn.say("toolbox.not_member")
        return
    if community_id is None and info.in_channel:
        community_id = await channel_community_id(sessions, info, turn_context.activity)
        if community_id is None:
            await turn.say("toolbox.no_community_here")
            return
    if community_id is not None:
        await _show_toolbox(turn, community_id, theme=theme, kind=kind)
        return
    async with sessions() as session:
        mine = [
            c
            for m, c in await communities.memberships_of(session, person_id=turn.person_id)
            if m.left_at is None
        ]
    if not mine:
        await turn.say("toolbox.not_member")
    elif len(mine) == 1 and mine[0].id is not None:
        await _show_toolbox(turn, mine[0].id)
    else:
        await turn_context.send_activity(
            card_activity(build_toolbox_community_choice_card(mine, locale=info.locale))
        )


async def on_share_command(
    services: Services, turn_context: TurnContext, *, community_id: int | None
) -> None:
    """`partager un outil` / `share a resource`, or the toolbox's button: the share form, in
    the person's 1:1 chat (from a channel, with the channel's community chosen). Someone who
    could not share there is told so in the channel, with no private chat opened for nothing."""
    info = turn_info(turn_context)
    if info.in_channel and info.person_id is not None:
        turn = FeatureTurn(turn_context, services.sessions, info)
        if community_id is None:
            community_id = await channel_community_id(turn.sessions, info, turn_context.activity)
        async with services.sessions() as session:
            mine = {
                c.id
                for m, c in await communities.memberships_of(session, person_id=turn.person_id)
                if m.left_at is None
            }
        if community_id is not None and community_id not in mine:
            await turn.say("toolbox.share.not_member_here")
            return
        if not mine:
            await turn.say("toolbox.not_member")
            return
    await begin_dialog_privately(
        services,
        turn_context,
        ShareResourceDialog.ID,
        ShareResourceOptions(community_id=community_id),
        note_key="toolbox.share.moved_to_personal",
    )


# -- card actions ------------------------------------------------------------------------------


async def _show(turn: FeatureTurn, value: dict[str, Any]) -> None:
    community_id = param_int(value, "community_id")
    theme, kind = _filter(value, FILTER_THEME), _filter(value, FILTER_KIND)
    if community_id is not None and (theme or kind or FILTER_KIND in value):
        # The filter button: the card it was on shows the filtered toolbox.
        await _show_toolbox(turn, community_id, in_place=True, theme=theme, kind=kind)
        return
    await on_toolbox_command(
        turn.context, sessions=turn.sessions, info=turn.info, community_id=community_id
    )


async def _share_start(turn: FeatureTurn, value: dict[str, Any]) -> None:
    await on_share_command(turn.host, turn.context, community_id=param_int(value, "community_id"))


async def _share(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """A share form sent while no dialog waits for it (a second click, a form left open)."""
    await submit_share(turn.sessions, turn.context, value)


async def _cancel(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await turn.say("dialog.cancelled")


async def _mark(turn: FeatureTurn, value: dict[str, Any]) -> None:
    resource_id = param_int(value, "resource_id")
    if resource_id is None:
        await turn.say("error.unknown_action")
        return
    wanted = value.get("useful") is not False
    try:
        async with transaction(turn.sessions) as session:
            changed = await toolbox.mark(
                session,
                resource_id=resource_id,
                person_id=turn.person_id,
                wanted=wanted,
                now=turn.clock(),
            )
            resource = await toolbox.get_resource(session, resource_id=resource_id)
            assert resource is not None
            community_id: int | None = resource.community_id
            member = await communities.membership(
                session, person_id=turn.person_id, community_id=resource.community_id
            )
            if member is None or member.left_at is not None:
                # A tenant-wide resource marked from another community's toolbox: show theirs.
                community_id = await _community_seeing(turn, session, resource.tenant_id)
    except ResourceNotFound:
        await turn.say("toolbox.gone")
        return
    except NotAllowed:
        await turn.say("toolbox.mark.not_member")
        return
    if community_id is not None:
        await _show_toolbox(turn, community_id, in_place=True)
    if not changed:
        await turn.say("toolbox.mark.already" if wanted else "toolbox.mark.already_removed")


async def _community_seeing(
    turn: FeatureTurn, session: AsyncSession, tenant_id: str | None
) -> int | None:
    here = await channel_community_id(turn.sessions, turn.info, turn.context.activity)
    if here is not None:
        return here
    for m, c in await communities.memberships_of(session, person_id=turn.person_id):
        if m.left_at is None and c.tenant_id == tenant_id:
            return c.id
    return None


async def _pin(turn: FeatureTurn, value: dict[str, Any]) -> None:
    resource_id = param_int(value, "resource_id")
    if resource_id is None:
        await turn.say("error.unknown_action")
        return
    wanted = value.get("pinned") is not False
    try:
        async with transaction(turn.sessions) as session:
            resource, _changed = await toolbox.set_pinned(
                session,
                resource_id=resource_id,
                by_person_id=turn.person_id,
                pinned=wanted,
                now=turn.clock(),
            )
            community_id = resource.community_id
    except ResourceNotFound:
        await turn.say("toolbox.gone")
        return
    except NotAllowed:
        await turn.say("toolbox.manage.not_allowed")
        return
    await _show_toolbox(turn, community_id, in_place=True)


async def _edit(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """The edit form, pre-filled, for a facilitator or the person who shared it."""
    resource_id = param_int(value, "resource_id")
    if resource_id is None:
        await turn.say("error.unknown_action")
        return
    async with turn.sessions() as session:
        resource = await toolbox.get_resource(session, resource_id=resource_id)
        if resource is None or resource.status != ResourceStatus.ACTIVE:
            await turn.say("toolbox.gone")
            return
        facilitator = await toolbox.is_facilitator(
            session, person_id=turn.person_id, community_id=resource.community_id
        )
        member = await communities.membership(
            session, person_id=turn.person_id, community_id=resource.community_id
        )
        community = await communities.get_community(session, community_id=resource.community_id)
    sharer = resource.shared_by_id == turn.person_id and member is not None and not member.left_at
    if not (facilitator or sharer) or community is None:
        await turn.say("toolbox.manage.not_allowed")
        return
    await turn.show(
        await form_card(
            turn.sessions,
            community,
            locale=turn.info.locale,
            draft=draft_of(resource),
            resource_id=resource_id,
        )
    )


async def _update(turn: FeatureTurn, value: dict[str, Any]) -> None:
    resource_id = param_int(value, "resource_id")
    if resource_id is None:
        await turn.say("error.unknown_action")
        return
    draft = draft_from(value)
    errors = form_errors(draft, locale=turn.info.locale)
    try:
        if errors:
            raise InvalidResource(())
        async with transaction(turn.sessions) as session:
            resource = await toolbox.update_resource(
                session,
                resource_id=resource_id,
                by_person_id=turn.person_id,
                title=draft.title,
                url=draft.url,
                kind=draft.kind,
                themes=draft.themes,
                why=draft.why,
                visibility=draft.visibility,
                now=turn.clock(),
            )
            community = await communities.get_community(session, community_id=resource.community_id)
    except ResourceNotFound:
        await turn.say("toolbox.gone")
        return
    except NotAllowed:
        await turn.say("toolbox.manage.not_allowed")
        return
    except (InvalidResource, HasIdentifiers) as refused:
        if isinstance(refused, HasIdentifiers):
            errors = [identifiers_text(refused.kinds, locale=turn.info.locale)]
        elif refused.reasons:
            errors = problem_texts(refused.reasons, locale=turn.info.locale)
        await _edit_again(turn, resource_id, draft, errors)
        return
    assert community is not None
    await turn.replace_clicked(
        build_shared_card(resource, community=community, locale=turn.info.locale, edited=True)
    )


async def _edit_again(
    turn: FeatureTurn, resource_id: int, draft: toolbox.Draft, errors: list[str]
) -> None:
    async with turn.sessions() as session:
        resource = await toolbox.get_resource(session, resource_id=resource_id)
        community = (
            await communities.get_community(session, community_id=resource.community_id)
            if resource is not None
            else None
        )
    if community is None:
        await turn.say("toolbox.gone")
        return
    await turn.replace_clicked(
        await form_card(
            turn.sessions,
            community,
            locale=turn.info.locale,
            draft=draft,
            resource_id=resource_id,
            errors=errors,
        )
    )


async def _remove(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Retirer »: the first click asks, the confirmation's button acts (rules checked again)."""
    resource_id = param_int(value, "resource_id")
    if resource_id is None:
        await turn.say("error.unknown_action")
        return
    if not is_confirmed(value):
        async with turn.sessions() as session:
            resource = await toolbox.get_resource(session, resource_id=resource_id)
        if resource is None or resource.status != ResourceStatus.ACTIVE:
            await turn.say("toolbox.gone")
            return
        await turn.show(
            build_confirmation_card(
                turn.t,
                title=turn.t("toolbox.remove.confirm_title", title=resource.title),
                consequences=[turn.t("toolbox.remove.consequence")],
                confirm_title=turn.t("toolbox.remove.confirm"),
                verb=VERB_REMOVE,
                data={"resource_id": resource_id},
            )
        )
        return
    try:
        async with transaction(turn.sessions) as session:
            resource = await toolbox.remove(
                session, resource_id=resource_id, by_person_id=turn.person_id, now=turn.clock()
            )
    except ResourceNotFound:
        await turn.replace_clicked(build_outcome_card(turn.t("toolbox.gone")))
        return
    except NotAllowed:
        await turn.say("toolbox.manage.not_allowed")
        return
    await turn.replace_clicked(
        build_outcome_card(turn.t("toolbox.remove.done", title=resource.title))
    )


async def _merge(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Fusionner »: the first click asks which resource it duplicates; the choice's button
    merges (rules checked again)."""
    resource_id = param_int(value, "resource_id")
    if resource_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        if not is_confirmed(value):
            async with turn.sessions() as session:
                resource, targets = await toolbox.merge_targets(
                    session, resource_id=resource_id, by_person_id=turn.person_id
                )
            await turn.show(build_merge_card(resource, targets, locale=turn.info.locale))
            return
        into_id = as_int(value.get(INPUT_MERGE_INTO))
        if into_id is None:
            await turn.say("toolbox.merge.choose")
            return
        async with transaction(turn.sessions) as session:
            target = await toolbox.merge(
                session,
                resource_id=resource_id,
                into_id=into_id,
                by_person_id=turn.person_id,
                now=turn.clock(),
            )
    except ResourceNotFound:
        await turn.say("toolbox.gone")
        return
    except NotAllowed:
        await turn.say("toolbox.manage.not_allowed")
        return
    await turn.replace_clicked(build_outcome_card(turn.t("toolbox.merge.done", title=target.title)))


async def _attach(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Joindre à une rencontre »: the agenda items of the community's upcoming meetings
    (facilitators only, checked here as for pin or merge)."""
    resource_id = param_int(value, "resource_id")
    if resource_id is None:
        await turn.say("error.unknown_action")
        return
    try:
        async with turn.sessions() as session:
            resource, choices = await toolbox.attach_choices(
                session, resource_id=resource_id, by_person_id=turn.person_id, now=turn.clock()
            )
    except ResourceNotFound:
        await turn.say("toolbox.gone")
        return
    except NotAllowed:
        await turn.say("toolbox.manage.not_allowed")
        return
    await turn.show(
        build_attach_card(resource, choices, locale=turn.info.locale, tz=turn.settings.timezone)
    )


async def _queue_agenda_update(session: AsyncSession, meeting_id: int) -> None:
    """The posted copies of the meeting's agenda card show the new link (updated in place
    through the outbox, as bot/meetings_flow.py does when the agenda changes)."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return
    for conversation_ref_id, activity_id, locale in await meetings.card_copies(
        session, meeting=meeting
    ):
        await outbox.enqueue(
            session,
            dedup_key=meetings.agenda_card_key(meeting_id, uuid.uuid4().hex),
            recipient=outbox.Recipient.conversation(conversation_ref_id),
            kind=meetings.KIND_AGENDA_CARD,
            params={"meeting_id": meeting_id, "activity_id": activity_id, "locale": locale},
        )


async def _attach_to(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Joindre »: the link, once (a second click, or the same choice again, adds nothing);
    the item must belong to an upcoming meeting of the resource's own community."""
    resource_id = param_int(value, "resource_id")
    item_id = as_int(value.get(INPUT_AGENDA_ITEM))
    if resource_id is None:
        await turn.say("error.unknown_action")
        return
    if item_id is None:
        await turn.say("toolbox.attach.choose")
        return
    try:
        async with transaction(turn.sessions) as session:
            resource, item, created = await toolbox.attach(
                session,
                resource_id=resource_id,
                agenda_item_id=item_id,
                by_person_id=turn.person_id,
                now=turn.clock(),
            )
            if created:
                await _queue_agenda_update(session, item.meeting_id)
    except ResourceNotFound:
        await turn.say("toolbox.gone")
        return
    except AgendaItemNotFound:
        await turn.say("toolbox.attach.item_gone")
        return
    except NotAllowed:
        await turn.say("toolbox.manage.not_allowed")
        return
    if created:
        turn.host.wake()
    key = "toolbox.attach.done" if created else "toolbox.attach.already"
    await turn.replace_clicked(
        build_outcome_card(turn.t(key, title=resource.title, item=item.title))
    )


# The toolbox cards' buttons, as bot/features/toolbox.py declares them; the host routes a
# button here only for a recorded sender (bot/registry.py).
ACTIONS: Mapping[str, VerbHandler] = {
    VERB_SHOW: _show,
    VERB_SHARE_START: _share_start,
    VERB_SHARE: _share,
    VERB_CANCEL: _cancel,
    VERB_MARK: _mark,
    VERB_PIN: _pin,
    VERB_EDIT: _edit,
    VERB_UPDATE: _update,
    VERB_REMOVE: _remove,
    VERB_MERGE: _merge,
    VERB_ATTACH: _attach,
    VERB_ATTACH_TO: _attach_to,
}
