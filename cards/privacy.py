"""« Mes données » / "My data": what Carrefour keeps about a person, the export link and the
confirmation before erasing (Quebec's Law 25). Texts only; the rules are in storage/privacy.py."""

from __future__ import annotations

from cards.common import Element, adaptive_card, heading, paragraph, submit
from cards.community import role_label
from cards.confirm import build_confirmation_card
from cards.i18n import plural, translator
from storage.privacy import ConsultationFact, PersonalData

VERB_EXPORT = "privacy.export"
VERB_ERASE_ASK = "privacy.erase.ask"
VERB_ERASE_CONFIRM = "privacy.erase.confirm"
VERB_ERASE_CANCEL = "privacy.erase.cancel"

_OPEN = frozenset({"submitted", "assigned", "in_progress"})


def _section(title: str, text: str) -> Element:
    return {
        "type": "Container",
        "spacing": "Medium",
        "items": [
            {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True},
            paragraph(text, subtle=True, spacing="None"),
        ],
    }


def _consultation_status(fact: ConsultationFact, locale: str) -> str:
    t = translator(locale)
    if fact.status in _OPEN:
        return t("privacy.consultation.open")
    if fact.status == "withdrawn":
        return t("privacy.consultation.withdrawn")
    return t("privacy.consultation.closed")


def build_my_data_card(data: PersonalData, *, locale: str) -> Element:
    """Sections with counts and what each holds; buttons to export and to erase."""
    t = translator(locale)
    yes, no = t("privacy.yes"), t("privacy.no")
    roles = sorted(
        {role_label(role, locale=locale) for member in data.memberships for role in member.roles}
    )
    body: list[Element] = [
        heading(t("privacy.card.title")),
        paragraph(t("privacy.card.intro"), subtle=True, spacing="None"),
        _section(
            t("privacy.section.profile.title"),
            t(
                "privacy.section.profile.text",
                name=data.name or "—",
                reminders=yes if data.consent_reminders else no,
                surveys=yes if data.consent_surveys else no,
            ),
        ),
        _section(
            t("privacy.section.memberships.title", count=len(data.memberships)),
            t(
                "privacy.section.memberships.text",
                communities=", ".join(m.community for m in data.memberships) or "—",
                roles=", ".join(roles) or "—",
            ),
        ),
        _section(
            t("privacy.section.meetings.title"),
            t(
                "privacy.section.meetings.text",
                rsvps=data.rsvps,
                attendance=data.attendance,
                minutes=data.attendance_minutes,
            ),
        ),
        _section(
            t("privacy.section.participation.title"),
            t(
                "privacy.section.participation.text",
                topics=data.topics_proposed,
                votes=data.topic_votes,
                ballots=data.poll_ballots,
            ),
        ),
        _section(
            t("privacy.section.toolbox.title"),
            t(
                "privacy.section.toolbox.text",
                shared=data.resources_shared,
                marks=data.resource_marks,
            ),
        ),
        _section(
            t("privacy.section.cases.title"),
            plural(locale, "privacy.section.cases.text", data.cases_submitted),
        ),
        _section(
            t("privacy.section.questions.title"),
            t(
                "privacy.section.questions.text",
                asked=data.questions_asked,
                answers=data.question_answers,
            ),
        ),
        _section(
            t("privacy.section.mentoring.title"),
            t(
                "privacy.section.mentoring.text",
                requests=data.mentor_requests,
                pairings=data.pairings,
                checkins=data.checkins,
                onboarding=data.onboarding,
            ),
        ),
        _section(
            t("privacy.section.consultations.title", count=len(data.consultations)),
            "\n".join(
                f"- {fact.reference} — {_consultation_status(fact, locale)}"
                for fact in data.consultations
            )
            or t("privacy.section.consultations.none"),
        ),
        _section(
            t("privacy.section.surveys.title"),
            t(
                "privacy.section.surveys.text",
                invitations=data.survey_invitations,
                answered=data.surveys_answered,
            ),
        ),
        _section(
            t("privacy.section.messages.title"),
            t(
                "privacy.section.messages.text",
                messages=data.messages,
                conversations=data.conversations,
            ),
        ),
        paragraph(t("privacy.card.rights"), subtle=True, spacing="Large"),
    ]
    actions = [
        submit(t("privacy.button.export"), verb=VERB_EXPORT),
        submit(t("privacy.button.erase"), verb=VERB_ERASE_ASK, style="destructive"),
    ]
    return adaptive_card(body, actions)


def build_erase_confirm_card(*, nonce: str, minutes: int, locale: str) -> Element:
    """The confirmation card of every destructive action: what is erased, what stays, how
    long the confirmation holds; « Oui, tout supprimer » sends `privacy.erase.ask` again with
    `confirmed: true` and a short-lived nonce."""
    t = translator(locale)
    return build_confirmation_card(
        t,
        title=t("privacy.erase.title"),
        consequences=[
            t("privacy.erase.consequences"),
            t("privacy.erase.kept"),
            t("privacy.erase.validity", minutes=minutes),
        ],
        confirm_title=t("privacy.button.confirm"),
        verb=VERB_ERASE_ASK,
        data={"nonce": nonce},
    )


def build_export_link_card(*, url: str, minutes: int, locale: str) -> Element:
    t = translator(locale)
    body: list[Element] = [
        heading(t("privacy.export.title"), size="Medium"),
        paragraph(t("privacy.export.text", minutes=minutes)),
    ]
    actions: list[Element] = [
        {"type": "Action.OpenUrl", "title": t("privacy.export.open"), "url": url}
    ]
    return adaptive_card(body, actions)


__all__ = [
    "VERB_ERASE_ASK",
    "VERB_ERASE_CANCEL",
    "VERB_ERASE_CONFIRM",
    "VERB_EXPORT",
    "build_erase_confirm_card",
    "build_export_link_card",
    "build_my_data_card",
]
