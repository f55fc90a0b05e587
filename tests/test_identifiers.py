"""Client identifiers spotted in a text a person typed (storage/identifiers.py): each kind,
ordinary sentences left alone, and the warning that names the kinds."""

from __future__ import annotations

import pytest

from cards.consultations import identifier_kinds_text
from storage.identifiers import IdentifierKind, likely_identifiers
from tests.test_consultations import SUMMARY

SIN = IdentifierKind.SOCIAL_INSURANCE
ADDRESS = IdentifierKind.ADDRESS


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Écrire à jean.tremblay@videotron.ca pour la suite", IdentifierKind.EMAIL),
        ("Sa fille: m_roy+cssss@sante.gouv.qc.ca", IdentifierKind.EMAIL),
        ("Tél.\xa0: (514) 555-1234", IdentifierKind.PHONE),
        ("son cellulaire 450.555.9876 poste 2", IdentifierKind.PHONE),
        ("rappeler au 555-1234", IdentifierKind.PHONE),
        ("+1 819 555 1234", IdentifierKind.PHONE),
        ("1-800-555-1234", IdentifierKind.PHONE),
        ("5145551234", IdentifierKind.PHONE),
        ("NAM TREL 5403 0312", IdentifierKind.HEALTH_INSURANCE),
        ("carte soleil trel54530312", IdentifierKind.HEALTH_INSURANCE),
        ("GAGM 6512 2544 expirée", IdentifierKind.HEALTH_INSURANCE),
        ("voir le dossier 123456", IdentifierKind.FILE_NUMBER),
        ("no de dossier : AB-4455", IdentifierKind.FILE_NUMBER),
        ("Numéro de dossier 8899", IdentifierKind.FILE_NUMBER),
        ("n° dossier 12345", IdentifierKind.FILE_NUMBER),
        ("usager no 445566", IdentifierKind.FILE_NUMBER),
        ("file #1234567", IdentifierKind.FILE_NUMBER),
        ("voir #1234567", IdentifierKind.FILE_NUMBER),
        ("MRN 00123456", IdentifierKind.FILE_NUMBER),
        ("né le 3 mars 1954", IdentifierKind.BIRTH_DATE),
        ("née le 1er avril 1960", IdentifierKind.BIRTH_DATE),
        ("born on March 3, 1954", IdentifierKind.BIRTH_DATE),
        ("DDN: 03/03/54", IdentifierKind.BIRTH_DATE),
        ("date de naissance : 3 mars", IdentifierKind.BIRTH_DATE),
        ("1954-03-03", IdentifierKind.BIRTH_DATE),
        ("03/03/1954", IdentifierKind.BIRTH_DATE),
        ("le 12.11.1948 à Longueuil", IdentifierKind.BIRTH_DATE),
        ("depuis le 3 mars 1954", IdentifierKind.BIRTH_DATE),
    ],
)
def test_likely_identifiers_are_spotted(text: str, kind: IdentifierKind) -> None:
    assert likely_identifiers(text) == (kind,)


@pytest.mark.parametrize(
    "text",
    [
        "Une dame dans la septantaine vit seule et refuse l’aide à domicile depuis 2019.",
        "Rencontre prévue en 2026, budget de 150 $, 3 enfants, 2 intervenantes.",
        "Conflit entre la famille et l’équipe pour l’année 2019-2020.",
        "Il ne le savait pas, le 3 mars dernier.",
        "Pour 2019 2020 on verra, 40\xa0heures par semaine, 10\xa0à 12\xa0rencontres.",
        "An older man in his eighties, lives alone since March, two visits a week.",
        SUMMARY,
    ],
)
def test_ordinary_situations_are_not_flagged(text: str) -> None:
    assert likely_identifiers(text) == ()


def test_several_kinds_come_back_in_a_fixed_order() -> None:
    text = "né le 1954-03-03, joindre au 514-555-1234 ou a.b@c.ca, dossier 99881"
    assert likely_identifiers(text) == (
        IdentifierKind.EMAIL,
        IdentifierKind.PHONE,
        IdentifierKind.FILE_NUMBER,
        IdentifierKind.BIRTH_DATE,
    )


# -- social insurance numbers and addresses ---------------------------------------------------


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
