"""Mentoring (jumelage) cards: the newcomer's request, suggestions for coordinators and
animators, the proposal to a mentor, the agreement for the pair, the check-ins, and the
community chooser.

Builders only shape data already read by the caller; every word comes from the catalogs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from cards.admin import support_button
from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.community import discipline_label, region_label
from cards.confirm import build_confirmation_card
from cards.i18n import format_day, plural, translator
from storage.mentoring import (
    CHECKIN_END,
    MAX_DURATION_WEEKS,
    MAX_FREQUENCY_LENGTH,
    MAX_GOALS_LENGTH,
    Suggestion,
    shared_from_reason,
)
from storage.models import Community, Membership, MentorPairing, MentorRequest, Person

VERB_CONFIRM = "mentoring.confirm"
VERB_ACCEPT = "mentoring.accept"
VERB_DECLINE = "mentoring.decline"
VERB_AGREEMENT = "mentoring.agreement"
VERB_CHECKIN = "mentoring.checkin"
VERB_END = "mentoring.end"
VERB_WITHDRAW = "mentoring.withdraw"
VERB_REQUEST = "mentoring.request"  # also the one-pager's and onboarding's « find a mentor »
VERB_VOLUNTEER = "mentoring.volunteer"
# What the mentoring cards' buttons send: each acts on its own, even while a dialog waits.
VERBS = frozenset(
    {
        VERB_CONFIRM,
        VERB_ACCEPT,
        VERB_DECLINE,
        VERB_AGREEMENT,
        VERB_CHECKIN,
        VERB_END,
        VERB_WITHDRAW,
        VERB_REQUEST,
        VERB_VOLUNTEER,
    }
)

SHARED_KEYS = {
    "discipline": "mentoring.shared.discipline",
    "region": "mentoring.shared.region",
    "establishment": "mentoring.shared.establishment",
}
PROFILE_KEYS = {
    "discipline": "mentoring.profile.discipline",
    "region": "mentoring.profile.region",
    "establishment": "mentoring.profile.establishment",
}
CHECKIN_TITLE_KEYS = {"half": "mentoring.checkin.title_half", "end": "mentoring.checkin.title_end"}
RATING_KEYS = (
    "mentoring.checkin.rating.1",
    "mentoring.checkin.rating.2",
    "mentoring.checkin.rating.3",
    "mentoring.checkin.rating.4",
    "mentoring.checkin.rating.5",
)
# Teams shows at most a handful of buttons per action set; more communities wrap to a new row.
BUTTONS_PER_ROW = 5
# What the newcomer's request card says, by what just happened.
REQUEST_STATUS_KEYS = {
    "sent": "mentoring.request.sent",
    "already_open": "mentoring.request.already_open",
    "no_supervisor": "mentoring.request.no_supervisor",
}


def person_name(person: Person | None, *, locale: str) -> str:
    if person is not None and person.name:
        return person.name
    return translator(locale)("mentoring.someone")


def shared_text(shared: Sequence[str], *, locale: str) -> str:
    t = translator(locale)
    if not shared:
        return t("mentoring.suggestions.shared_none")
    return t("mentoring.suggestions.shared", items=", ".join(t(SHARED_KEYS[a]) for a in shared))


def _profile_value(attribute: str, value: str, *, locale: str) -> str:
    """The label a person reads for a stored profile code (establishment is free text)."""
    if attribute == "discipline":
        return discipline_label(value, locale=locale)
    if attribute == "region":
        return region_label(value, locale=locale)
    return value


def _profile_facts(profile: Membership | None, *, locale: str) -> list[Element]:
    if profile is None:
        return []
    t = translator(locale)
    facts = [
        {"title": t(key), "value": _profile_value(attribute, value, locale=locale)}
        for attribute, key in PROFILE_KEYS.items()
        if (value := getattr(profile, attribute))
    ]
    if profile.is_new_hire:
        facts.append(
            {"title": t("mentoring.profile.status"), "value": t("mentoring.profile.new_hire")}
        )
    return facts


def _fact_set(facts: list[Element]) -> list[Element]:
    return [{"type": "FactSet", "facts": facts}] if facts else []


def _withdraw_action(request_id: int | None, *, title: str) -> Element:
    """Withdrawing cannot be undone: the click answers with the confirmation card."""
    return submit(title, verb=VERB_WITHDRAW, request_id=request_id)


def build_end_confirmation_card(
    pairing: MentorPairing,
    *,
    mentor: Person | None,
    mentee: Person | None,
    community: Community | None,
    told: Sequence[Person],
    locale: str,
) -> Element:
    """Asked before a pairing ends: which one, that the planned check-ins stop, who is told."""
    t = translator(locale)
    consequences = [
        t(
            "mentoring.end.confirm.pairing",
            mentor=person_name(mentor, locale=locale),
            mentee=person_name(mentee, locale=locale),
            community=community.name if community else "",
        )
    ]
    consequences.extend(
        t("mentoring.end.confirm.told", name=person_name(person, locale=locale)) for person in told
    )
    return build_confirmation_card(
        t,
        title=t("mentoring.end.confirm.title"),
        consequences=consequences,
        confirm_title=t("mentoring.checkin.end_pairing"),
        verb=VERB_END,
        data={"pairing_id": pairing.id},
    )


def build_withdraw_confirmation_card(
    request: MentorRequest,
    *,
    community: Community,
    mentee: Person | None,
    mentor: Person | None,
    by_mentee: bool,
    locale: str,
) -> Element:
    """Asked before a request is withdrawn: whose, and who will be told (the mentor it was
    proposed to; the mentee when someone else withdraws it)."""
    t = translator(locale)
    if by_mentee:
        consequences = [t("mentoring.withdraw.confirm.mine", community=community.name)]
    else:
        consequences = [
            t(
                "mentoring.withdraw.confirm.of",
                name=person_name(mentee, locale=locale),
                community=community.name,
            )
        ]
    if mentor is not None:
        consequences.append(
            t("mentoring.withdraw.confirm.proposal", name=person_name(mentor, locale=locale))
        )
    return build_confirmation_card(
        t,
        title=t("mentoring.withdraw.confirm.title"),
        consequences=consequences,
        confirm_title=t("mentoring.request.withdraw_confirm"),
        verb=VERB_WITHDRAW,
        data={"request_id": request.id},
    )


def build_request_card(
    request: MentorRequest, *, community: Community, status: str, locale: str, tz: str
) -> Element:
    """For the newcomer: where their request stands, and a button to withdraw it."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("mentoring.request.title", community=community.name), size="Medium"),
        paragraph(t(REQUEST_STATUS_KEYS[status], community=community.name)),
        paragraph(
            t("mentoring.request.since", date=format_day(request.created_at, locale=locale, tz=tz)),
            subtle=True,
        ),
    ]
    actions = [_withdraw_action(request.id, title=t("mentoring.request.withdraw"))]
    return adaptive_card(body, actions)


