"""Toolbox cards: the community's toolbox (filters, links, « Utile pour moi », and for
facilitators and sharers the management buttons), the share / edit form, the merge choice,
the "which community?" card and the line a saved resource leaves.

Every resource is a link the reader opens (Action.OpenUrl): the bot never fetches it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from cards.common import MAX_CARD_BYTES, Element, adaptive_card, heading, paragraph, submit
from cards.confirm import VERB_DISMISS
from cards.consultations import identifier_kinds_text
from cards.i18n import format_day, plural, translator
from storage import toolbox
from storage.identifiers import IdentifierKind
from storage.models import (
    AgendaItem,
    Community,
    Meeting,
    Resource,
    ResourceKind,
    ResourceVisibility,
)
from storage.toolbox import Draft, ResourceRow

VERB_SHOW = "toolbox.show"
VERB_SHARE_START = "toolbox.share_start"
VERB_SHARE = "toolbox.share"
VERB_CANCEL = "toolbox.cancel"
VERB_MARK = "toolbox.mark"
VERB_PIN = "toolbox.pin"
VERB_EDIT = "toolbox.edit"
VERB_UPDATE = "toolbox.update"
VERB_REMOVE = "toolbox.remove"
VERB_MERGE = "toolbox.merge"
VERB_ATTACH = "toolbox.attach"
VERB_ATTACH_TO = "toolbox.attach_to"
# Buttons that act even while a dialog waits (all but the share form's, which the dialog reads).
BROWSING_VERBS = frozenset(
    {VERB_SHOW, VERB_SHARE_START, VERB_MARK, VERB_PIN, VERB_EDIT, VERB_UPDATE, VERB_REMOVE}
    | {VERB_MERGE, VERB_ATTACH, VERB_ATTACH_TO}
)

# The form's inputs (and the filters').
INPUT_TITLE = "title"
INPUT_URL = "url"
INPUT_KIND = "kind"
INPUT_THEMES = "themes"
INPUT_WHY = "why"
INPUT_VISIBILITY = "visibility"
INPUT_MERGE_INTO = "into"
# The agenda item a resource is attached to (an id: bot/tenancy.py CARD_IDS checks it).
INPUT_AGENDA_ITEM = "agenda_item_id"
FILTER_THEME = "filter_theme"
FILTER_KIND = "filter_kind"
# « Tous »: a value of its own, as a compact list shows an empty box for the value "".
FILTER_ALL = "*"

MAX_SHOWN = 20
WHY_PREVIEW = 220
CARD_BUDGET = MAX_CARD_BYTES - 2_000
BUTTONS_PER_ROW = 3
KIND_ORDER = tuple(ResourceKind)

PROBLEM_KEYS: dict[str, str] = {
    toolbox.TITLE_MISSING: "toolbox.error.title_missing",
    toolbox.TITLE_TOO_LONG: "toolbox.error.title_too_long",
    toolbox.URL_MISSING: "toolbox.error.url_missing",
    toolbox.URL_SCHEME: "toolbox.error.url_scheme",
    toolbox.URL_INVALID: "toolbox.error.url_invalid",
    toolbox.URL_TOO_LONG: "toolbox.error.url_too_long",
    toolbox.WHY_TOO_LONG: "toolbox.error.why_too_long",
    toolbox.TOO_MANY_THEMES: "toolbox.error.too_many_themes",
    toolbox.THEME_TOO_LONG: "toolbox.error.theme_too_long",
    toolbox.KIND_INVALID: "toolbox.error.kind_invalid",
    toolbox.VISIBILITY_INVALID: "toolbox.error.visibility_invalid",
}


KIND_KEYS: dict[ResourceKind, str] = {
    ResourceKind.CLINICAL_TOOL: "toolbox.kind.clinical_tool",
    ResourceKind.GUIDE: "toolbox.kind.guide",
    ResourceKind.ARTICLE: "toolbox.kind.article",
    ResourceKind.TRAINING: "toolbox.kind.training",
    ResourceKind.TEMPLATE: "toolbox.kind.template",
    ResourceKind.OTHER: "toolbox.kind.other",
}
VISIBILITY_KEYS: dict[ResourceVisibility, str] = {
    ResourceVisibility.COMMUNITY: "toolbox.visibility.community",
    ResourceVisibility.TENANT: "toolbox.visibility.tenant",
}


def kind_label(kind: str, *, locale: str) -> str:
    return translator(locale)(KIND_KEYS[ResourceKind(kind)])


def visibility_label(visibility: str, *, locale: str) -> str:
    return translator(locale)(VISIBILITY_KEYS[ResourceVisibility(visibility)])


def problem_texts(codes: Sequence[str], *, locale: str) -> list[str]:
    """What the person must fix, one sentence per reason, in their language."""
    t = translator(locale)
    return [
        t(
            PROBLEM_KEYS[code],
            title=toolbox.MAX_TITLE_LENGTH,
            why=toolbox.MAX_WHY_LENGTH,
            themes=toolbox.MAX_THEMES,
            theme=toolbox.MAX_THEME_LENGTH,
            url=toolbox.MAX_URL_LENGTH,
        )
        for code in codes
        if code in PROBLEM_KEYS
    ]


def identifiers_text(kinds: Sequence[IdentifierKind], *, locale: str) -> str:
    """« Votre texte semble contenir un courriel et une date de naissance… »."""
    return translator(locale)(
        "toolbox.error.identifiers", kinds=identifier_kinds_text(kinds, locale=locale)
    )


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= WHY_PREVIEW else text[: WHY_PREVIEW - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads the toolbox card: `person_id` (None for a card everyone in a channel sees,
    which then has no management buttons) and whether they facilitate the community shown."""

    person_id: int | None = None
    facilitator: bool = False


