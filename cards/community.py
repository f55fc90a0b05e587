"""Community cards: the one-pager (napperon), the list to join, welcome, setup form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.confirm import build_confirmation_card, build_outcome_card
from cards.i18n import format_span, plural, translator
from cards.review import production_text
from storage.models import Community, Meeting, MeetingMode, Role
from storage.review import ProductionLine

# Group rules pre-filled at setup (DOMAIN.md: confidentiality, respect of differing opinions,
# punctuality, cameras on for remote participants).
DEFAULT_RULE_KEYS = (
    "community.rule.confidentiality",
    "community.rule.respect",
    "community.rule.punctuality",
    "community.rule.cameras",
)

DISCIPLINES = (
    "social_work",
    "psychology",
    "nursing",
    "community_organizing",
    "psychoeducation",
    "occupational_therapy",
    "nutrition",
    "medicine",
    "spiritual_care",
)
# Quebec's 17 administrative regions, by their official number.
REGIONS = tuple(f"{n:02d}" for n in range(1, 18))
_ROLES = frozenset(role.value for role in Role)
DEFAULT_INTERESTS = (
    "case_discussion",
    "training",
    "tools",
    "practice_sharing",
    "newcomers",
)


def discipline_label(code: str, *, locale: str) -> str:
    t = translator(locale)
    return t(f"discipline.{code}") if code in DISCIPLINES else code


def region_label(code: str, *, locale: str) -> str:
    return translator(locale)(f"region.{code}") if code in REGIONS else code


def role_label(code: str, *, locale: str) -> str:
    """« membre », « animation »…: what a role is called; an unknown code is shown as stored."""
    return translator(locale)(f"role.{code}") if code in _ROLES else code


def interest_options(community: Community, *, locale: str) -> list[str]:
    """What a member can pick as interests: the community's themes, else the usual ones."""
    themes = [part.strip() for part in community.theme.replace(";", ",").split(",") if part.strip()]
    if len(themes) >= 2:
        return themes
    t = translator(locale)
    return [t(f"interest.{key}") for key in DEFAULT_INTERESTS]


def _mode(mode: str, locale: str) -> str:
    return translator(locale)(f"meeting.mode.{MeetingMode(mode).value}")


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


@dataclass(frozen=True, slots=True)
class OnePager:
    community: Community
    animators: list[str]
    next_meeting: Meeting | None
    member_count: int
    # The register's latest productions (storage/review.py; all of them: `productions`).
    productions: Sequence[ProductionLine] = ()


def build_one_pager_card(page: OnePager, *, locale: str, tz: str) -> Element:
    """The napperon: what the community is, when it meets, its rules and who runs it."""
    t = translator(locale)
    c = page.community
    body: list[Element] = [
        heading(c.name),
        paragraph(
            plural(locale, "onepager.subtitle", page.member_count), subtle=True, spacing="None"
        ),
    ]
    if c.domain:
        body += [heading(t("onepager.domain"), size="Medium"), paragraph(c.domain)]
    if c.objectives:
        body += [
            heading(t("onepager.objectives"), size="Medium"),
            paragraph(_bullets(c.objectives)),
        ]
    facts = []
    if c.theme:
        facts.append({"title": t("onepager.themes"), "value": c.theme})
    if c.audience:
        facts.append({"title": t("onepager.audience"), "value": c.audience})
    if c.cadence:
        facts.append({"title": t("onepager.cadence"), "value": c.cadence})
    facts.append({"title": t("onepager.mode"), "value": _mode(c.usual_mode, locale)})
    facts.append(
        {
            "title": t("onepager.next_meeting"),
            "value": next_meeting_text(page.next_meeting, locale=locale, tz=tz),
        }
    )
    facts.append(
        {
            "title": t("onepager.animators"),
            "value": ", ".join(page.animators) if page.animators else t("onepager.none"),
        }
    )
    body.append({"type": "FactSet", "facts": facts})
    if c.rules:
        body += [heading(t("onepager.rules"), size="Medium"), paragraph(_bullets(c.rules))]
    if page.productions:
        body += [
            heading(t("onepager.productions"), size="Medium"),
            paragraph(_bullets([production_text(p, locale=locale) for p in page.productions])),
        ]
    # Mentor requests are confirmed by the animation or coordination: without anyone in
    # those roles the button would lead nowhere.
    actions = [
        submit(t("onepager.propose_topic"), verb="topics.propose", community_id=c.id),
        submit(t("onepager.ask_consultation"), verb="consultations.request", community_id=c.id),
    ]
    if page.animators:
        actions.append(
            submit(t("onepager.ask_mentor"), verb="mentoring.request", community_id=c.id)
        )
    return adaptive_card(body, actions)


