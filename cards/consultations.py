"""Consultation cards: a request as the people allowed to read it see it (with the actions
their part allows), the lists `mes demandes` / `demandes assignées`, the usefulness question,
the audit trail and the counts everyone else may see.

Builders only shape data already read by the caller. The request card takes a
`RequestContent`, which only `storage.consultations.read_request` makes (after checking the
viewer and recording the read); the lists take `RequestLine`s, which carry no content.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from babel.dates import format_date
from babel.numbers import format_decimal

from cards.common import MAX_CARD_BYTES, Element, adaptive_card, heading, paragraph, submit
from cards.confirm import build_confirmation_card
from cards.i18n import Translate, babel_locale, format_day, format_when, plural, translator
from storage.consultations import (
    DECLINE_REASONS,
    MAX_COMMENT_LENGTH,
    AuditEntry,
    Candidate,
    ConsultationCounts,
    RequestContent,
    RequestLine,
    Viewer,
    detail_values,
    parse_reason,
)
from storage.identifiers import IdentifierKind
from storage.models import Community, ConsultationStatus

VERB_REQUEST = "consultations.request"
VERB_SHOW = "consultations.show"
VERB_TAKE = "consultations.take"
VERB_ASSIGN = "consultations.assign"
VERB_DECLINE = "consultations.decline"
VERB_START = "consultations.start"
VERB_CLOSE = "consultations.close"
VERB_WITHDRAW = "consultations.withdraw"
VERB_FEEDBACK = "consultations.feedback"
VERB_VOLUNTEER = "consultations.volunteer"
VERB_MINE = "consultations.mine"
VERB_ASSIGNED = "consultations.assigned"
VERB_AUDIT = "consultations.audit"
VERBS = frozenset(
    {
        VERB_REQUEST,
        VERB_SHOW,
        VERB_TAKE,
        VERB_ASSIGN,
        VERB_DECLINE,
        VERB_START,
        VERB_CLOSE,
        VERB_WITHDRAW,
        VERB_FEEDBACK,
        VERB_VOLUNTEER,
        VERB_MINE,
        VERB_ASSIGNED,
        VERB_AUDIT,
    }
)
# Input ids in the cards' forms.
ASSIGNEE_INPUT = "assignee_id"
REASON_INPUT = "reason"
RATING_INPUT = "rating"
COMMENT_INPUT = "comment"
# The feedback's toggle: the comment identifies no client (a name in it may then be kept).
NO_CLIENT_INPUT = "identifies_no_client"

# Why the request card is shown: its title.
CONTEXT_NEW = "new"
CONTEXT_RETURNED = "returned"
CONTEXT_REMINDER = "reminder"
CONTEXT_ASSIGNED = "assigned"
CONTEXT_DETAILS = "details"
TITLE_KEYS = {
    CONTEXT_NEW: "consultation.card.title_new",
    CONTEXT_RETURNED: "consultation.card.title_returned",
    CONTEXT_REMINDER: "consultation.card.title_reminder",
    CONTEXT_ASSIGNED: "consultation.card.title_assigned",
    CONTEXT_DETAILS: "consultation.card.title_details",
}

MOTIVE_KEYS = {
    "ethical_dilemma": "consultation.motive.ethical_dilemma",
    "intervention": "consultation.motive.intervention",
    "complex_situation": "consultation.motive.complex_situation",
    "orientation": "consultation.motive.orientation",
    "other": "consultation.motive.other",
}
URGENCY_KEYS = {
    "this_week": "consultation.urgency.this_week",
    "this_month": "consultation.urgency.this_month",
    "no_rush": "consultation.urgency.no_rush",
}
MODALITY_KEYS = {
    "one_to_one": "consultation.modality.one_to_one",
    "case_discussion": "consultation.modality.case_discussion",
    "codevelopment": "consultation.modality.codevelopment",
}
STATUS_KEYS: dict[ConsultationStatus, str] = {
    ConsultationStatus.SUBMITTED: "consultation.status.submitted",
    ConsultationStatus.ASSIGNED: "consultation.status.assigned",
    ConsultationStatus.IN_PROGRESS: "consultation.status.in_progress",
    ConsultationStatus.CLOSED: "consultation.status.closed",
    ConsultationStatus.WITHDRAWN: "consultation.status.withdrawn",
}
REASON_KEYS = {
    "unavailable": "consultation.reason.unavailable",
    "conflict_of_interest": "consultation.reason.conflict_of_interest",
    "outside_expertise": "consultation.reason.outside_expertise",
    "other": "consultation.reason.other",
    # Not a choice: recorded when an assignee's erasure hands their requests back.
    "erased": "consultation.reason.erased",
}
IDENTIFIER_KEYS: dict[IdentifierKind, str] = {
    IdentifierKind.EMAIL: "consultation.identifier.email",
    IdentifierKind.PHONE: "consultation.identifier.phone",
    IdentifierKind.HEALTH_INSURANCE: "consultation.identifier.health_insurance",
    IdentifierKind.FILE_NUMBER: "consultation.identifier.file_number",
    IdentifierKind.BIRTH_DATE: "consultation.identifier.birth_date",
    IdentifierKind.SOCIAL_INSURANCE: "consultation.identifier.social_insurance",
    IdentifierKind.ADDRESS: "consultation.identifier.address",
    IdentifierKind.NAME: "consultation.identifier.name",
}
AUDIT_ACTION_KEYS = {
    "submitted": "consultation.audit.action.submitted",
    "suggested": "consultation.audit.action.suggested",
    "read": "consultation.audit.action.read",
    "read_denied": "consultation.audit.action.read_denied",
    "declined": "consultation.audit.action.declined",
    "assigned": "consultation.audit.action.assigned",
    "handed_back": "consultation.audit.action.handed_back",
    "started": "consultation.audit.action.started",
    "closed": "consultation.audit.action.closed",
    "withdrawn": "consultation.audit.action.withdrawn",
    "rated": "consultation.audit.action.rated",
    "reminded": "consultation.audit.action.reminded",
    "escalated": "consultation.audit.action.escalated",
    "summary_erased": "consultation.audit.action.summary_erased",
}
RATING_KEYS = (
    "consultation.feedback.rating.1",
    "consultation.feedback.rating.2",
    "consultation.feedback.rating.3",
    "consultation.feedback.rating.4",
    "consultation.feedback.rating.5",
)
# A card lists at most this many requests or events, and only as many as fit under Teams'
# 28 KB (with room for the headings and the activity around the card); the rest is counted.
MAX_LINES_SHOWN = 20
CARD_BUDGET = MAX_CARD_BYTES - 4_000
BUTTONS_PER_ROW = 5


def motive_label(code: str, *, locale: str) -> str:
    return translator(locale)(MOTIVE_KEYS.get(code, MOTIVE_KEYS["other"]))


def urgency_label(code: str, *, locale: str) -> str:
    return translator(locale)(URGENCY_KEYS[code]) if code in URGENCY_KEYS else code


def modality_label(code: str, *, locale: str) -> str:
    return translator(locale)(MODALITY_KEYS[code]) if code in MODALITY_KEYS else code


def status_label(status: str, *, locale: str) -> str:
    return translator(locale)(STATUS_KEYS[ConsultationStatus(status)])


def reason_label(code: str, *, locale: str) -> str:
    return translator(locale)(REASON_KEYS[code]) if code in REASON_KEYS else code


def identifier_kinds_text(kinds: Sequence[IdentifierKind], *, locale: str) -> str:
    """« un courriel, un numéro de téléphone et une date de naissance »."""
    t = translator(locale)
    labels = [t(IDENTIFIER_KEYS[kind]) for kind in kinds]
    if len(labels) <= 1:
        return "".join(labels)
    return t("consultation.identifier.join", first=", ".join(labels[:-1]), last=labels[-1])


def name_or_someone(name: str | None, *, locale: str) -> str:
    return name or translator(locale)("consultation.someone")


def _fact(title: str, value: str) -> Element:
    return {"title": title, "value": value}


def _status_text(line: RequestLine, *, locale: str) -> str:
    t = translator(locale)
    status = status_label(line.status, locale=locale)
    if line.assignee_id is not None and line.status in (
        ConsultationStatus.ASSIGNED,
        ConsultationStatus.IN_PROGRESS,
        ConsultationStatus.CLOSED,
    ):
        return t(
            "consultation.card.status_with",
            status=status,
            name=name_or_someone(line.assignee_name, locale=locale),
        )
    return status


def suggestion_text(candidate_name: str | None, reason: str | None, *, locale: str) -> str:
    """Why the bot suggests this person: expertise, open requests, last assignment."""
    t = translator(locale)
    parsed = parse_reason(reason)
    if candidate_name is None or parsed is None:
        return t("consultation.card.suggestion_none")
    expertise = t(
        "consultation.card.suggestion_expertise"
        if parsed.matches
        else "consultation.card.suggestion_no_expertise"
    )
    load = plural(locale, "consultation.card.suggestion_load", parsed.load)
    last = (
        t("consultation.card.suggestion_never")
        if parsed.last_assigned_on is None
        else t(
            "consultation.card.suggestion_last",
            date=str(
                format_date(parsed.last_assigned_on, format="full", locale=babel_locale(locale))
            ),
        )
    )
    return t(
        "consultation.card.suggestion",
        name=candidate_name,
        expertise=expertise,
        load=load,
        last=last,
    )


def _candidate_title(candidate: Candidate, *, locale: str) -> str:
    t = translator(locale)
    parts = [name_or_someone(candidate.person.name, locale=locale)]
    if candidate.matches:
        parts.append(t("consultation.card.candidate_expertise"))
    parts.append(plural(locale, "consultation.card.suggestion_load", candidate.load))
    return " · ".join(parts)


def _coordinator_actions(
    content: RequestContent, candidates: Sequence[Candidate], t: Translate, *, locale: str
) -> list[Element]:
    request_id = content.line.id
    actions: list[Element] = [
        submit(t("consultation.card.take"), verb=VERB_TAKE, style="positive", request_id=request_id)
    ]
    if candidates:
        suggested = content.suggested_id if content.suggested_id is not None else None
        default = next(
            (str(c.person.id) for c in candidates if c.person.id == suggested),
            str(candidates[0].person.id),
        )
        actions.append(
            {
                "type": "Action.ShowCard",
                "title": t("consultation.card.give"),
                "card": {
                    "type": "AdaptiveCard",
                    "body": [
                        {
                            "type": "Input.ChoiceSet",
                            "id": ASSIGNEE_INPUT,
                            "label": t("consultation.card.give_label"),
                            "isRequired": True,
                            "errorMessage": t("consultation.card.give_required"),
                            "value": default,
                            "choices": [
                                {
                                    "title": _candidate_title(c, locale=locale),
                                    "value": str(c.person.id),
                                }
                                for c in candidates
                            ],
                        }
                    ],
                    "actions": [
                        submit(
                            t("consultation.card.give_submit"),
                            verb=VERB_ASSIGN,
                            request_id=request_id,
                        )
                    ],
                },
            }
        )
    actions.append(_decline_action(request_id, t, title_key="consultation.card.decline"))
    return actions


def _decline_action(request_id: int, t: Translate, *, title_key: str) -> Element:
    return {
        "type": "Action.ShowCard",
        "title": t(title_key),
        "card": {
            "type": "AdaptiveCard",
            "body": [
                {
                    "type": "Input.ChoiceSet",
                    "id": REASON_INPUT,
                    "label": t("consultation.card.reason_label"),
                    "style": "expanded",
                    "isRequired": True,
                    "errorMessage": t("consultation.card.reason_required"),
                    "choices": [
                        {"title": t(REASON_KEYS[code]), "value": code} for code in DECLINE_REASONS
                    ],
                },
                paragraph(t("consultation.card.reason_private"), subtle=True),
            ],
            "actions": [
                submit(
                    t("consultation.card.decline_submit"), verb=VERB_DECLINE, request_id=request_id
                )
            ],
        },
    }


def _withdraw_action(request_id: int, t: Translate) -> Element:
    """Withdrawing cannot be undone: the click answers with the confirmation card."""
    return submit(t("consultation.card.withdraw"), verb=VERB_WITHDRAW, request_id=request_id)


def build_withdraw_confirmation_card(
    request_id: int, *, reference: str, assignee_name: str | None, locale: str
) -> Element:
    """Asked before the requester withdraws: the request is closed for good, and whoever took
    it is told (names only: no content)."""
    t = translator(locale)
    consequences = [t("consultation.withdraw.confirm.request")]
    if assignee_name is not None:
        consequences.append(
            t(
                "consultation.withdraw.confirm.assignee",
                name=name_or_someone(assignee_name, locale=locale),
            )
        )
    return build_confirmation_card(
        t,
        title=t("consultation.withdraw.confirm.title", reference=reference),
        consequences=consequences,
        confirm_title=t("consultation.card.withdraw_confirm"),
        verb=VERB_WITHDRAW,
        data={"request_id": request_id},
    )


def build_request_card(
    content: RequestContent,
    *,
    locale: str,
    tz: str,
    context: str = CONTEXT_DETAILS,
    candidates: Sequence[Candidate] = (),
    working_days: int | None = None,
) -> Element:
    """A request with its content, for someone `read_request` let in. The actions follow the
    viewer's part and the status: coordinators take, give or decline an unassigned request
    (never their own); the assignee starts, closes or hands back; the requester withdraws."""
    t = translator(locale)
    line = content.line
    body: list[Element] = [
        heading(t(TITLE_KEYS[context], reference=line.reference), size="Medium"),
        paragraph(t("consultation.card.confidential"), subtle=True, spacing="None"),
    ]
    if context == CONTEXT_REMINDER and working_days is not None:
        body.append(paragraph(plural(locale, "consultation.card.waiting_days", working_days)))
    facts = [
        _fact(t("consultation.card.community"), line.community_name),
        _fact(
            t("consultation.card.requester"), name_or_someone(line.requester_name, locale=locale)
        ),
        _fact(t("consultation.card.motive"), motive_label(line.motive, locale=locale)),
        _fact(t("consultation.card.urgency"), urgency_label(line.urgency, locale=locale)),
        _fact(t("consultation.card.modality"), modality_label(line.modality, locale=locale)),
        _fact(t("consultation.card.submitted"), format_day(line.created_at, locale=locale, tz=tz)),
        _fact(t("consultation.card.status"), _status_text(line, locale=locale)),
    ]
    body.append({"type": "FactSet", "facts": facts})
    body.append(heading(t("consultation.card.summary"), size="Default"))
    if content.summary is None:
        erased = content.summary_erased_at
        body.append(
            paragraph(
                t(
                    "consultation.card.erased",
                    date=format_day(erased, locale=locale, tz=tz) if erased else "—",
                ),
                subtle=True,
            )
        )
    else:
        body.append(paragraph(content.summary))
    if content.availability:
        body.append(heading(t("consultation.card.availability"), size="Default"))
        body.append(paragraph(content.availability))
    if content.usefulness_rating is not None:
        body.append(
            paragraph(
                t("consultation.card.rated", rating=content.usefulness_rating)
                + (f" — {content.usefulness_comment}" if content.usefulness_comment else ""),
                subtle=True,
            )
        )
    viewer = content.viewer
    actions: list[Element] = []
    if (
        Viewer.COORDINATOR in viewer
        and Viewer.REQUESTER not in viewer
        and line.status == ConsultationStatus.SUBMITTED
    ):
        # Transparency: whom the bot suggests, and why, as recorded with the request.
        body.append(
            paragraph(
                suggestion_text(
                    content.suggested_name if content.suggested_id is not None else None,
                    content.suggestion_reason,
                    locale=locale,
                )
            )
        )
        actions = _coordinator_actions(content, candidates, t, locale=locale)
    elif Viewer.ASSIGNEE in viewer and line.status in (
        ConsultationStatus.ASSIGNED,
        ConsultationStatus.IN_PROGRESS,
    ):
        body.append(paragraph(t("consultation.card.assignee_hint"), subtle=True))
        if line.status == ConsultationStatus.ASSIGNED:
            actions.append(
                submit(t("consultation.card.start"), verb=VERB_START, request_id=line.id)
            )
        actions.append(
            submit(
                t("consultation.card.close"),
                verb=VERB_CLOSE,
                style="positive",
                request_id=line.id,
            )
        )
        actions.append(_decline_action(line.id, t, title_key="consultation.card.hand_back"))
    elif Viewer.REQUESTER in viewer and line.status in (
        ConsultationStatus.SUBMITTED,
        ConsultationStatus.ASSIGNED,
        ConsultationStatus.IN_PROGRESS,
    ):
        actions.append(_withdraw_action(line.id, t))
    return adaptive_card(body, actions)


def _line_block(
    line: RequestLine, *, locale: str, tz: str, show_requester: bool, can_withdraw: bool
) -> Element:
    t = translator(locale)
    details = [
        motive_label(line.motive, locale=locale),
        t("consultation.list.submitted_on", date=format_day(line.created_at, locale=locale, tz=tz)),
        urgency_label(line.urgency, locale=locale),
    ]
    items: list[Element] = [
        {
            "type": "TextBlock",
            "text": t(
                "consultation.list.heading", reference=line.reference, community=line.community_name
            ),
            "weight": "Bolder",
            "wrap": True,
        },
        paragraph(" · ".join(details), spacing="None"),
    ]
    if show_requester:
        items.append(
            paragraph(
                t(
                    "consultation.list.requester",
                    name=name_or_someone(line.requester_name, locale=locale),
                ),
                spacing="None",
            )
        )
    items.append(
        paragraph(
            t("consultation.list.status", status=_status_text(line, locale=locale)),
            subtle=True,
            spacing="None",
        )
    )
    actions = [submit(t("consultation.list.show"), verb=VERB_SHOW, request_id=line.id)]
    if can_withdraw and line.status in (
        ConsultationStatus.SUBMITTED,
        ConsultationStatus.ASSIGNED,
        ConsultationStatus.IN_PROGRESS,
    ):
        actions.append(_withdraw_action(line.id, t))
    items.append({"type": "ActionSet", "actions": actions})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _more(count: int, *, locale: str) -> list[Element]:
    if count <= 0:
        return []
    return [paragraph(plural(locale, "consultation.list.more", count), subtle=True)]


def _bytes(element: Element) -> int:
    return len(json.dumps(element, ensure_ascii=False).encode("utf-8"))


def _within(blocks: Sequence[Element], budget: int, *, locale: str) -> list[Element]:
    """The first blocks that fit in `budget` bytes, then how many were left out."""
    shown: list[Element] = []
    used = 0
    for block in blocks[:MAX_LINES_SHOWN]:
        size = _bytes(block) + 1
        if used + size > budget:
            break
        shown.append(block)
        used += size
    return shown + _more(len(blocks) - len(shown), locale=locale)


def build_my_requests_card(lines: Sequence[RequestLine], *, locale: str, tz: str) -> Element:
    """`mes demandes`: the person's own requests and where each stands (no content: the
    summary is one tap away, and that read is recorded)."""
    t = translator(locale)
    body: list[Element] = [heading(t("consultation.mine.title"), size="Medium")]
    if not lines:
        body.append(paragraph(t("consultation.mine.empty")))
        return adaptive_card(body)
    body.append(paragraph(t("consultation.mine.intro"), subtle=True, spacing="None"))
    blocks = [
        _line_block(line, locale=locale, tz=tz, show_requester=False, can_withdraw=True)
        for line in lines
    ]
    body.extend(_within(blocks, CARD_BUDGET, locale=locale))
    return adaptive_card(body)


def count_facts(counts: ConsultationCounts, *, locale: str) -> list[Element]:
    """The numbers anyone may see: by status, and the average usefulness when enough people
    answered. For the vitality summary as well."""
    t = translator(locale)
    facts = [
        _fact(t("consultation.counts.submitted"), str(counts.submitted)),
        _fact(t("consultation.counts.under_way"), str(counts.assigned + counts.in_progress)),
        _fact(t("consultation.counts.closed"), str(counts.closed)),
        _fact(t("consultation.counts.withdrawn"), str(counts.withdrawn)),
    ]
    if counts.average_usefulness is not None:
        facts.append(
            _fact(
                t("consultation.counts.usefulness"),
                t(
                    "consultation.counts.usefulness_value",
                    average=format_decimal(
                        counts.average_usefulness, format="0.0", locale=babel_locale(locale)
                    ),
                    count=counts.rated,
                ),
            )
        )
    return facts


def build_assigned_requests_card(
    assigned: Sequence[RequestLine],
    waiting: Sequence[RequestLine],
    counts: Sequence[tuple[Community, ConsultationCounts]],
    *,
    locale: str,
    tz: str,
) -> Element:
    """`demandes assignées`: what the person holds; for coordinators, what waits in their
    communities; for animators (who may not read requests), their communities' counts."""
    t = translator(locale)
    body: list[Element] = [heading(t("consultation.assigned.title"), size="Medium")]
    # Both lists share the card: each gets half of it when both have something.
    budget = CARD_BUDGET // 2 if assigned and waiting else CARD_BUDGET

    def blocks(lines: Sequence[RequestLine]) -> list[Element]:
        return [
            _line_block(line, locale=locale, tz=tz, show_requester=True, can_withdraw=False)
            for line in lines
        ]

    if assigned:
        body.extend(_within(blocks(assigned), budget, locale=locale))
    else:
        body.append(paragraph(t("consultation.assigned.empty")))
    if waiting:
        body.append(heading(t("consultation.assigned.waiting_title"), size="Default"))
        body.extend(_within(blocks(waiting), budget, locale=locale))
    for community, numbers in counts:
        body.append(
            heading(
                t("consultation.assigned.counts_title", community=community.name), size="Default"
            )
        )
        body.append({"type": "FactSet", "facts": count_facts(numbers, locale=locale)})
    if counts:
        body.append(paragraph(t("consultation.assigned.counts_only"), subtle=True))
    return adaptive_card(body)


