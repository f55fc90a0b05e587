"""What each feature handles, and the one table the host routes by.

A feature (bot/features/<name>.py) declares a `Feature`: the commands it answers (their
words in French and English and their place on the help card), its card
buttons' verbs (and which of them act even while a dialog waits for an answer), its outbox
kinds, its HTTP routes, its Teams dialogs and Universal Actions, its waterfall dialogs, its
scheduled jobs. The
host (bot/handler.py, bot/app.py) builds one `Registry` of them at start-up and routes by it;
a name declared twice, or a verb not named after its feature, stops the start-up rather than
leaving one of two handlers silently unreachable.

This module hosts: it imports no feature (the composition is bot/features/__init__.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from aiohttp import web
from microsoft_agents.hosting.dialogs import Dialog

from bot.commands import UNKNOWN_COMMAND, Parsed, Vocabulary, Words
from bot.deliveries import Renderer, render_notice, render_reply
from bot.invokes import Invokes
from bot.settings import Settings
from bot.turns import FeatureTurn, VerbHandler
from cards.confirm import VERB_DISMISS
from cards.help import VERB_RUN, Audience, Group, HelpEntry
from cards.verbs import VERB_PATTERN, follows_pattern
from storage.db import SessionFactory
from storage.outbox import KIND_NOTICE, KIND_REPLY

if TYPE_CHECKING:
    from bot.community_actions import Services

CommandHandler = Callable[[FeatureTurn, Parsed], Awaitable[None]]
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Registers a feature's Teams dialogs (task modules) and Universal Actions.
InvokeRegistration = Callable[[Invokes, Settings], None]
# Builds one of a feature's waterfall dialogs from the host's services.
DialogFactory = Callable[["Services"], Dialog]
# A message to the bot in a channel thread that is no command: True when the feature took it
# (a reply in the thread of a card it posted), False to leave it to the host.
ThreadReplyHandler = Callable[[FeatureTurn], Awaitable[bool]]


# Buttons the host answers itself, even while a dialog waits: a « Vouliez-vous dire » button
# runs a command as if typed (through this registry), and any confirmation card's « Ignorer »
# replaces it. Named like the host features' verbs (`help.*`, `confirm.*`).
HOST_VERBS = frozenset({VERB_RUN, VERB_DISMISS})

# Outbox kinds of no feature: a plain notice, and a reply a throttled turn left to the outbox.
HOST_RENDERERS: Mapping[str, Renderer] = MappingProxyType(
    {KIND_NOTICE: render_notice, KIND_REPLY: render_reply}
)


@dataclass(frozen=True, slots=True)
class Route:
    """An HTTP GET route of a feature (signed links: the token is the authorisation)."""

    path: str
    handler: RouteHandler


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a scheduled job runs with: the runner's (bot/scheduler.py `Jobs`) settings,
    database, outbox wake-up and clock (frozen in tests)."""

    settings: Settings
    sessions: SessionFactory
    wake: Callable[[], None]
    clock: Callable[[], datetime]

    def now(self) -> datetime:
        return self.clock()


