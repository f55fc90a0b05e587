"""The Teams activity handler: one turn from arrival to saved state.

Order in a turn: drop a re-delivered activity · record the Person and where we can write back ·
resolve the language · route (card action, active dialog, command, help) · save dialog state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, InvokeResponse
from microsoft_agents.hosting.core import (
    ActivityHandler,
    CardFactory,
    MessageFactory,
    TurnContext,
)
from microsoft_agents.hosting.dialogs import (
    DialogsComponentRegistration,
    DialogSet,
    DialogTurnResult,
    DialogTurnStatus,
)
from microsoft_agents.hosting.dialogs._component_registration import ComponentRegistration
from microsoft_agents.hosting.dialogs.memory import (
    ComponentMemoryScopesBase,
    ComponentPathResolversBase,
    DialogStateManagerConfiguration,
)

from bot import community_actions as actions
from bot.adapter import CarrefourAdapter
from bot.channels import channel_community
from bot.claims import NotAdmitted, TurnClaims, TurnKeys
from bot.commands import CANCEL_COMMAND, HELP_COMMAND, LANGUAGE_COMMAND, UNKNOWN_COMMAND, Parsed
from bot.community_actions import Services
from bot.invokes import Invokes, upgrade_invoke_names
from bot.mentions import mentions_recipient, strip_mentions
from bot.observability import NO_TELEMETRY, Telemetry
from bot.registry import Registry
from bot.replies import REPLIES_KEY, Replies
from bot.settings import Settings
from bot.tenancy import refuse_other_tenant
from bot.turns import FeatureTurn, replace_clicked_card
from cards.confirm import VERB_DISMISS, build_dismissed_card
from cards.help import VERB_RUN, build_suggestions_card
from cards.i18n import LANGUAGES, language_of, normalize_locale, translator
from cards.verbs import upgrade_names
from dialogs.base import simplify
from dialogs.context import TURN_INFO_KEY, TurnInfo, turn_info
from storage import activities, people
from storage.activities import Admission
from storage.db import SessionFactory, engine_of
from storage.direct import TurnConnection
from storage.models import ConversationScope, utcnow
from storage.outbox import reply_prefix
from storage.state_store import SqlPrivateConversationState, read_encoded_in

logger = logging.getLogger(__name__)

# In turn_state: whether the person has chosen a language (else their words may choose it).
LANGUAGE_SAVED_KEY = "carrefour.language_saved"

# The longest answer a prompt accepts is a consultation summary, 4,000 characters.
MAX_TEXT_CHARS = 5_000


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
        return str(tenant)[:64]
    from_data = _channel_data(activity).get("tenant")
    return (
        str(from_data["id"])[:64] if isinstance(from_data, dict) and from_data.get("id") else None
    )


def _turn_keys(activity: Activity) -> TurnKeys:
    """How a re-delivery is recognised, and whose turns wait for one another. Neither for an
    invoke (answered in the HTTP response and refused without effect: a re-delivery needs its
    answer again, where an ignored one would get the SDK's 501); no activity key without an
    activity id."""
    conversation_id = getattr(activity.conversation, "id", None)
    sender_id = getattr(activity.from_property, "id", None)
    if not conversation_id or activity.type == ActivityTypes.invoke:
        return TurnKeys(activity=None, turn=None)
    return TurnKeys(
        activity=activities.activity_key(
            conversation_id=str(conversation_id), activity_id=str(activity.id)
        )
        if activity.id
        else None,
        turn=activities.turn_key(conversation_id=str(conversation_id), sender_id=str(sender_id))
        if sender_id
        else None,
    )


def _dialog_memory() -> DialogStateManagerConfiguration:
    """The dialogs' memory scopes and path resolvers, as the SDK's DialogStateManager gathers
    them from the registered components. It does so in every turn that has none in its
    turn_state (3 % of a turn's CPU, bench/turns.py); they hold no state of a turn's, so the
    bot gathers them once and hands each turn the same."""
    ComponentRegistration.add(DialogsComponentRegistration())
    configuration = DialogStateManagerConfiguration()
    for component in ComponentRegistration.get_components():
        if isinstance(component, ComponentMemoryScopesBase):
            configuration.memory_scopes.extend(component.get_memory_scopes())
        if isinstance(component, ComponentPathResolversBase):
            configuration.path_resolvers.extend(component.get_path_resolvers())
    return configuration


class CarrefourBot(ActivityHandler):
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionFactory,
        adapter: CarrefourAdapter,
        private_state: SqlPrivateConversationState,
        wake: Callable[[], None],
        claims: TurnClaims,
        registry: Registry,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        """`registry`: what each feature handles (bot/registry.py), built by bot/app.py."""
        self._settings = settings
        self._registry = registry
        self._telemetry = telemetry
        self._sessions = sessions
        self._postgresql = engine_of(sessions).dialect.name == "postgresql"
        self._claims = claims
        self._private_state = private_state
        self._conversations = people.RecentConversations()
        # Dialog state is per person and conversation: in a channel, two people can each be in
        # their own dialog without answering each other's questions.
        self._dialogs = DialogSet(private_state.create_property("DialogState"))
        self._dialog_memory = _dialog_memory()
        # The form (dialog id) this person last sent here: a second click on its confirmation
        # button is then told so, rather than shown the help.
        self._last_form = private_state.create_property("LastForm")
        self.services = Services(
            settings=settings,
            sessions=sessions,
            adapter=adapter,
            dialogs=self._dialogs,
            wake=wake,
            save_state=self._save_state,
            help_entries=registry.help_entries,
        )
        # Waterfall dialogs, Teams dialogs and Universal Actions of the features that own them.
        for build in registry.dialogs:
            self._dialogs.add(build(self.services))
        self.invokes = Invokes()
        registry.register_invokes(self.invokes, settings)

    # -- the turn -------------------------------------------------------------------------

    # The SDK annotates handlers with TurnContextProtocol, but every adapter (CloudAdapter,
    # ours, the SDK's TestAdapter) builds a TurnContext, whose turn_state we rely on.
    async def on_turn(self, turn_context: TurnContext) -> None:  # type: ignore[override]  # adapters always pass a TurnContext
        activity = turn_context.activity
        # Teams waits 15 s for a turn: waiting for the turn ahead and retrying throttled
        # replies both come out of this budget.
        deadline = time.monotonic() + self._settings.turn_budget_seconds
        keys = _turn_keys(activity)
        turn_context.turn_state[DialogStateManagerConfiguration.__name__] = self._dialog_memory
        turn_context.turn_state[REPLIES_KEY] = Replies(
            sessions=self._sessions,
            conversation_id=str(getattr(activity.conversation, "id", None) or ""),
            prefix=reply_prefix(keys.activity),
            deadline=deadline,
            wake=self.services.wake,
            telemetry=self._telemetry,
        )
        async with self._claims.queued(keys, deadline) as first_in_line:
            admission = (
                await self._claims.admit(
                    keys, lambda now: self._begin(turn_context, keys, now), deadline
                )
                if first_in_line
                else Admission.LOCKED
            )
            if admission is not Admission.TAKEN:
                await self._not_admitted(turn_context, keys, admission)
                return
            try:
                await super().on_turn(turn_context)
                finished = await self._save_state_and_finish(turn_context, keys)
            except BaseException:
                # Let Teams' retry of this activity through: the turn did not complete.
                await self._claims.release(keys)
                raise
            await self._claims.finish(keys, final_already=finished)

    async def _not_admitted(
        self, turn_context: TurnContext, keys: TurnKeys, admission: Admission
    ) -> None:
        if admission is not Admission.LOCKED or self._claims.running_here(keys.activity):
            # Done, or its first delivery still runs (here or on a live replica) and answers.
            logger.info("activity already processed or in progress; ignoring the re-delivery")
            return
        # The same person's previous turn (here or on another replica) still runs past the
        # budget: say so rather than run both at once (both would answer one question).
        logger.warning("a turn waited for the same person's previous turn in vain")
        locale = normalize_locale(
            turn_context.activity.locale, default=self._settings.default_locale
        )
        await turn_context.send_activity(translator(locale)("turn.busy"))

    def _dialog_state_key(self, turn_context: TurnContext) -> str | None:
        """The dialog state's key when this turn may need it (messages reach dialogs)."""
        if turn_context.activity.type != ActivityTypes.message:
            return None
        try:
            key: str = self._private_state.get_storage_key(turn_context)
        except TypeError:  # no channel, conversation or sender id: nothing to read
            return None
        return key

    async def _save_state(self, turn_context: TurnContext) -> None:
        await self._private_state.save_changes(turn_context)

    async def _save_state_and_finish(self, turn_context: TurnContext, keys: TurnKeys) -> bool:
        """Save the turn's dialog state; on PostgreSQL the same statement makes the turn's
        claim final (storage/activities.py `save_state_and_finish`). True when it did; else
        the claim is made final after, as on SQLite."""
        claim = self._claims.claim_of(keys)
        pending = self._private_state.pending(turn_context) if claim is not None else None
        if claim is None or pending is None or not self._postgresql:
            await self._save_state(turn_context)
            return False
        saved, finished = await activities.save_state_and_finish(
            engine_of(self._sessions),
            claim=claim,
            key=pending.key,
            data=pending.data,
            etag=pending.etag,
            expected=pending.expected,
            now=utcnow(),
        )
        if not saved:
            # The etag moved on (another turn saved first) or the row is gone: the usual
            # write says which, and raises on a conflict; nothing was changed here.
            await self._save_state(turn_context)
            return False
        self._private_state.saved(turn_context, pending)
        return finished

    async def _begin(self, turn_context: TurnContext, keys: TurnKeys, now: datetime) -> None:
        """The turn's first unit of work: claim the activity and the sender's turn, recording
        the Person (NotAdmitted when either is held: nothing is written), then record the
        ConversationRef and read the dialog state, resolve the language into the turn's
        TurnInfo. One connection checkout; on PostgreSQL the claim, the Person and the dialog
        state read are one statement (`activities.claim_turn`); on SQLite the state is read
        after the claim's transaction committed, so that the writer is not held for it."""
        activity = turn_context.activity
        sender: ChannelAccount | None = activity.from_property
        scope = _scope(activity)
        tenant_id = _tenant_id(activity)
        participant = (
            people.Participant(
                teams_user_id=str(sender.id),
                aad_object_id=_at_most(sender.aad_object_id, 64),
                tenant_id=tenant_id,
                name=(sender.name or None) and str(sender.name),
                locale=(activity.locale or None) and str(activity.locale)[:16],
            )
            if sender is not None and sender.id
            else None
        )
        person_id: int | None = None
        preferred: str | None = None
        new_conversation = False
        address = _address(activity, scope, tenant_id)
        state_key = self._dialog_state_key(turn_context)
        # Core connections rather than an ORM session: these are plain statements, and the
        # session's bookkeeping costs more than they do. On PostgreSQL the claim needs no
        # connection of the turn's own (storage/direct.py), and usually nothing else does.
        async with TurnConnection(engine_of(self._sessions)) as turn_connection:
            claimed = await activities.claim_turn(
                turn_connection,
                activity=keys.activity,
                turn=keys.turn,
                owner=self._claims.owner,
                now=now,
                lease=self._claims.lease,
                sender=participant,
                state_key=state_key,
            )
            if claimed.admission is not Admission.TAKEN:
                raise NotAdmitted(claimed.admission)
            try:
                if claimed.sender is not None:
                    person_id = claimed.sender.person_id
                    preferred = claimed.sender.preferred_locale
                # Autocommit from here: each statement is its own transaction.
                recorded = address is not None and not self._conversations.fresh(address, person_id)
                if address is not None and recorded:
                    new_conversation = await people.remember_conversation(
                        await turn_connection.autocommit(), address=address, person_id=person_id
                    )
                    self._conversations.remember(address, person_id)
                if state_key is not None:
                    stored = claimed.state
                    if stored is None:  # not read with the claim
                        stored = await read_encoded_in(
                            await turn_connection.autocommit(), [state_key]
                        )
                    self._private_state.prime(turn_context, stored.get(state_key))
            except BaseException:
                # The claim is committed: give it back, as a failed turn does, so that
                # Teams' retry of this activity and the sender's next turn are not kept
                # out until its lease ends.
                await self._claims.give_back(keys)
                raise
        locale = normalize_locale(
            preferred or activity.locale, default=self._settings.default_locale
        )
        turn_context.turn_state[LANGUAGE_SAVED_KEY] = preferred is not None
        turn_context.turn_state[TURN_INFO_KEY] = TurnInfo(
            person_id=person_id,
            locale=locale,
            timezone=self._settings.timezone,
            in_channel=scope != ConversationScope.PERSONAL,
            new_conversation=new_conversation,
            tenant_id=tenant_id,
        )

    # -- messages ---------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]  # adapters always pass a TurnContext
        activity = turn_context.activity
        info = turn_info(turn_context)
        if isinstance(activity.text, str) and len(activity.text) > MAX_TEXT_CHARS:
            # Longer than any answer a prompt accepts, so its validator still says "too long";
            # and the SDK's choice recognizers are quadratic (30 KB of "1 1 1…", within Teams'
            # message size, held the event loop 11 s).
            activity.text = activity.text[:MAX_TEXT_CHARS]
        if info.in_channel:
            if not mentions_recipient(activity) and not isinstance(activity.value, dict):
                return  # in a channel, speak only when spoken to (card buttons excepted)
            activity.text = strip_mentions(activity.text)

        value = activity.value if isinstance(activity.value, dict) else None
        if value is not None:
            # A card posted before its verb was renamed sends the old name: from here on,
            # dialogs and features see only today's (in the activity itself).
            upgrade_names(value, "verb")
        verb = str(value.get("verb", "")) if value is not None and not activity.text else ""
        if value is not None and await refuse_other_tenant(
            turn_context, value, sessions=self._sessions, info=info
        ):
            return  # before dialogs too: a form's values reach them
        parsed = self._registry.vocabulary.parse(activity.text) if activity.text else None
        if parsed is not None:
            await self._adopt_language(turn_context, info, parsed)
        dialog_context = await self._dialogs.create_context(turn_context)
        if (
            dialog_context.active_dialog is not None
            and parsed is not None
            and parsed.alone
            and parsed.command != CANCEL_COMMAND  # the dialog says it cancelled
        ):
            # A command's words alone are not an answer (no topic titled « sujets »): `aide`
            # shows the help and asks the question again; any other command stops the dialog,
            # says so, and runs.
            if parsed.command == HELP_COMMAND:
                await self._send_help(turn_context, info)
                await dialog_context.reprompt_dialog()  # type: ignore[no-untyped-call]  # unannotated in the SDK
                return
            await dialog_context.cancel_all_dialogs()
            title = translator(info.locale)(f"command.{parsed.command}.title")
            await turn_context.send_activity(
                translator(info.locale)("dialog.interrupted", command=title)
            )
            await self._on_command(turn_context, parsed)
            return
        if dialog_context.active_dialog is not None and not self._registry.acts_in_dialog(verb):
            form = dialog_context.active_dialog.id
            # continue_dialog is unannotated in the SDK; it returns a DialogTurnResult.
            result: DialogTurnResult = await dialog_context.continue_dialog()  # type: ignore[no-untyped-call]
            if (
                result.status == DialogTurnStatus.Complete
                and result.result is not None
                and self._registry.form_confirmation(form) is not None
            ):
                await self._last_form.set(turn_context, form)
            if result.status != DialogTurnStatus.Empty:
                return
        elif dialog_context.active_dialog is None and await self._confirmed_again(turn_context):
            return
        if value is not None and not activity.text:
            await self._on_card_action(turn_context, verb, value)
            return
        await self._on_command(turn_context, parsed or Parsed(UNKNOWN_COMMAND))

    async def _adopt_language(
        self, turn_context: TurnContext, info: TurnInfo, parsed: Parsed
    ) -> None:
        """A person who never chose a language and writes a command in French (`aide`,
        `rejoindre`) is answered in French whatever their client's locale, and likewise in
        English; the choice is saved as `langue` saves it. Words of both languages
        (`consultation`, a name, « ok ») change nothing. `langue …` saves on its own."""
        if (
            parsed.language is None
            or turn_context.turn_state.get(LANGUAGE_SAVED_KEY, True)
            or (parsed.command == LANGUAGE_COMMAND and parsed.argument)
            # Words in the client's own language: nothing to correct, and nothing to keep
            # (a later client in another language still counts).
            or language_of(parsed.language) == language_of(info.locale)
        ):
            return
        info.locale = parsed.language
        turn_context.turn_state[LANGUAGE_SAVED_KEY] = True
        if info.person_id is not None:
            await people.remember_locale(
                engine_of(self._sessions), person_id=info.person_id, locale=parsed.language
            )

    async def _confirmed_again(self, turn_context: TurnContext) -> bool:
        """A click on the confirmation button of the form this person last sent, with no
        dialog waiting (a double click: the first click sent it): say so."""
        text = turn_context.activity.text
        form = await self._last_form.get(turn_context) if isinstance(text, str) else None
        key = self._registry.form_confirmation(form)
        if (
            key is None
            or not isinstance(text, str)
            or simplify(text) not in {simplify(translator(language)(key)) for language in LANGUAGES}
        ):
            return False
        info = turn_info(turn_context)
        await turn_context.send_activity(translator(info.locale)("dialog.already_sent"))
        return True

    def _feature_turn(self, turn_context: TurnContext) -> FeatureTurn:
        """This turn as the features' handlers see it."""
        info = turn_context.turn_state[TURN_INFO_KEY]
        assert isinstance(info, TurnInfo)  # set by `_begin`, first thing in the turn
        return FeatureTurn(
            context=turn_context,
            sessions=self._sessions,
            info=info,
            wake=self.services.wake,
            services=self.services,
        )

    async def _on_command(self, turn_context: TurnContext, parsed: Parsed) -> None:
        """A typed command, to the feature that declares it (bot/features/)."""
        info = turn_info(turn_context)
        handler = self._registry.command(parsed.command)
        if handler is not None:
            await handler(self._feature_turn(turn_context), parsed)
        elif (
            parsed.command == UNKNOWN_COMMAND
            and parsed.argument
            and info.in_channel
            and await self._registry.thread_reply(self._feature_turn(turn_context))
        ):
            return  # a reply in the thread of a feature's card (an answer to a question)
        elif parsed.argument:
            await self._suggest(turn_context, info, parsed.argument)
        elif parsed.command != HELP_COMMAND:
            # Nothing but a mention (or « ? »): the person asks what the bot does.
            await self._send_help(turn_context, info)

    async def _suggest(self, turn_context: TurnContext, info: TurnInfo, typed: str) -> None:
        """Text that is no command: the closest commands as buttons, else a short pointer."""
        t = translator(info.locale)
        close = self._registry.vocabulary.suggestions(typed)
        if not close:
            await turn_context.send_activity(t("command.unknown"))
            return
        words = [
            (
                " ".join(filter(None, (t(f"command.{s.command}.title"), s.argument))),
                s.command,
                s.argument,
            )
            for s in close
        ]
        card = build_suggestions_card(words, locale=info.locale)
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))

    async def _on_card_action(
        self, turn_context: TurnContext, verb: str, value: dict[str, Any]
    ) -> None:
        """Card buttons: route on `verb` to the feature that declares it. Card data only
        chooses a route; every permission is checked again on the server."""
        info = turn_info(turn_context)
        if verb == VERB_RUN:
            # A « Vouliez-vous dire » button: the command, as if typed (its own checks apply).
            command = str(value.get("command", ""))
            argument = value.get("argument")
            if (
                command not in self._registry.commands
                or not isinstance(argument, str)
                or len(argument) > 200
            ):
                await turn_context.send_activity(translator(info.locale)("error.unknown_action"))
            else:
                await self._on_command(turn_context, Parsed(command, argument))
        elif verb == VERB_DISMISS:
            await replace_clicked_card(turn_context, build_dismissed_card(translator(info.locale)))
        elif await self._registry.press(self._feature_turn(turn_context), value):
            pass
        else:
            logger.info("unknown card verb %r", verb[:64])
            await turn_context.send_activity(translator(info.locale)("error.unknown_action"))

    async def _send_help(self, turn_context: TurnContext, info: TurnInfo) -> None:
        """The help card, as the help feature shows it (welcome, a mention alone, `aide` in
        a dialog)."""
        await self._on_command(turn_context, Parsed(HELP_COMMAND))

    # -- installation and team changes ----------------------------------------------------------

    async def on_members_added_activity(  # type: ignore[override]  # as on_turn
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        info = turn_info(turn_context)
        bot_id = getattr(turn_context.activity.recipient, "id", None)
        if info.in_channel:
            if any(member.id == bot_id for member in members_added):
                await self._say_installed(turn_context, info)
            people_added = [m for m in members_added if m.id != bot_id]
            if people_added:
                await actions.on_team_members_added(self.services, turn_context, people_added)
            return
        if not info.new_conversation:
            # A client that re-announces a known chat (the Playground does on every reload)
            # gets no second welcome.
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

    async def _say_installed(self, turn_context: TurnContext, info: TurnInfo) -> None:
        """The bot added to a team: how to create a community here, or — in a channel that
        already has one (the bot removed and added again) — what members can do."""
        community = await channel_community(self._sessions, info, turn_context.activity)
        t = translator(info.locale)
        await turn_context.send_activity(
            t("team.installed_linked", community=community.name)
            if community is not None
            else t("team.installed")
        )

    async def on_unrecognized_activity_type(self, turn_context: TurnContext) -> None:  # type: ignore[override]  # adapters always pass a TurnContext
        return None

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:  # type: ignore[override]  # adapters always pass a TurnContext
        """Teams dialogs and Universal Actions, answered in the HTTP response by what features
        registered in `self.invokes`; anything else is refused plainly (the SDK would answer
        501, a server error for a client's request, or fail with a 500 on its own
        unserialisable 400 body for a malformed `adaptiveCard/action`)."""
        activity = turn_context.activity
        info = turn_info(turn_context)
        value = activity.value if isinstance(activity.value, dict) else {}
        upgrade_invoke_names(value)  # before anything reads them (the tenant check does)
        data = value.get("data") or (value.get("action") or {}).get("data")
        if isinstance(data, dict) and await refuse_other_tenant(
            turn_context, data, sessions=self._sessions, info=info, quiet=True
        ):
            return InvokeResponse(status=int(HTTPStatus.FORBIDDEN))
        return await self.invokes.answer(
            self._feature_turn(turn_context), str(activity.name or ""), activity.value
        )


def _at_most(value: object, length: int) -> str | None:
    return str(value)[:length] if value else None


def _address(
    activity: Activity, scope: ConversationScope, tenant_id: str | None
) -> people.ConversationAddress | None:
    """Where the bot can write back; None when the activity does not say."""
    if activity.conversation is None or not activity.conversation.id or not activity.service_url:
        return None
    channel_data = _channel_data(activity)
    team = channel_data.get("team")
    channel = channel_data.get("channel")
    return people.ConversationAddress(
        conversation_id=str(activity.conversation.id)[:512],
        scope=scope,
        service_url=str(activity.service_url)[:512],
        channel_id=str(activity.channel_id or "msteams")[:32],
        tenant_id=tenant_id,
        # Column lengths: PostgreSQL refuses longer values (no Teams id is).
        bot_id=_at_most(getattr(activity.recipient, "id", None), 255),
        bot_name=_at_most(getattr(activity.recipient, "name", None), 255),
        team_id=_at_most(team.get("id") if isinstance(team, dict) else None, 255),
        teams_channel_id=_at_most(channel.get("id") if isinstance(channel, dict) else None, 255),
    )
