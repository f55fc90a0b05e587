"""The help card: what the bot can do, one button per feature."""

from __future__ import annotations

from dataclasses import dataclass

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.i18n import Translate, translator


@dataclass(frozen=True, slots=True)
class Feature:
    """One thing the bot can do. Its texts are `command.<key>.title|description|button`."""

    key: str
    verb: str
    # Some commands need a channel or a mention: listed, without a button.
    button: bool = True
    # Teams' command menu holds 10 commands: animator-only ones stay in the help card.
    menu: bool = True
    # Listed apart on the help card, under "for facilitators".
    animators: bool = False


# In the order the help card and the Teams command menu show them. Features add themselves
# here as they land; the manifest's command lists are built from this tuple too.

FEATURES: tuple[Feature, ...] = (
    Feature(key="help", verb="help.show", button=False),
    Feature(key="communities", verb="communities.show"),
    Feature(key="join", verb="community.join"),
    Feature(key="propose", verb="topics.propose", button=False),
    Feature(key="topics", verb="topics.show"),
    Feature(key="agenda", verb="agenda.show", button=False),
    Feature(key="mentor", verb="mentor.request"),
    Feature(key="consultation", verb="consultation.request"),
    Feature(key="my_requests", verb="consultation.mine", button=False, menu=False),
    Feature(key="leave", verb="community.leave", button=False, menu=False),
    Feature(key="survey", verb="surveys.answer.show", button=False, menu=False),
    Feature(key="attestation", verb="attestation.show", button=False, menu=False),
    Feature(key="my_data", verb="privacy.show", button=False, menu=False),
    Feature(key="language", verb="language.choose"),
    Feature(key="setup", verb="community.setup", button=False, animators=True),
    Feature(key="plan", verb="meeting.plan.show", button=False, menu=False, animators=True),
    Feature(key="poll", verb="polls.help", button=False, menu=False, animators=True),
    Feature(key="results", verb="surveys.results.show", button=False, menu=False, animators=True),
    Feature(key="summary", verb="vitality.show.help", button=False, menu=False, animators=True),
    Feature(key="appoint", verb="roles.appoint", button=False, menu=False, animators=True),
    Feature(
        key="onboarding", verb="onboarding.plan.show", button=False, menu=False, animators=True
    ),
)


def _facts(t: Translate, features: list[Feature]) -> Element:
    return {
        "type": "FactSet",
        "facts": [
            {"title": t(f"command.{f.key}.title"), "value": t(f"command.{f.key}.description")}
            for f in features
        ],
    }


def build_help_card(
    features: tuple[Feature, ...] = FEATURES, *, locale: str, in_channel: bool = False
) -> Element:
    t = translator(locale)
    body: list[Element] = [
        heading(t("help.title")),
        paragraph(t("help.intro"), subtle=True, spacing="None"),
        _facts(t, [f for f in features if not f.animators]),
        heading(t("help.animators"), size="Medium"),
        _facts(t, [f for f in features if f.animators]),
        paragraph(t("help.channel_hint") if in_channel else t("help.personal_hint"), subtle=True),
    ]
    actions = [submit(t(f"command.{f.key}.button"), verb=f.verb) for f in features if f.button]
    return adaptive_card(body, actions)