def next_meeting_text(meeting: Meeting | None, *, locale: str, tz: str) -> str:
    t = translator(locale)
    if meeting is None:
        return t("onepager.no_meeting")
    when = format_span(meeting.starts_at, meeting.ends_at, locale=locale, tz=tz)
    where = meeting.place or ""
    return f"{when} — {where}" if where else when


def build_welcome_card(community: Community, *, first_name: str, locale: str) -> Element:
    t = translator(locale)
    title = (
        t("join.welcome.title", name=first_name, community=community.name)
        if first_name
        else t("join.welcome.title_noname", community=community.name)
    )
    return adaptive_card([heading(title), paragraph(t("join.welcome.body"))])


def build_communities_card(rows: Sequence[tuple[Community, int, bool]], *, locale: str) -> Element:
    """Communities the person can join (community, members, already a member)."""
    t = translator(locale)
    body: list[Element] = [heading(t("communities.title"))]
    if not rows:
        body.append(paragraph(t("communities.empty")))
        return adaptive_card(body)
    for community, count, is_member in rows:
        line: list[Element] = [
            heading(community.name, size="Medium"),
            paragraph(
                plural(locale, "communities.line", count, mode=_mode(community.usual_mode, locale)),
                subtle=True,
                spacing="None",
            ),
        ]
        if community.domain:
            # A long mandate would make the list hard to scan: three lines at most.
            line.append({**paragraph(community.domain, spacing="Small"), "maxLines": 3})
        label = t("communities.update") if is_member else t("communities.join")
        line.append(
            {
                "type": "ActionSet",
                "actions": [submit(label, verb="communities.join", community_id=community.id)],
            }
        )
        body.append({"type": "Container", "separator": True, "items": line})
    return adaptive_card(body)


@dataclass(frozen=True, slots=True)
class SetupValues:
    name: str = ""
    domain: str = ""
    objectives: str = ""
    theme: str = ""
    audience: str = ""
    cadence: str = ""
    mode: str = MeetingMode.HYBRID.value
    rules: str = ""


def default_rules(locale: str) -> list[str]:
    t = translator(locale)
    return [t(key) for key in DEFAULT_RULE_KEYS]


def build_setup_form_card(
    values: SetupValues, *, locale: str, errors: Sequence[str] = ()
) -> Element:
    t = translator(locale)
    body: list[Element] = [heading(t("setup.title")), paragraph(t("setup.intro"), subtle=True)]
    for error in errors:
        body.append({"type": "TextBlock", "text": error, "color": "Attention", "wrap": True})

    def text(id_: str, value: str, *, multiline: bool = False, max_length: int = 500) -> Element:
        return {
            "type": "Input.Text",
            "id": id_,
            "label": t(f"setup.field.{id_}"),
            "placeholder": t(f"setup.hint.{id_}"),
            "value": value,
            "isMultiline": multiline,
            "maxLength": max_length,
        }

    body += [
        text("name", values.name, max_length=200),
        text("domain", values.domain, multiline=True, max_length=2000),
        text("objectives", values.objectives, multiline=True, max_length=2000),
        text("theme", values.theme),
        text("audience", values.audience),
        text("cadence", values.cadence, max_length=200),
        {
            "type": "Input.ChoiceSet",
            "id": "mode",
            "label": t("setup.field.mode"),
            "value": values.mode,
            "choices": [
                {"title": _mode(mode.value, locale), "value": mode.value} for mode in MeetingMode
            ],
        },
        text(
            "rules",
            values.rules or "\n".join(default_rules(locale)),
            multiline=True,
            max_length=2000,
        ),
    ]
    return adaptive_card(
        body,
        [
            submit(t("setup.submit"), verb="communities.setup", style="positive"),
            submit(t("setup.cancel"), verb="communities.setup.cancel"),
        ],
    )


VERB_LEAVE = "communities.leave"


def build_leave_confirmation_card(
    community: Community, *, person_id: int, mentor_request: bool, locale: str
) -> Element:
    """Asked before leaving: what stops, and the mentor request that goes with it. The button
    names the person: someone else clicking it (a card seen in a channel) leaves nobody."""
    t = translator(locale)
    consequences = [t("leave.confirm.membership")]
    if mentor_request:
        consequences.append(t("leave.confirm.mentor_request"))
    return build_confirmation_card(
        t,
        title=t("leave.confirm.title", community=community.name),
        consequences=consequences,
        confirm_title=t("leave.confirm.button"),
        verb=VERB_LEAVE,
        data={"community_id": community.id, "person_id": person_id},
    )


def build_leave_outcome_card(community: Community, *, left_now: bool, locale: str) -> Element:
    """What the confirmation card becomes once confirmed (a second click: already left)."""
    t = translator(locale)
    key = "leave.done" if left_now else "leave.already"
    return build_outcome_card(t(key, community=community.name))