def build_suggestions_card(
    request: MentorRequest,
    *,
    mentee: Person,
    profile: Membership | None,
    community: Community,
    suggestions: Sequence[Suggestion],
    declined_by: Person | None = None,
    lapsed: tuple[Person, int] | None = None,
    new_volunteer: Person | None = None,
    locale: str,
) -> Element:
    """For coordinators and animators: who asks, and up to three ranked mentors to propose.
    `lapsed` is the mentor who let the last proposal expire and after how many days;
    `new_volunteer` the volunteer whose arrival brings this request back."""
    t = translator(locale)
    mentee_name = person_name(mentee, locale=locale)
    body: list[Element] = [
        heading(t("mentoring.suggestions.title", community=community.name), size="Medium"),
        paragraph(t("mentoring.suggestions.intro", name=mentee_name)),
    ]
    if declined_by is not None:
        body.append(
            paragraph(
                t(
                    "mentoring.suggestions.after_decline",
                    name=person_name(declined_by, locale=locale),
                )
            )
        )
    if lapsed is not None:
        silent, days = lapsed
        body.append(
            paragraph(
                plural(
                    locale,
                    "mentoring.suggestions.after_expiry",
                    days,
                    name=person_name(silent, locale=locale),
                )
            )
        )
    if new_volunteer is not None:
        body.append(
            paragraph(
                t(
                    "mentoring.suggestions.new_volunteer",
                    name=person_name(new_volunteer, locale=locale),
                )
            )
        )
    body.extend(_fact_set(_profile_facts(profile, locale=locale)))
    withdraw = _withdraw_action(request.id, title=t("mentoring.suggestions.withdraw"))
    if not suggestions:
        none_key = "mentoring.suggestions.none_left" if lapsed else "mentoring.suggestions.none"
        body.append(paragraph(t(none_key)))
        return adaptive_card(body, [withdraw])
    body.append(paragraph(t("mentoring.suggestions.ranking"), subtle=True))
    for rank, suggestion in enumerate(suggestions, start=1):
        name = person_name(suggestion.person, locale=locale)
        body.append(
            {
                "type": "Container",
                "separator": True,
                "spacing": "Medium",
                "items": [
                    heading(t("mentoring.suggestions.rank", rank=rank, name=name), size="Default"),
                    paragraph(shared_text(suggestion.shared, locale=locale), spacing="None"),
                    paragraph(
                        t(
                            "mentoring.suggestions.load",
                            load=suggestion.load,
                            capacity=suggestion.capacity,
                        ),
                        subtle=True,
                        spacing="None",
                    ),
                    {
                        "type": "ActionSet",
                        "actions": [
                            submit(
                                t("mentoring.suggestions.confirm", name=name),
                                verb=VERB_CONFIRM,
                                request_id=request.id,
                                mentor_id=suggestion.person.id,
                            )
                        ],
                    },
                ],
            }
        )
    return adaptive_card(body, [withdraw])