def build_feedback_card(line: RequestLine, *, locale: str) -> Element:
    """For the requester once the consultant closed the request: how useful was it?"""
    t = translator(locale)
    body: list[Element] = [
        heading(t("consultation.feedback.title", reference=line.reference), size="Medium"),
        paragraph(
            t(
                "consultation.feedback.intro",
                name=name_or_someone(line.assignee_name, locale=locale),
            )
        ),
        {
            "type": "Input.ChoiceSet",
            "id": RATING_INPUT,
            "label": t("consultation.feedback.question"),
            "style": "expanded",
            "isRequired": True,
            "errorMessage": t("consultation.feedback.invalid"),
            "choices": [
                {"title": t(key), "value": str(number)}
                for number, key in enumerate(RATING_KEYS, start=1)
            ],
        },
        {
            "type": "Input.Text",
            "id": COMMENT_INPUT,
            "label": t("consultation.feedback.comment"),
            "isMultiline": True,
            "maxLength": MAX_COMMENT_LENGTH,
        },
        {
            "type": "Input.Toggle",
            "id": NO_CLIENT_INPUT,
            "title": t("consultation.feedback.no_client"),
            "valueOn": "true",
            "valueOff": "false",
            "wrap": True,
        },
        paragraph(t("consultation.feedback.private"), subtle=True),
    ]
    actions = [submit(t("consultation.feedback.submit"), verb=VERB_FEEDBACK, request_id=line.id)]
    return adaptive_card(body, actions)


