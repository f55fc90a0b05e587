"""The Teams activity handler: one turn from arrival to saved state.

Order in a turn: drop a re-delivered activity · record the Person and where we can write back ·
resolve the language · route (card action, active dialog, command, help) · save dialog state.
"""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import (
    ActivityHandler,
    CardFactory,
    ConversationState,
    MessageFactory,
    TurnContext,
    UserState,
)
from botbuilder.dialogs import DialogSet, DialogTurnStatus
from botbuilder.schema import Activity, ChannelAccount

from bot.commands import Command, language_argument, parse
from bot.mentions import mentions_recipient, strip_mentions
from bot.settings import Settings
from cards.help import build_help_card
from cards.i18n import normalize_locale, translator
from dialogs.context import TURN_INFO_KEY, TurnInfo
from dialogs.language_dialog import LanguageDialog, save_language
from storage import activities, people
from storage.db import SessionFactory, transaction
from storage.models import ConversationScope

logger = logging.getLogger(__name__)


def _scope(activity: Activity) -> ConversationScope:
    kind = getattr(activity.conversation, "conversation_type", None) or "personal"
    if kind == "channel":
        return ConversationScope.CHANNEL
    if kind == "groupChat":
        return ConversationScope.GROUP_CHAT
    return ConversationScope.PERSONAL


def _channel_data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, dict) else {}


def _tenant_id(activity: Activity) -> str | None:
    tenant = getattr(activity.conversation, "tenant_id", None)
    if tenant:
        return str(tenant)
    from_data = _channel_data(activity).get("tenant")
    return str(from_data["id"]) if isinstance(from_data, dict) and from_data.get("id") else None


def _activity_claim_key(activity: Activity) -> str | None:
    """How a re-delivery is recognised; None when the activity carries no id."""
    conversation_id = getattr(activity.conversation, "id", None)
    if not activity.id or not conversation_id:
        return None
    return activities.activity_key(
        conversation_id=str(conversation_id), activity_id=str(activity.id)
    )