@dataclass(frozen=True, slots=True)
class Job:
    """Timed work, run every `every` and once at start (the catch-up after downtime): it must
    be idempotent, since every replica runs it. `name` is its scheduler id."""

    name: str
    every: timedelta
    run: Callable[[JobContext], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Command:
    """A command a feature answers. Its words are its catalog title in each language
    (`command.<key>.title`, also its description and button: `.description`, `.button`) plus
    the synonyms below; the rest says where the help card and Teams' command menu list it."""

    key: str
    handler: CommandHandler
    group: Group = Group.YOU
    audience: Audience = Audience.MEMBER
    first: bool = False  # on the short help card
    menu: bool = False  # in Teams' command menu (10 per scope at most)
    verb: str = ""  # its button on the help card, if it needs no argument
    also: Audience | None = None  # another role it is listed to
    channel_only: bool = False
    # More words people type, by language (a word of one language only tells which language
    # the person writes in), and words of both.
    french: tuple[str, ...] = ()
    english: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    takes_argument: bool = False  # `attestation 2026`, `quitter X`
    elided_de: bool = False  # « bilan d'octobre » → "octobre"

    @property
    def help(self) -> HelpEntry:
        return HelpEntry(
            self.key,
            self.group,
            self.audience,
            first=self.first,
            menu=self.menu,
            verb=self.verb,
            also=self.also,
            channel_only=self.channel_only,
        )

    @property
    def words(self) -> Words:
        return Words(
            self.key,
            french=self.french,
            english=self.english,
            shared=self.shared,
            takes_argument=self.takes_argument,
            elided_de=self.elided_de,
        )


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    commands: tuple[Command, ...] = ()
    verbs: Mapping[str, VerbHandler] = field(default_factory=dict)
    # Verbs that act even while a dialog waits (any other button then answers the dialog).
    verbs_in_dialog: frozenset[str] = frozenset()
    renderers: Mapping[str, Renderer] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    invokes: InvokeRegistration | None = None
    dialogs: tuple[DialogFactory, ...] = ()
    # Forms whose last step sends something: dialog id → catalog key of the sending button. A
    # second click on that button, once the form is sent, is told so (bot/handler.py).
    form_confirmations: Mapping[str, str] = field(default_factory=dict)
    jobs: tuple[Job, ...] = ()
    thread_replies: ThreadReplyHandler | None = None


class DuplicateDeclaration(ValueError):
    """Two declarations of one name, or a name its feature may not declare."""


def _owner_of(verb: str) -> str | None:
    """The feature a verb belongs to (cards/verbs.py); None for a name that is no verb."""
    match = VERB_PATTERN.fullmatch(verb)
    return match["feature"] if match is not None and follows_pattern(verb) else None


class Registry:
    """Every feature's declarations, checked once; what the host looks up in each turn."""

    def __init__(self, features: Iterable[Feature]) -> None:
        self.features: tuple[Feature, ...] = tuple(features)
        commands: dict[str, Command] = {}
        verbs: dict[str, VerbHandler] = {}
        in_dialog: set[str] = set(HOST_VERBS)
        renderers: dict[str, Renderer] = dict(HOST_RENDERERS)
        routes: dict[str, Route] = {}
        jobs: dict[str, Job] = {}
        forms: dict[str, str] = {}
        names: set[str] = set()
        for feature in self.features:
            if feature.name in names:
                raise DuplicateDeclaration(f"feature {feature.name!r} declared twice")
            names.add(feature.name)
            for command in feature.commands:
                if command.key == UNKNOWN_COMMAND:
                    raise DuplicateDeclaration("unknown text is the host's (suggestions)")
                _add(commands, command.key, command, what="command", feature=feature.name)
            for verb, verb_handler in feature.verbs.items():
                if verb in HOST_VERBS:
                    raise DuplicateDeclaration(f"verb {verb!r} is answered by the host")
                _add(verbs, verb, verb_handler, what="verb", feature=feature.name)
                if _owner_of(verb) != feature.name:
                    raise DuplicateDeclaration(
                        f"verb {verb!r} declared by {feature.name!r}: "
                        f"a verb is named <feature>.<action> after the feature that owns it"
                    )
            stray = feature.verbs_in_dialog - set(feature.verbs)
            if stray:
                raise DuplicateDeclaration(
                    f"{feature.name!r} lets verbs it does not declare act in a dialog: "
                    f"{sorted(stray)}"
                )
            in_dialog.update(feature.verbs_in_dialog)
            for kind, renderer in feature.renderers.items():
                _add(renderers, kind, renderer, what="outbox kind", feature=feature.name)
            for route in feature.routes:
                _add(routes, route.path, route, what="route", feature=feature.name)
            for job in feature.jobs:
                _add(jobs, job.name, job, what="job", feature=feature.name)
            for form, key in feature.form_confirmations.items():
                _add(forms, form, key, what="form", feature=feature.name)
        self._commands = MappingProxyType(commands)
        # Words naming two commands stop the start-up too (ValueError from Vocabulary).
        self.vocabulary = Vocabulary(command.words for command in commands.values())
        self.help_entries: tuple[HelpEntry, ...] = tuple(c.help for c in commands.values())
        self._verbs = MappingProxyType(verbs)
        self._in_dialog = frozenset(in_dialog)
        self._renderers = MappingProxyType(renderers)
        self._routes = tuple(routes.values())
        self._jobs = MappingProxyType(jobs)
        self._forms = MappingProxyType(forms)
        self._thread_replies = tuple(
            f.thread_replies for f in self.features if f.thread_replies is not None
        )

    def command(self, key: str) -> CommandHandler | None:
        command = self._commands.get(key)
        return command.handler if command is not None else None

    def verb(self, name: str) -> VerbHandler | None:
        return self._verbs.get(name)

    async def press(self, turn: FeatureTurn, value: dict[str, Any]) -> bool:
        """A card button, to the feature that declares its verb; False when none does. Every
        feature's buttons act for a recorded person: a turn whose sender could not be recorded
        (bot/app.py refuses an activity without a sender id, so never in practice) is told the
        action is unknown, here rather than in each feature."""
        verb = value.get("verb")
        handler = self._verbs.get(verb) if isinstance(verb, str) else None
        if handler is None:
            return False
        if turn.info.person_id is None:
            await turn.say("error.unknown_action")
            return True
        await handler(turn, value)
        return True

    async def thread_reply(self, turn: FeatureTurn) -> bool:
        """A channel thread message that is no command, to the feature whose card the thread
        is under; False when none takes it."""
        for handler in self._thread_replies:
            if await handler(turn):
                return True
        return False

    def form_confirmation(self, form: object) -> str | None:
        """The catalog key of the sending button of a form (a dialog id), if it has one."""
        return self._forms.get(form) if isinstance(form, str) else None

    def acts_in_dialog(self, verb: str) -> bool:
        """Whether a button with this verb acts even while a dialog waits for an answer."""
        return verb in self._in_dialog

    @property
    def commands(self) -> Mapping[str, Command]:
        """Every feature's commands by key, in the features' order (the help card's)."""
        return self._commands

    @property
    def verbs(self) -> Mapping[str, VerbHandler]:
        return self._verbs

    @property
    def verbs_in_dialog(self) -> frozenset[str]:
        return self._in_dialog

    @property
    def renderers(self) -> Mapping[str, Renderer]:
        """Every outbox kind (the host's and the features'), for the dispatcher."""
        return self._renderers

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    @property
    def jobs(self) -> Mapping[str, Job]:
        """Every feature's scheduled jobs by name (the host adds its own: bot/scheduler.py)."""
        return self._jobs

    @property
    def dialogs(self) -> tuple[DialogFactory, ...]:
        return tuple(build for feature in self.features for build in feature.dialogs)

    def register_invokes(self, invokes: Invokes, settings: Settings) -> None:
        """Every feature's Teams dialogs and Universal Actions (`Invokes` refuses a name
        registered twice)."""
        for feature in self.features:
            if feature.invokes is not None:
                feature.invokes(invokes, settings)


def _add(table: dict[Any, Any], key: Any, value: Any, *, what: str, feature: str) -> None:
    if key in table:
        raise DuplicateDeclaration(f"{what} {key!r} declared twice (again by {feature!r})")
    table[key] = value
