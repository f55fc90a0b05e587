"""Codevelopment groups' cards: the group (members, series, rotation), the invitation, the
session card the facilitator drives step by step, reminders, and the private cards of the
client (action plan, follow-up) and of members (learning notes).

Texts are `codev.*` in the catalogs; the six steps are `codev.step.<n>.title|hint`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cards.common import (
    Element,
    adaptive_card,
    form_submit,
    heading,
    paragraph,
    submit,
    task_button,
)
from cards.i18n import format_span, format_when, plural, translator
from cards.mentoring import person_name
from storage.codevelopment import (
    FINISHED_STEP,
    MAX_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_SEATS,
    MAX_SESSIONS,
    MIN_SEATS,
    NOTE_FOLLOWUP,
    NOTE_LEARNING,
    NOTE_PLAN,
    RHYTHM_WEEKS,
    GroupView,
    StepTime,
)
from storage.models import (
    CodevGroup,
    CodevGroupStatus,
    CodevSession,
    CodevSessionStatus,
    Community,
    Person,
)

FORM_CREATE = "codevelopment.create"
VERB_SHOW = "codevelopment.show"
VERB_CREATE = "codevelopment.create"
VERB_INVITE = "codevelopment.invite"
VERB_ACCEPT = "codevelopment.accept"
VERB_DECLINE = "codevelopment.decline"
VERB_PLAN = "codevelopment.plan"
VERB_STEP = "codevelopment.step"
VERB_ATTENDANCE = "codevelopment.attendance"
VERB_NOTE = "codevelopment.note"
VERB_SWAP_ASK = "codevelopment.swap.ask"
VERB_SWAP_VOLUNTEER = "codevelopment.swap.volunteer"
VERB_SWAP_ACCEPT = "codevelopment.swap.accept"
VERB_SWAP_DECLINE = "codevelopment.swap.decline"
VERB_FORM_CANCEL = "codevelopment.create.cancel"


def _choices(people: Sequence[Person], *, locale: str) -> list[Element]:
    return [{"title": person_name(p, locale=locale), "value": str(p.id)} for p in people]


# -- creating a group ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateForm:
    """What the creation form shows again after an error."""

    name: str = ""
    facilitator_id: int | None = None
    seats: int = MAX_SEATS
    rhythm_weeks: int = 6
    error: str | None = None  # already translated
    ask_confirm: bool = False  # identifiers were spotted: offer to confirm


def build_create_form(
    community: Community, candidates: Sequence[Person], form: CreateForm, *, locale: str
) -> Element:
    """The form of a Teams dialog (`codevelopment.create`): name, facilitator, seats, rhythm."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("codev.create.title")),
        paragraph(t("codev.create.intro", community=community.name), subtle=True),
    ]
    if form.error:
        body.append({"type": "TextBlock", "text": form.error, "wrap": True, "color": "Attention"})
    body += [
        {
            "type": "Input.Text",
            "id": "name",
            "label": t("codev.field.name"),
            "value": form.name,
            "maxLength": MAX_NAME_LENGTH,
            "isRequired": True,
            "errorMessage": t("codev.invalid.name"),
        },
        {
            "type": "Input.ChoiceSet",
            "id": "facilitator_id",
            "label": t("codev.field.facilitator"),
            "choices": _choices(candidates, locale=locale),
            "value": "" if form.facilitator_id is None else str(form.facilitator_id),
            "isRequired": True,
            "errorMessage": t("codev.invalid.facilitator"),
        },
        {
            "type": "Input.ChoiceSet",
            "id": "seats",
            "label": t("codev.field.seats"),
            "choices": [
                {"title": str(n), "value": str(n)} for n in range(MIN_SEATS, MAX_SEATS + 1)
            ],
            "value": str(form.seats),
        },
        {
            "type": "Input.ChoiceSet",
            "id": "rhythm_weeks",
            "label": t("codev.field.rhythm"),
            "choices": [
                {"title": plural(locale, "codev.rhythm", w), "value": str(w)} for w in RHYTHM_WEEKS
            ],
            "value": str(form.rhythm_weeks),
        },
        paragraph(t("codev.create.length"), subtle=True),
    ]
    if form.ask_confirm:
        body.append(
            {
                "type": "Input.Toggle",
                "id": "confirmed",
                "title": t("codev.field.confirm_no_client"),
                "valueOn": "true",
                "valueOff": "false",
            }
        )
    actions = [
        form_submit(
            t("codev.create.submit"),
            form=FORM_CREATE,
            style="positive",
            verb=VERB_CREATE,
            community_id=community.id,
        ),
        form_submit(t("codev.create.cancel"), form=FORM_CREATE, verb=VERB_FORM_CANCEL),
    ]
    return adaptive_card(body, actions)


