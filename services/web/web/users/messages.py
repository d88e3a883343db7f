"""The Danish words of user administration: field labels, statuses, and identity's error codes
turned into messages a user can act on."""
from __future__ import annotations

from typing import Any

from ..adapters.gateway_client import Rejected

# Roles a hospital membership can have (a registry administrator is not a hospital role).
HOSPITAL_ROLES = (("clinician", "Kliniker"), ("secretary", "Sekretær"), ("local_admin", "Lokal brugeradministrator"))

STATUSES = (("active", "Aktiv"), ("blocked", "Spærret"), ("never_logged_in", "Aldrig logget ind"),
            ("email_failed", "E-mail fejlet"))

# The review state filter of "Brugere": access at this hospital changed since its last documented review.
REVIEW_STATES = (("changed", "Ændret siden sidste gennemgang"), ("unchanged", "Uændret siden sidste gennemgang"))

FIELD_LABELS = {"username": "Brugernavn", "first_name": "Fornavn", "last_name": "Efternavn", "email": "E-mail",
                "phone": "Telefon", "role": "Rolle", "departments": "Afdelinger", "q": "Søgning"}

CODES = {
    "required": "Skal udfyldes.",
    "invalid_username": ("Brugernavnet skal være 2–64 tegn og må kun indeholde bogstaverne a–z, tal, punktum, "
                         "bindestreg og understregning."),
    "username_taken": "Brugernavnet er allerede i brug. Vælg et andet, eller find brugeren under AVANCERET.",
    "email_taken": "E-mailadressen bruges allerede af en anden bruger. Find brugeren under AVANCERET, eller brug en anden adresse.",
    "invalid_email": "E-mailadressen er ikke gyldig.",
    "invalid_phone": "Telefonnummeret er ikke gyldigt: skriv et dansk nummer med 8 cifre eller et udenlandsk nummer med landekode (fx +46 70 123 45 67).",
    "invalid_role": "Vælg en gyldig rolle.",
    "no_department": "Vælg mindst én afdeling.",
    "unknown_department": "Afdelingen findes ikke på dette hospital.",
    "too_long": "Teksten er for lang.",
    "invalid_characters": "Må ikke indeholde tegnene < > & \" $ % ! # ? § ; * ~ / \\ | ^ = [ ] { } ( ).",
    "term_too_short": "Skriv mindst 3 tegn.",
    "already_member": "Brugeren er allerede tilknyttet dit hospital.",
    "changed_meanwhile": ("Brugerens adgang er blevet ændret af en anden, mens du redigerede, og dine ændringer er "
                          "ikke gemt. Formularen viser nu de nuværende adgange: ret dem igen, og tryk på "
                          "Gem ændringer."),
}
FALLBACK = "Værdien er ikke gyldig."


def field_errors(error: Rejected) -> dict[str, str]:
    """{field: Danish message} from a refusal: identity's codes where it gave them, else a plain
    message (never the service's English text). Unknown fields are kept under their own name; the
    form shows those at the top."""
    codes = error.problem.get("codes")
    codes = codes if isinstance(codes, dict) else {}
    fields = set(codes) | set(error.field_errors)
    return {_field(field): CODES.get(str(codes.get(field)), FALLBACK) for field in fields}


def _field(name: Any) -> str:
    # Marshmallow reports a list item as "departments.0" or {"departments": {"0": ...}}: one field.
    return str(name).split(".", 1)[0]


def general_errors(errors: dict[str, str], known: set[str]) -> list[str]:
    """Errors for fields the form does not show, worded with a label where there is one."""
    return [f"{FIELD_LABELS[field]}: {message}" if field in FIELD_LABELS else message
            for field, message in sorted(errors.items()) if field not in known]
