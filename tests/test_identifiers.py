"""Identifiers spotted in a consultation summary: social insurance numbers and addresses
(the other kinds are tested in tests/test_consultations.py)."""

from __future__ import annotations

import pytest

from cards.consultations import identifier_kinds_text
from storage.consultations import IdentifierKind, likely_identifiers

SIN = IdentifierKind.SOCIAL_INSURANCE
ADDRESS = IdentifierKind.ADDRESS


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Son NAS est 046 454 286, à vérifier.", (SIN,)),
        ("sin 046-454-286", (SIN,)),
        ("046454286", (SIN,)),
        ("Elle habite au 1234 rue Saint-Denis depuis un an.", (ADDRESS,)),
        ("Suivi au 56, boul. Taschereau, 2e étage.", (ADDRESS,)),
        ("He lives at 8 Main St. with his sister.", (ADDRESS,)),
        ("Code postal H2X 1Y4", (ADDRESS,)),
        ("code postal j8y3a1", (ADDRESS,)),
    ],
)
def test_social_insurance_numbers_and_addresses_are_spotted(
    text: str, kinds: tuple[IdentifierKind, ...]
) -> None:
    assert likely_identifiers(text) == kinds


@pytest.mark.parametrize(
    "text",
    [
        # Nine digits that fail the Luhn check are not a SIN.
        "Référence interne 123 456 789",
        # Numbers before words that are not streets, and letters-digits that are no postal code.
        "Nous avons fait 3 rencontres et 12 places sont libres.",
        "Le groupe compte 25 personnes; 2 rues plus loin il y a un CLSC.",
        "Le formulaire D1A 2B3 n'est pas un code postal (D n'est jamais utilisé).",
        "Une usagère de 45 ans en perte d'autonomie, suivie depuis 2 ans.",
    ],
)
def test_ordinary_sentences_are_not_identifiers(text: str) -> None:
    assert likely_identifiers(text) == ()


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fr-CA", "un numéro d’assurance sociale et une adresse ou un code postal"),
        ("en", "a social insurance number and an address or a postal code"),
    ],
)
def test_the_warning_names_the_kinds_in_the_users_language(locale: str, expected: str) -> None:
    assert identifier_kinds_text((SIN, ADDRESS), locale=locale) == expected