@dataclass(frozen=True, slots=True)
class WaitingProposal:
    """A request already proposed to a mentor, who has not answered yet."""

    mentee: Person | None
    mentor: Person | None
    proposed_at: datetime


def build_pending_requests_card(
    community: Community, waiting: Sequence[WaitingProposal], *, locale: str, tz: str
) -> Element:
    """`demandes de mentorat`: the community's heading and the requests that wait for a
    mentor's answer; the requests to pair follow, each on its suggestions card."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("mentoring.requests.title", community=community.name), size="Medium")
    ]
    body.extend(
        paragraph(
            t(
                "mentoring.requests.waiting",
                mentee=person_name(item.mentee, locale=locale),
                mentor=person_name(item.mentor, locale=locale),
                date=format_day(item.proposed_at, locale=locale, tz=tz),
            )
        )
        for item in waiting
    )
    return adaptive_card(body)


def build_proposal_card(
    pairing: MentorPairing,
    *,
    mentee: Person,
    profile: Membership | None,
    community: Community,
    locale: str,
) -> Element:
    """For the mentor: would you accompany this person? Declining needs no justification."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("mentoring.proposal.title"), size="Medium"),
        paragraph(
            t(
                "mentoring.proposal.intro",
                name=person_name(mentee, locale=locale),
                community=community.name,
            )
        ),
        *_fact_set(_profile_facts(profile, locale=locale)),
        paragraph(shared_text(shared_from_reason(pairing.reason), locale=locale)),
        paragraph(t("mentoring.proposal.commitment"), subtle=True),
    ]
    actions = [
        submit(
            t("mentoring.proposal.accept"),
            verb=VERB_ACCEPT,
            style="positive",
            pairing_id=pairing.id,
        ),
        submit(t("mentoring.proposal.decline"), verb=VERB_DECLINE, pairing_id=pairing.id),
    ]
    return adaptive_card(body, actions)