# -- the group ----------------------------------------------------------------------------------


def _series_lines(
    view: GroupView, *, viewer_id: int | None, locale: str, tz: str
) -> tuple[list[Element], list[Element]]:
    """One line per session (when, who is client) and the viewer's « Céder mon tour »."""
    t = translator(locale)
    people = {p.id: p for p in view.members}
    facts: list[Element] = []
    actions: list[Element] = []
    for row in view.sessions:
        if row.status == CodevSessionStatus.CANCELLED:
            continue
        client = people.get(row.client_id) if row.client_id is not None else None
        who = (
            t("codev.client.you")
            if row.client_id is not None and row.client_id == viewer_id
            else (person_name(client, locale=locale) if client else t("codev.client.none"))
        )
        facts.append(
            {
                "title": t("codev.session.number", number=row.number),
                "value": t(
                    "codev.session.line",
                    when=format_when(row.starts_at, locale=locale, tz=tz),
                    client=who,
                    status=t(f"codev.session.status.{row.status!s}"),
                ),
            }
        )
        if (
            viewer_id is not None
            and row.client_id == viewer_id
            and row.status == CodevSessionStatus.PLANNED
            and not row.swap_open
        ):
            actions.append(
                submit(
                    t("codev.swap.ask_button", number=row.number),
                    verb=VERB_SWAP_ASK,
                    session_id=row.id,
                )
            )
    body: list[Element] = []
    if facts:
        body = [
            heading(t("codev.group.series"), size="Medium"),
            {"type": "FactSet", "facts": facts},
            paragraph(t("codev.group.rotation_hint"), subtle=True),
        ]
    return body, actions