def _resource(row: ResourceRow, *, viewer: Viewer, locale: str) -> Element:
    t = translator(locale)
    resource = row.resource
    facts = [kind_label(resource.kind, locale=locale)]
    if row.resource.pinned and row.here:
        facts.insert(0, t("toolbox.card.pinned"))
    facts.append(plural(locale, "toolbox.card.marks", row.marks))
    if resource.themes:
        facts.append(", ".join(resource.themes))
    if row.sharer is not None and row.sharer.name:
        facts.append(t("toolbox.card.shared_by", name=row.sharer.name))
    if not row.here:
        facts.append(t("toolbox.card.from", community=row.community_name))
    items: list[Element] = [
        {"type": "TextBlock", "text": resource.title, "weight": "Bolder", "wrap": True},
        {
            "type": "TextBlock",
            "text": " · ".join(facts),
            "isSubtle": True,
            "size": "Small",
            "spacing": "None",
            "wrap": True,
        },
    ]
    if resource.why:
        items.append(paragraph(_preview(resource.why), spacing="Small"))
    buttons: list[Element] = [
        {"type": "Action.OpenUrl", "title": t("toolbox.card.open"), "url": resource.url},
        # Which way the click goes, so a second click (or two at once) changes nothing.
        submit(
            t("toolbox.card.unmark") if row.marked else t("toolbox.card.mark"),
            verb=VERB_MARK,
            resource_id=resource.id,
            useful=not row.marked,
        ),
    ]
    items.append({"type": "ActionSet", "actions": buttons})
    manage: list[Element] = []
    sharer = viewer.person_id is not None and resource.shared_by_id == viewer.person_id
    facilitator = viewer.person_id is not None and viewer.facilitator and row.here
    if facilitator:
        manage.append(
            submit(
                t("toolbox.card.unpin") if resource.pinned else t("toolbox.card.pin"),
                verb=VERB_PIN,
                resource_id=resource.id,
                pinned=not resource.pinned,
            )
        )
    if facilitator or sharer:
        manage.append(submit(t("toolbox.card.edit"), verb=VERB_EDIT, resource_id=resource.id))
        manage.append(
            submit(
                t("toolbox.card.withdraw") if sharer else t("toolbox.card.retire"),
                verb=VERB_REMOVE,
                resource_id=resource.id,
            )
        )
    if facilitator:
        manage.append(submit(t("toolbox.card.merge"), verb=VERB_MERGE, resource_id=resource.id))
        manage.append(submit(t("toolbox.card.attach"), verb=VERB_ATTACH, resource_id=resource.id))
    if manage:
        items.append({"type": "ActionSet", "spacing": "None", "actions": manage})
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _filters(
    *, themes: Sequence[str], theme: str | None, kind: str | None, community_id: int, locale: str
) -> Element:
    t = translator(locale)
    every = {"title": t("toolbox.filter.all"), "value": FILTER_ALL}
    inputs: list[Element] = [
        {
            "type": "Input.ChoiceSet",
            "id": FILTER_KIND,
            "style": "compact",
            "label": t("toolbox.filter.kind"),
            "value": kind or FILTER_ALL,
            "choices": [
                every,
                *({"title": kind_label(k, locale=locale), "value": k.value} for k in KIND_ORDER),
            ],
        }
    ]
    if themes:
        inputs.append(
            {
                "type": "Input.ChoiceSet",
                "id": FILTER_THEME,
                "style": "compact",
                "label": t("toolbox.filter.theme"),
                "value": theme or FILTER_ALL,
                "choices": [every, *({"title": th, "value": th} for th in themes)],
            }
        )
    return {
        "type": "Container",
        "spacing": "Medium",
        "items": [
            {
                "type": "ColumnSet",
                "columns": [
                    {"type": "Column", "width": "stretch", "items": [item]} for item in inputs
                ],
            },
            {
                "type": "ActionSet",
                "actions": [
                    submit(t("toolbox.filter.apply"), verb=VERB_SHOW, community_id=community_id)
                ],
            },
        ],
    }