class CarrefourBot(ActivityHandler):  # type: ignore[misc]  # botbuilder is untyped
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionFactory,
        conversation_state: ConversationState,
        user_state: UserState,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._conversation_state = conversation_state
        self._user_state = user_state
        self._dialogs = DialogSet(conversation_state.create_property("DialogState"))
        self._dialogs.add(LanguageDialog(sessions))

    # -- the turn -------------------------------------------------------------------------

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        claim = _activity_claim_key(activity)
        if claim is not None and not await activities.claim_activity(self._sessions, key=claim):
            logger.info("activity already processed; ignoring the re-delivery")
            return
        try:
            turn_context.turn_state[TURN_INFO_KEY] = await self._record(turn_context)
            await super().on_turn(turn_context)
            await self._conversation_state.save_changes(turn_context)
            await self._user_state.save_changes(turn_context)
        except BaseException:
            # Let Teams' retry of this activity through: the turn did not complete.
            if claim:
                await activities.release_activity(self._sessions, key=claim)
            raise

    async def _record(self, turn_context: TurnContext) -> TurnInfo:
        """Upsert the Person and ConversationRef, and resolve the language of the turn."""
        activity = turn_context.activity
        sender: ChannelAccount | None = activity.from_property
        scope = _scope(activity)
        tenant_id = _tenant_id(activity)
        person_id: int | None = None
        preferred: str | None = None
        new_conversation = False
        async with transaction(self._sessions) as session:
            if sender is not None and sender.id:
                person = await people.record_participant(
                    session,
                    participant=people.Participant(
                        teams_user_id=str(sender.id)[:255],
                        aad_object_id=(sender.aad_object_id or None),
                        tenant_id=tenant_id,
                        name=(sender.name or None) and str(sender.name)[:255],
                        locale=(activity.locale or None) and str(activity.locale)[:16],
                    ),
                )
                person_id, preferred = person.id, person.preferred_locale
            if (
                activity.conversation is not None
                and activity.conversation.id
                and activity.service_url
            ):
                channel_data = _channel_data(activity)
                team = channel_data.get("team")
                channel = channel_data.get("channel")
                new_conversation = await people.remember_conversation(
                    session,
                    address=people.ConversationAddress(
                        conversation_id=str(activity.conversation.id)[:512],
                        scope=scope,
                        service_url=str(activity.service_url)[:512],
                        channel_id=str(activity.channel_id or "msteams")[:32],
                        tenant_id=tenant_id,
                        bot_id=getattr(activity.recipient, "id", None),
                        bot_name=getattr(activity.recipient, "name", None),
                        team_id=team.get("id") if isinstance(team, dict) else None,
                        teams_channel_id=channel.get("id") if isinstance(channel, dict) else None,
                    ),
                    person_id=person_id,
                )
        locale = normalize_locale(
            preferred or activity.locale, default=self._settings.default_locale
        )
        return TurnInfo(
            person_id=person_id,
            locale=locale,
            timezone=self._settings.timezone,
            in_channel=scope != ConversationScope.PERSONAL,
            new_conversation=new_conversation,
        )

    # -- messages ---------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        info: TurnInfo = turn_context.turn_state[TURN_INFO_KEY]
        if info.in_channel:
            if not mentions_recipient(activity):
                return  # in a channel, speak only when spoken to
            activity.text = strip_mentions(activity.text)

        if isinstance(activity.value, dict) and not activity.text:
            await self._on_card_action(turn_context, activity.value)
            return

        dialog_context = await self._dialogs.create_context(turn_context)
        if dialog_context.active_dialog is not None:
            result = await dialog_context.continue_dialog()
            if result.status != DialogTurnStatus.Empty:
                return

        parsed = parse(activity.text)
        t = translator(info.locale)
        if parsed.command is Command.LANGUAGE:
            chosen = language_argument(parsed.argument) if parsed.argument else None
            if chosen is not None:
                await save_language(self._sessions, turn_context, chosen)
            elif parsed.argument:
                await turn_context.send_activity(t("language.unknown"))
            else:
                await dialog_context.begin_dialog(LanguageDialog.ID)
        elif parsed.command is Command.CANCEL:
            await turn_context.send_activity(t("dialog.nothing_to_cancel"))
        else:
            await self._send_help(turn_context, info)

    async def _on_card_action(self, turn_context: TurnContext, value: dict[str, Any]) -> None:
        """Card buttons: route on `verb`. Card data is never trusted beyond choosing a route."""
        info: TurnInfo = turn_context.turn_state[TURN_INFO_KEY]
        verb = value.get("verb")
        if verb == "help.show":
            await self._send_help(turn_context, info)
        elif verb == "language.choose":
            dialog_context = await self._dialogs.create_context(turn_context)
            await dialog_context.cancel_all_dialogs()
            await dialog_context.begin_dialog(LanguageDialog.ID)
        elif verb == "language.set" and isinstance(value.get("locale"), str):
            chosen = language_argument(value["locale"].split("-")[0])
            if chosen is None:
                await turn_context.send_activity(translator(info.locale)("language.unknown"))
            else:
                await save_language(self._sessions, turn_context, chosen)
        else:
            logger.info("unknown card verb %r", str(verb)[:64])
            await turn_context.send_activity(translator(info.locale)("error.unknown_action"))

    async def _send_help(self, turn_context: TurnContext, info: TurnInfo) -> None:
        card = build_help_card(locale=info.locale, in_channel=info.in_channel)
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))

    # -- installation ------------------------------------------------------------------------

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        info: TurnInfo = turn_context.turn_state[TURN_INFO_KEY]
        bot_id = getattr(turn_context.activity.recipient, "id", None)
        if info.in_channel or not info.new_conversation:
            # Team installs and new team members belong to the communities feature; a client
            # that re-announces a known chat (the Playground does on every reload) gets no
            # second welcome.
            return
        for member in members_added:
            if member.id == bot_id:
                t = translator(info.locale)
                sender = turn_context.activity.from_property
                first_name = (sender.name or "").split(" ")[0] if sender is not None else ""
                greeting = (
                    t("welcome.personal", name=first_name)
                    if first_name
                    else t("welcome.personal_noname")
                )
                await turn_context.send_activity(greeting)
                await self._send_help(turn_context, info)

    async def on_unrecognized_activity_type(self, turn_context: TurnContext) -> None:
        return None