def build_group_card(
    view: GroupView,
    *,
    locale: str,
    tz: str,
    viewer_id: int | None,
    may_manage: bool,
    candidates: Sequence[Person] = (),
) -> Element:
    """The group as its members see it; its facilitator and the community's coordinators also
    get the invitation and planning forms while it forms."""
    t = translator(locale)
    group = view.group
    body: list[Element] = [
        heading(group.name),
        paragraph(
            t(
                "codev.group.summary",
                community=view.community.name,
                facilitator=person_name(view.facilitator, locale=locale)
                if view.facilitator
                else t("codev.facilitator.none"),
                rhythm=plural(locale, "codev.rhythm", group.rhythm_weeks),
            ),
            subtle=True,
        ),
        paragraph(t(f"codev.group.status.{group.status!s}")),
        paragraph(
            plural(
                locale,
                "codev.group.members",
                len(view.members),
                seats=group.seats,
                names=", ".join(person_name(p, locale=locale) for p in view.members)
                or t("codev.group.nobody"),
            )
        ),
    ]
    if view.invited and group.status == CodevGroupStatus.FORMING:
        body.append(
            paragraph(plural(locale, "codev.group.invited", len(view.invited)), subtle=True)
        )
    series, actions = _series_lines(view, viewer_id=viewer_id, locale=locale, tz=tz)
    body += series
    if may_manage and group.status == CodevGroupStatus.FORMING:
        if candidates:
            body += [
                heading(t("codev.invite.title"), size="Medium"),
                {
                    "type": "Input.ChoiceSet",
                    "id": "person_ids",
                    "isMultiSelect": True,
                    "label": t("codev.field.invitees"),
                    "choices": _choices(candidates, locale=locale),
                },
                {
                    "type": "ActionSet",
                    "actions": [
                        submit(t("codev.invite.submit"), verb=VERB_INVITE, group_id=group.id)
                    ],
                },
            ]
        body += [
            heading(t("codev.plan.title"), size="Medium"),
            paragraph(t("codev.plan.intro"), subtle=True),
            {"type": "Input.Date", "id": "date", "label": t("codev.field.date")},
            {"type": "Input.Time", "id": "time", "label": t("codev.field.time"), "value": "09:00"},
            {
                "type": "Input.ChoiceSet",
                "id": "count",
                "label": t("codev.field.count"),
                "choices": [{"title": str(n), "value": str(n)} for n in range(1, MAX_SESSIONS + 1)],
                "value": str(max(len(view.members), 1)),
            },
            {"type": "Input.Text", "id": "place", "label": t("codev.field.place")},
            {"type": "Input.Text", "id": "link", "label": t("codev.field.link"), "style": "Url"},
            {
                "type": "ActionSet",
                "actions": [
                    submit(
                        t("codev.plan.submit"), verb=VERB_PLAN, style="positive", group_id=group.id
                    )
                ],
            },
        ]
    actions.append(submit(t("codev.group.refresh"), verb=VERB_SHOW, group_id=group.id))
    return adaptive_card(body, actions)


def build_groups_card(
    views: Sequence[GroupView],
    creatable: Sequence[Community],
    *,
    locale: str,
    tz: str,
    viewer_id: int,
) -> Element:
    """« Mes groupes de codéveloppement »: one line per group, and the create buttons."""
    t = translator(locale)
    body: list[Element] = [heading(t("codev.groups.title")), paragraph(t("codev.groups.intro"))]
    actions: list[Element] = []
    if not views:
        body.append(paragraph(t("codev.groups.none"), subtle=True))
    for view in views:
        next_one = next((s for s in view.sessions if s.status == CodevSessionStatus.PLANNED), None)
        line = t(f"codev.group.status.{view.group.status!s}")
        if next_one is not None:
            line = t(
                "codev.groups.next",
                when=format_when(next_one.starts_at, locale=locale, tz=tz),
            )
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": view.group.name, "value": f"{view.community.name} · {line}"}],
            }
        )
        actions.append(
            submit(
                t("codev.groups.open", name=view.group.name), verb=VERB_SHOW, group_id=view.group.id
            )
        )
    for community in creatable:
        actions.append(
            task_button(
                t("codev.groups.create", community=community.name),
                form=FORM_CREATE,
                community_id=community.id,
            )
        )
    return adaptive_card(body, actions[:6])


def build_invitation_card(
    group: CodevGroup,
    community: Community,
    facilitator: Person | None,
    *,
    locale: str,
) -> Element:
    t = translator(locale)
    body = [
        heading(t("codev.invitation.title", name=group.name)),
        paragraph(
            t(
                "codev.invitation.text",
                community=community.name,
                facilitator=person_name(facilitator, locale=locale)
                if facilitator
                else t("codev.facilitator.none"),
                rhythm=plural(locale, "codev.rhythm", group.rhythm_weeks),
            )
        ),
        paragraph(t("codev.invitation.method"), subtle=True),
    ]
    return adaptive_card(
        body,
        [
            submit(
                t("codev.invitation.accept"), verb=VERB_ACCEPT, style="positive", group_id=group.id
            ),
            submit(t("codev.invitation.decline"), verb=VERB_DECLINE, group_id=group.id),
        ],
    )


# -- the session card ---------------------------------------------------------------------------