def audit_detail_text(entry: AuditEntry, *, locale: str) -> str:
    """A readable detail: the person assigned or suggested, a reason, a number of days."""
    t = translator(locale)
    values = detail_values(entry.detail)
    subject = entry.subject_name
    if entry.action == "assigned":
        followed = values.get("suggestion") == "followed"
        return t(
            "consultation.audit.detail.assigned_followed"
            if followed
            else "consultation.audit.detail.assigned_other",
            name=name_or_someone(subject, locale=locale),
        )
    if entry.action == "suggested":
        if "person" not in values:
            return t("consultation.audit.detail.suggested_none")
        return t(
            "consultation.audit.detail.suggested", name=name_or_someone(subject, locale=locale)
        )
    if entry.action in ("declined", "handed_back") and "code" in values:
        return reason_label(values["code"], locale=locale)
    if (
        "working_days" in values
        and str(values["working_days"]).isascii()
        and str(values["working_days"]).isdigit()
    ):
        return plural(locale, "consultation.audit.detail.working_days", int(values["working_days"]))
    if "rating" in values:
        return t("consultation.audit.detail.rating", rating=values["rating"])
    if entry.action in ("read", "read_denied") and "code" in values:
        key = (
            "consultation.audit.detail.read_card"
            if values["code"] == "card"
            else "consultation.audit.detail.read_details"
        )
        return t(key)
    return ""