def _size(card: Element) -> int:
    return len(json.dumps(card).encode("utf-8"))


def build_toolbox_card(
    rows: Sequence[ResourceRow],
    *,
    community: Community,
    themes: Sequence[str],
    viewer: Viewer,
    locale: str,
    theme: str | None = None,
    kind: str | None = None,
) -> Element:
    """The toolbox as `storage.toolbox.toolbox` orders it (pinned, then most useful), cut to
    what fits; `themes` are those the filter offers (in use in the unfiltered toolbox)."""
    t = translator(locale)
    filtered = bool(theme or kind)

    def build(shown: int) -> Element:
        body: list[Element] = [
            heading(t("toolbox.card.title", community=community.name)),
            paragraph(t("toolbox.card.intro"), subtle=True, spacing="None"),
            _filters(
                themes=themes,
                theme=theme,
                kind=kind,
                community_id=community.id or 0,
                locale=locale,
            ),
        ]
        if not rows:
            body.append(
                paragraph(t("toolbox.card.no_match") if filtered else t("toolbox.card.empty"))
            )
        body += [_resource(row, viewer=viewer, locale=locale) for row in rows[:shown]]
        if len(rows) > shown:
            body.append(
                paragraph(plural(locale, "toolbox.card.more", len(rows) - shown), subtle=True)
            )
        return adaptive_card(
            body,
            [submit(t("toolbox.card.share"), verb=VERB_SHARE_START, community_id=community.id)],
        )

    shown = min(len(rows), MAX_SHOWN)
    card = build(shown)
    while shown > 1 and _size(card) > CARD_BUDGET:
        shown -= 1
        card = build(shown)
    return card


def build_toolbox_community_choice_card(
    communities: Sequence[Community], *, locale: str
) -> Element:
    """Which community's toolbox? One button per community."""
    t = translator(locale)
    buttons = [submit(c.name, verb=VERB_SHOW, community_id=c.id) for c in communities]
    return adaptive_card(
        [
            heading(t("toolbox.choose.title"), size="Medium"),
            *(
                {"type": "ActionSet", "actions": buttons[start : start + BUTTONS_PER_ROW]}
                for start in range(0, len(buttons), BUTTONS_PER_ROW)
            ),
        ]
    )


def draft_of(resource: Resource) -> Draft:
    """A saved resource as the form shows it for editing."""
    return Draft(
        title=resource.title,
        url=resource.url,
        kind=str(resource.kind),
        themes=", ".join(resource.themes),
        why=resource.why,
        visibility=str(resource.visibility),
    )


def build_resource_form_card(
    draft: Draft,
    *,
    community: Community,
    locale: str,
    request_key: str = "",
    resource_id: int | None = None,
    suggestions: Sequence[str] = (),
    errors: Sequence[str] = (),
) -> Element:
    """The share form (`request_key`: one resource however many times it is sent) or, with
    `resource_id`, the edit form; `errors` are shown above the fields, whose values are kept."""
    t = translator(locale)
    editing = resource_id is not None
    body: list[Element] = [
        heading(
            t(
                "toolbox.form.edit_title" if editing else "toolbox.form.title",
                community=community.name,
            ),
            size="Medium",
        ),
    ]
    if not editing:
        body.append(paragraph(t("toolbox.form.intro"), subtle=True, spacing="None"))
    if errors:
        body.append(
            {
                "type": "Container",
                "style": "attention",
                "items": [paragraph(f"⚠ {error}", spacing="Small") for error in errors],
            }
        )
    body += [
        {
            "type": "Input.Text",
            "id": INPUT_TITLE,
            "label": t("toolbox.form.title_label"),
            "value": draft.title,
            "maxLength": toolbox.MAX_TITLE_LENGTH,
            "isRequired": True,
            "errorMessage": t("toolbox.error.title_missing"),
        },
        {
            "type": "Input.Text",
            "id": INPUT_URL,
            "label": t("toolbox.form.url_label"),
            "placeholder": "https://",
            "style": "Url",
            "value": draft.url,
            "isRequired": True,
            "errorMessage": t("toolbox.error.url_missing"),
        },
        paragraph(t("toolbox.form.url_hint"), subtle=True, spacing="None"),
        {
            "type": "Input.ChoiceSet",
            "id": INPUT_KIND,
            "style": "compact",
            "label": t("toolbox.form.kind_label"),
            "value": draft.kind,
            "choices": [
                {"title": kind_label(k, locale=locale), "value": k.value} for k in KIND_ORDER
            ],
        },
        {
            "type": "Input.Text",
            "id": INPUT_THEMES,
            "label": t("toolbox.form.themes_label", max=toolbox.MAX_THEMES),
            "placeholder": t("toolbox.form.themes_placeholder"),
            "value": draft.themes,
        },
    ]
    if suggestions:
        body.append(
            paragraph(
                t("toolbox.form.themes_hint", themes=", ".join(suggestions)),
                subtle=True,
                spacing="None",
            )
        )
    body += [
        {
            "type": "Input.Text",
            "id": INPUT_WHY,
            "label": t("toolbox.form.why_label"),
            "placeholder": t("toolbox.form.why_placeholder"),
            "isMultiline": True,
            "maxLength": toolbox.MAX_WHY_LENGTH,
            "value": draft.why,
        },
        {
            "type": "Input.ChoiceSet",
            "id": INPUT_VISIBILITY,
            "style": "expanded",
            "label": t("toolbox.form.visibility_label"),
            "value": draft.visibility,
            "choices": [
                {"title": visibility_label(v, locale=locale), "value": v.value}
                for v in ResourceVisibility
            ],
        },
        paragraph(t("toolbox.form.screening"), subtle=True),
    ]
    if editing:
        confirm = submit(
            t("toolbox.form.save"), verb=VERB_UPDATE, style="positive", resource_id=resource_id
        )
    else:
        confirm = submit(
            t("toolbox.form.share"),
            verb=VERB_SHARE,
            style="positive",
            community_id=community.id,
            request_key=request_key,
        )
    # The share form's « Annuler » ends its dialog; an edit form has none to end.
    cancel = submit(t("toolbox.form.cancel"), verb=VERB_DISMISS if editing else VERB_CANCEL)
    return adaptive_card(body, [confirm, cancel])


