"""The help card: the commands the bot understands, as the features declare them.

Each feature declares its commands (bot/registry.py `Command`), and each command's help entry
(`HelpEntry`): where it is listed, for whom, whether it has a button. The registry gathers
them, in the features' order; the help card, the Teams manifest's command menu (bot/manifest.py)
and the parser (bot/commands.py) read that one list, and the user guide names each command
(tests/test_commands.py checks it)."""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.i18n import Translate, translator


class Audience(enum.StrEnum):
    """Who a command is for; the values are the membership roles (storage.models.Role)."""

    MEMBER = "member"
    ANIMATOR = "animator"
    COORDINATOR = "coordinator"


class Group(enum.StrEnum):
    """Headings of the help card, in this order; texts `help.group.<value>`."""

    COMMUNITY = "community"
    MEETINGS = "meetings"
    SUPPORT = "support"
    YOU = "you"


@dataclass(frozen=True, slots=True)
class HelpEntry:
    """One command on the help card. Its texts are `command.<key>.title|description|button`."""

    key: str
    group: Group = Group.YOU
    audience: Audience = Audience.MEMBER
    # On the short help card: the few commands a newcomer needs first. The rest are one click
    # away (« Toutes les commandes »).
    first: bool = False
    # Teams' command menu holds 10 commands per scope.
    menu: bool = False
    # The verb of its button on the help card; "" for commands that need a channel, a mention
    # or an argument (listed, without a button).
    verb: str = ""
    # Another role that may use it, listed to them too (coordinators' tools that facilitators
    # also use).
    also: Audience | None = None
    # Only works in a team channel (a community is created from its channel): kept out of the
    # personal chat's command menu.
    channel_only: bool = False

    def for_audience(self, audience: Audience) -> bool:
        return audience in (self.audience, self.also)

    @property
    def button(self) -> bool:
        return bool(self.verb)


# The verbs of the help card's own buttons.
VERB_ALL = "help.all"
VERB_RUN = "help.run"


def _facts(t: Translate, features: list[HelpEntry]) -> Element:
    return {
        "type": "FactSet",
        "facts": [
            {"title": t(f"command.{f.key}.title"), "value": t(f"command.{f.key}.description")}
            for f in features
        ],
    }


def build_help_card(
    features: Sequence[HelpEntry],
    *,
    locale: str,
    in_channel: bool = False,
    roles: Collection[str] = (),
    setup_here: bool = False,
    full: bool = False,
) -> Element:
    """What the person can do: short (the first commands) unless `full`. Animators' and
    coordinators' commands only for `roles` that hold them in the community concerned;
    `setup_here`: a channel with no community yet, where anyone may create one."""
    t = translator(locale)
    shown = [f for f in features if full or f.first]
    body: list[Element] = [
        heading(t("help.all_title") if full else t("help.title")),
        paragraph(t("help.intro"), subtle=True, spacing="None"),
    ]
    for group in Group:
        listed = [f for f in shown if f.audience is Audience.MEMBER and f.group is group]
        if listed:
            body += [heading(t(f"help.group.{group.value}"), size="Medium"), _facts(t, listed)]
    listed_already: set[str] = set()
    for audience, title in (
        (Audience.ANIMATOR, "help.animators"),
        (Audience.COORDINATOR, "help.coordinators"),
    ):
        listed = [f for f in shown if f.for_audience(audience) and f.key not in listed_already]
        if audience.value not in roles:
            # Creating a community makes its author an animator: offered where there is none.
            listed = (
                [f for f in features if f.channel_only]
                if setup_here and audience is Audience.ANIMATOR
                else []
            )
        if listed:
            body += [heading(t(title), size="Medium"), _facts(t, listed)]
            listed_already.update(f.key for f in listed)
    body.append(
        paragraph(t("help.channel_hint") if in_channel else t("help.personal_hint"), subtle=True)
    )
    # The first commands' buttons, then the language's (for whoever reads the wrong one).
    buttoned = [f for f in features if f.button and f.first]
    buttoned += [f for f in features if f.button and not f.first and f.key == "language"]
    actions = [submit(t(f"command.{f.key}.button"), verb=f.verb) for f in buttoned]
    if not full:
        actions.append(submit(t("help.all"), verb=VERB_ALL))
    return adaptive_card(body, actions)


def build_suggestions_card(words: list[tuple[str, str, str]], *, locale: str) -> Element:
    """« Vouliez-vous dire … ? », one button per (title, feature key, argument)
    that runs the command when clicked."""
    t = translator(locale)
    text = (
        t("command.did_you_mean_one", command=words[0][0])
        if len(words) == 1
        else t("command.did_you_mean")
    )
    actions = [
        submit(title, verb=VERB_RUN, command=key, argument=argument)
        for title, key, argument in words
    ]
    actions.append(submit(t("help.button"), verb="help.show"))
    return adaptive_card([paragraph(text)], actions)