def _minutes(minutes: int, *, locale: str) -> str:
    return plural(locale, "codev.minutes", minutes)


def build_session_card(
    group: CodevGroup,
    row: CodevSession,
    *,
    client: Person | None,
    times: Sequence[StepTime],
    members: Sequence[Person],
    locale: str,
    tz: str,
) -> Element:
    """The card the facilitator drives in the group's conversation: the six steps, the time
    planned and spent for each, and one button (only the facilitator's click counts)."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("codev.session.title", name=group.name, number=row.number)),
        paragraph(format_span(row.starts_at, row.ends_at, locale=locale, tz=tz), subtle=True),
        paragraph(
            t("codev.session.client", client=person_name(client, locale=locale))
            if client
            else t("codev.client.none")
        ),
    ]
    if row.place:
        body.append(paragraph(t("codev.session.place", place=row.place), subtle=True))
    if row.online_link:
        body.append(paragraph(f"[{t('codev.session.link')}]({row.online_link})", subtle=True))
    for step in times:
        if step.spent_minutes is None:
            spent = t("codev.step.not_started")
        elif step.current:
            spent = t("codev.step.running", spent=_minutes(step.spent_minutes, locale=locale))
        else:
            spent = t("codev.step.spent", spent=_minutes(step.spent_minutes, locale=locale))
        title = t(f"codev.step.{step.number}.title")
        body.append(
            {
                "type": "Container",
                "style": "emphasis" if step.current else "default",
                "items": [
                    {
                        "type": "TextBlock",
                        "text": t("codev.step.heading", number=step.number, title=title),
                        "weight": "Bolder" if step.current else "Default",
                        "wrap": True,
                    },
                    paragraph(t(f"codev.step.{step.number}.hint"), subtle=True, spacing="None"),
                    paragraph(
                        t(
                            "codev.step.timing",
                            planned=_minutes(step.planned_minutes, locale=locale),
                            spent=spent,
                        ),
                        subtle=True,
                        spacing="None",
                    ),
                ],
            }
        )
    actions: list[Element] = []
    if row.status == CodevSessionStatus.CANCELLED:
        body.append(paragraph(t("codev.session.cancelled")))
    elif row.step == 0:
        actions.append(
            submit(
                t("codev.step.start"), verb=VERB_STEP, style="positive", session_id=row.id, step=0
            )
        )
    elif row.step < FINISHED_STEP - 1:
        actions.append(
            submit(
                t("codev.step.next"),
                verb=VERB_STEP,
                style="positive",
                session_id=row.id,
                step=row.step,
            )
        )
    elif row.step == FINISHED_STEP - 1:
        actions.append(
            submit(
                t("codev.step.finish"),
                verb=VERB_STEP,
                style="positive",
                session_id=row.id,
                step=row.step,
            )
        )
    else:
        body.append(paragraph(t("codev.session.done")))
        if row.attendance_confirmed_at is None and members:
            body += [
                {
                    "type": "Input.ChoiceSet",
                    "id": "present",
                    "isMultiSelect": True,
                    "style": "expanded",
                    "label": t("codev.attendance.label"),
                    "choices": _choices(members, locale=locale),
                    "value": ",".join(str(p.id) for p in members),
                },
            ]
            actions.append(
                submit(t("codev.attendance.submit"), verb=VERB_ATTENDANCE, session_id=row.id)
            )
        elif row.attendance_confirmed_at is not None:
            body.append(paragraph(t("codev.attendance.recorded"), subtle=True))
    if actions:
        body.append(paragraph(t("codev.step.facilitator_only"), subtle=True))
    return adaptive_card(body, actions)


# -- reminders, swaps ---------------------------------------------------------------------------


def build_reminder_card(
    group: CodevGroup,
    row: CodevSession,
    *,
    you_are_client: bool,
    client: Person | None,
    locale: str,
    tz: str,
) -> Element:
    t = translator(locale)
    body: list[Element] = [
        heading(t("codev.reminder.title", name=group.name, number=row.number)),
        paragraph(format_span(row.starts_at, row.ends_at, locale=locale, tz=tz)),
    ]
    if row.place:
        body.append(paragraph(t("codev.session.place", place=row.place)))
    if row.online_link:
        body.append(paragraph(f"[{t('codev.session.link')}]({row.online_link})"))
    if you_are_client:
        body.append(paragraph(t("codev.reminder.you_client")))
    else:
        body.append(
            paragraph(
                t("codev.reminder.client", client=person_name(client, locale=locale))
                if client
                else t("codev.client.none")
            )
        )
    return adaptive_card(body)


def build_swap_call_card(
    group: CodevGroup, row: CodevSession, *, client: Person | None, locale: str, tz: str
) -> Element:
    """To the other members: the client would hand over their turn."""
    t = translator(locale)
    return adaptive_card(
        [
            heading(t("codev.swap.call_title", name=group.name), size="Medium"),
            paragraph(
                t(
                    "codev.swap.call_text",
                    client=person_name(client, locale=locale),
                    number=row.number,
                    when=format_when(row.starts_at, locale=locale, tz=tz),
                )
            ),
            paragraph(t("codev.swap.fair_hint"), subtle=True),
        ],
        [submit(t("codev.swap.volunteer_button"), verb=VERB_SWAP_VOLUNTEER, session_id=row.id)],
    )


def build_swap_offer_card(
    group: CodevGroup, row: CodevSession, *, volunteer: Person | None, locale: str, tz: str
) -> Element:
    """To the client: a volunteer offers to take the turn."""
    t = translator(locale)
    volunteer_id = volunteer.id if volunteer else None
    return adaptive_card(
        [
            heading(t("codev.swap.offer_title", name=group.name), size="Medium"),
            paragraph(
                t(
                    "codev.swap.offer_text",
                    volunteer=person_name(volunteer, locale=locale),
                    number=row.number,
                    when=format_when(row.starts_at, locale=locale, tz=tz),
                )
            ),
        ],
        [
            submit(
                t("codev.swap.accept"),
                verb=VERB_SWAP_ACCEPT,
                style="positive",
                session_id=row.id,
                volunteer_id=volunteer_id,
            ),
            submit(
                t("codev.swap.decline"),
                verb=VERB_SWAP_DECLINE,
                session_id=row.id,
                volunteer_id=volunteer_id,
            ),
        ],
    )


# -- private cards ------------------------------------------------------------------------------

# Each kind's title, introduction and field label.
_NOTE_TEXTS = {
    NOTE_PLAN: ("codev.note.plan.title", "codev.note.plan.intro", "codev.note.plan.label"),
    NOTE_LEARNING: (
        "codev.note.learning.title",
        "codev.note.learning.intro",
        "codev.note.learning.label",
    ),
    NOTE_FOLLOWUP: (
        "codev.note.followup.title",
        "codev.note.followup.intro",
        "codev.note.followup.label",
    ),
}


def build_note_card(
    group: CodevGroup, row: CodevSession, *, kind: str, text: str, locale: str
) -> Element:
    """A private card (1:1) to write one's own note: the client's action plan (step 5) or
    follow-up (2 weeks later, optional), a member's learning notes (step 6)."""
    t = translator(locale)
    title, intro, label = _NOTE_TEXTS[kind]
    return adaptive_card(
        [
            heading(t(title, name=group.name, number=row.number), size="Medium"),
            paragraph(t(intro)),
            paragraph(t("codev.note.private"), subtle=True),
            {
                "type": "Input.Text",
                "id": "text",
                "isMultiline": True,
                "maxLength": MAX_NOTE_LENGTH,
                "label": t(label),
                "value": text,
            },
        ],
        [
            submit(
                t("codev.note.save"), verb=VERB_NOTE, style="positive", session_id=row.id, kind=kind
            )
        ],
    )