def build_audit_card(
    entries: Sequence[AuditEntry],
    *,
    community: Community,
    reference: str | None,
    locale: str,
    tz: str,
) -> Element:
    """For coordinators: who read or changed which request, and when. Never content: the
    trail holds codes and ids only."""
    t = translator(locale)
    title = (
        t("consultation.audit.title_reference", reference=reference)
        if reference
        else t("consultation.audit.title", community=community.name)
    )
    body: list[Element] = [
        heading(title, size="Medium"),
        paragraph(t("consultation.audit.intro"), subtle=True, spacing="None"),
    ]
    if not entries:
        body.append(paragraph(t("consultation.audit.empty")))
        return adaptive_card(body)
    used = 0
    for entry in entries:
        actor = (
            t("consultation.audit.system")
            if entry.actor_id is None
            else name_or_someone(entry.actor_name, locale=locale)
        )
        action = t(AUDIT_ACTION_KEYS[entry.action]) if entry.action in AUDIT_ACTION_KEYS else ""
        detail = audit_detail_text(entry, locale=locale)
        block: Element = {
            "type": "Container",
            "separator": True,
            "items": [
                paragraph(
                    t(
                        "consultation.audit.line",
                        when=format_when(entry.at, locale=locale, tz=tz),
                        reference=entry.reference,
                    ),
                    subtle=True,
                ),
                paragraph(
                    f"{actor} — {action}" + (f" ({detail})" if detail else ""),
                    spacing="None",
                ),
            ],
        }
        # The newest first: what does not fit is the oldest (a reference narrows the trail).
        used += _bytes(block) + 1
        if used > CARD_BUDGET:
            break
        body.append(block)
    return adaptive_card(body)


def build_community_choice_card(
    communities: Sequence[Community],
    *,
    verb: str,
    intro_key: str,
    locale: str,
    expertise: Sequence[str] | None = None,
) -> Element:
    """Which community? One button per community (to ask, to volunteer, to read the trail)."""
    t = translator(locale)
    buttons = [
        submit(c.name, verb=verb, community_id=c.id)
        if expertise is None
        else submit(c.name, verb=verb, community_id=c.id, expertise=list(expertise))
        for c in communities
    ]
    body: list[Element] = [
        heading(t("consultation.choose.title"), size="Medium"),
        paragraph(t(intro_key)),
        *(
            {"type": "ActionSet", "actions": buttons[start : start + BUTTONS_PER_ROW]}
            for start in range(0, len(buttons), BUTTONS_PER_ROW)
        ),
    ]
    return adaptive_card(body)