def build_agreement_card(
    pairing: MentorPairing,
    *,
    mentor: Person,
    mentee: Person,
    community: Community,
    locale: str,
    tz: str,
    support: bool = False,
) -> Element:
    """For both: the terms of the pairing, pre-filled with what is already agreed; the
    mentor's copy (`support`) also asks the coordination for support (cards/admin.py)."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("mentoring.agreement.title"), size="Medium"),
        paragraph(
            t(
                "mentoring.agreement.intro",
                mentor=person_name(mentor, locale=locale),
                mentee=person_name(mentee, locale=locale),
                community=community.name,
            )
        ),
    ]
    if pairing.accepted_at is not None:
        body.append(
            paragraph(
                t(
                    "mentoring.agreement.since",
                    date=format_day(pairing.accepted_at, locale=locale, tz=tz),
                ),
                subtle=True,
                spacing="None",
            )
        )
    body += [
        {
            "type": "Input.Text",
            "id": "goals",
            "label": t("mentoring.agreement.goals"),
            "placeholder": t("mentoring.agreement.goals_placeholder"),
            "isMultiline": True,
            "maxLength": MAX_GOALS_LENGTH,
            "value": pairing.goals,
            "isRequired": True,
            "errorMessage": t("mentoring.agreement.required"),
        },
        {
            "type": "Input.Text",
            "id": "frequency",
            "label": t("mentoring.agreement.frequency"),
            "placeholder": t("mentoring.agreement.frequency_placeholder"),
            "maxLength": MAX_FREQUENCY_LENGTH,
            "value": pairing.frequency,
            "isRequired": True,
            "errorMessage": t("mentoring.agreement.required"),
        },
        {
            "type": "Input.Number",
            "id": "duration_weeks",
            "label": t("mentoring.agreement.duration"),
            "min": 1,
            "max": MAX_DURATION_WEEKS,
            "value": pairing.duration_weeks,
            "isRequired": True,
            "errorMessage": t("mentoring.agreement.duration_error"),
        },
        {
            "type": "Input.Date",
            "id": "first_meeting",
            "label": t("mentoring.agreement.first_meeting"),
        },
        paragraph(t("mentoring.agreement.confidential"), subtle=True),
    ]
    actions = [submit(t("mentoring.agreement.submit"), verb=VERB_AGREEMENT, pairing_id=pairing.id)]
    if support:
        actions.append(support_button(pairing.id, nonce=uuid.uuid4().hex[:16], locale=locale))
    return adaptive_card(body, actions)


def build_terms_card(
    pairing: MentorPairing,
    *,
    by: Person,
    first_meeting: date | None,
    locale: str,
    tz: str,
) -> Element:
    """For the other person of the pair once the terms are written down."""
    t = translator(locale)
    facts: list[Element] = [
        {"title": t("mentoring.agreement.goals"), "value": pairing.goals},
        {"title": t("mentoring.agreement.frequency"), "value": pairing.frequency},
        {
            "title": t("mentoring.agreement.duration"),
            "value": plural(locale, "mentoring.terms.weeks", pairing.duration_weeks),
        },
    ]
    if first_meeting is not None:
        # Noon local time: the calendar day is the same whatever the time zone arithmetic.
        noon = datetime.combine(first_meeting, time(12), tzinfo=ZoneInfo(tz))
        facts.append(
            {
                "title": t("mentoring.agreement.first_meeting"),
                "value": format_day(noon, locale=locale, tz=tz),
            }
        )
    body: list[Element] = [
        heading(t("mentoring.terms.title"), size="Medium"),
        paragraph(t("mentoring.terms.by", name=person_name(by, locale=locale))),
        {"type": "FactSet", "facts": facts},
    ]
    return adaptive_card(body)


def build_checkin_card(
    pairing: MentorPairing,
    *,
    other: Person,
    community: Community,
    moment: str,
    locale: str,
) -> Element:
    """Half-way and at the end: how is it going (1–5) and an optional comment."""
    t = translator(locale)
    body: list[Element] = [
        heading(t(CHECKIN_TITLE_KEYS[moment]), size="Medium"),
        paragraph(
            t(
                "mentoring.checkin.intro",
                name=person_name(other, locale=locale),
                community=community.name,
            )
        ),
        {
            "type": "Input.ChoiceSet",
            "id": "rating",
            "label": t("mentoring.checkin.question"),
            "style": "expanded",
            "isRequired": True,
            "errorMessage": t("mentoring.checkin.invalid"),
            "choices": [
                {"title": t(key), "value": str(number)}
                for number, key in enumerate(RATING_KEYS, start=1)
            ],
        },
        {
            "type": "Input.Text",
            "id": "comment",
            "label": t("mentoring.checkin.comment"),
            "isMultiline": True,
            "maxLength": MAX_GOALS_LENGTH,
        },
    ]
    actions = [
        submit(
            t("mentoring.checkin.submit"), verb=VERB_CHECKIN, pairing_id=pairing.id, moment=moment
        )
    ]
    if moment == CHECKIN_END:
        actions.append(
            submit(t("mentoring.checkin.end_pairing"), verb=VERB_END, pairing_id=pairing.id)
        )
    return adaptive_card(body, actions)


def build_community_choice_card(
    communities: Sequence[Community], *, verb: str, locale: str, capacity: int | None = None
) -> Element:
    """Which community? One button per community (for a request, or to volunteer)."""
    t = translator(locale)
    intro = "mentoring.choose.volunteer" if verb == VERB_VOLUNTEER else "mentoring.choose.request"
    buttons = [
        submit(c.name, verb=verb, community_id=c.id)
        if capacity is None
        else submit(c.name, verb=verb, community_id=c.id, capacity=capacity)
        for c in communities
    ]
    body: list[Element] = [
        heading(t("mentoring.choose.title"), size="Medium"),
        paragraph(t(intro)),
        *(
            {"type": "ActionSet", "actions": buttons[start : start + BUTTONS_PER_ROW]}
            for start in range(0, len(buttons), BUTTONS_PER_ROW)
        ),
    ]
    return adaptive_card(body)