def build_shared_card(
    resource: Resource, *, community: Community, locale: str, edited: bool = False
) -> Element:
    """What a sent form becomes: the resource saved, its link, the way back to the toolbox."""
    t = translator(locale)
    key = "toolbox.saved.edited" if edited else "toolbox.saved.shared"
    return adaptive_card(
        [paragraph(t(key, title=resource.title, community=community.name))],
        [
            {"type": "Action.OpenUrl", "title": t("toolbox.card.open"), "url": resource.url},
            submit(t("toolbox.saved.show"), verb=VERB_SHOW, community_id=community.id),
        ],
    )


def build_merge_card(resource: Resource, targets: Sequence[Resource], *, locale: str) -> Element:
    """Which resource a duplicate is merged into (its marks move there)."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("toolbox.merge.title", title=resource.title), size="Medium"),
        paragraph(t("toolbox.merge.explain"), subtle=True, spacing="None"),
    ]
    if not targets:
        body.append(paragraph(t("toolbox.merge.none")))
        return adaptive_card(body)
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": INPUT_MERGE_INTO,
            "style": "compact",
            "label": t("toolbox.merge.into"),
            "isRequired": True,
            "errorMessage": t("toolbox.merge.choose"),
            "choices": [{"title": r.title, "value": str(r.id)} for r in targets],
        }
    )
    return adaptive_card(
        body,
        [
            submit(
                t("toolbox.merge.confirm"),
                verb=VERB_MERGE,
                style="destructive",
                resource_id=resource.id,
                confirmed=True,
            ),
            submit(t("confirm.dismiss"), verb=VERB_DISMISS),
        ],
    )


def build_outcome_card(text: str) -> Element:
    return adaptive_card([paragraph(text)])


def build_attach_card(
    resource: Resource,
    choices: Sequence[tuple[Meeting, AgendaItem]],
    *,
    locale: str,
    tz: str,
) -> Element:
    """« Joindre à une rencontre »: which agenda item of the community's upcoming meetings the
    resource goes with (« date — item title »); it then shows under that item on the agenda
    card and in the reminders."""
    t = translator(locale)
    body: list[Element] = [
        heading(t("toolbox.attach.title", title=resource.title), size="Medium"),
        paragraph(t("toolbox.attach.explain"), subtle=True, spacing="None"),
    ]
    if not choices:
        body.append(paragraph(t("toolbox.attach.none")))
        return adaptive_card(body)
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": INPUT_AGENDA_ITEM,
            "style": "compact",
            "label": t("toolbox.attach.item"),
            "isRequired": True,
            "errorMessage": t("toolbox.attach.choose"),
            "choices": [
                {
                    "title": t(
                        "toolbox.attach.choice",
                        day=format_day(meeting.starts_at, locale=locale, tz=tz),
                        item=item.title,
                    ),
                    "value": str(item.id),
                }
                for meeting, item in choices
            ],
        }
    )
    return adaptive_card(
        body,
        [
            submit(
                t("toolbox.attach.confirm"),
                verb=VERB_ATTACH_TO,
                style="positive",
                resource_id=resource.id,
            ),
            submit(t("confirm.dismiss"), verb=VERB_DISMISS),
        ],
    )
