"""The Danish words of the patient pages: diagnosis groups, statuses, notices, and the patients
service's error codes turned into messages a user can act on."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..adapters.gateway_client import Rejected

DIAGNOSIS_GROUPS = (("RA", "RA (reumatoid artritis)"), ("PsA", "PsA (psoriasisartritis)"),
                    ("axSpA", "axSpA (aksial spondyloartritis)"), ("other", "Anden"))
DIAGNOSIS_SHORT = {"RA": "RA", "PsA": "PsA", "axSpA": "axSpA", "other": "Anden"}

# The patient platform's statuses, as the guide names them; "unknown": never reported.
PLATFORM_STATUSES = (("active", "Aktiv"), ("inactive", "Inaktiv"), ("unknown", "Ukendt"))
PLATFORM_LABELS = dict(PLATFORM_STATUSES)

TRANSFER_STATUSES = {"pending": "Afventer", "approved": "Godkendt", "rejected": "Afvist",
                     "cancelled": "Annulleret", "expired": "Udløbet"}

NOTICES = {
    "transfer_requested": "{to} anmoder om at overtage patienten {cpr} fra {from_}.",
    "transfer_approved": "{from_} har godkendt overførslen af patienten {cpr} til {to}.",
    "transfer_rejected": "{from_} har afvist overførslen af patienten {cpr} til {to}.",
    "transfer_cancelled": "{to} har trukket anmodningen om at overtage patienten {cpr} tilbage.",
    "transfer_expired": "Anmodningen om at overføre patienten {cpr} fra {from_} til {to} er udløbet.",
}

# The audit log's actions (patients.domain.audit), as the registry administrator reads them.
AUDIT_ACTIONS = {
    "patient.lookup": "Tjekkede CPR-nummeret (opret patient)", "patient.create": "Oprettede patienten",
    "patient.create_refused": "Forsøgte at oprette patienten (fandtes allerede)", "patient.read": "Åbnede patienten",
    "patient.update": "Rettede patientens oplysninger", "patient.search": "Fandt patienten ved søgning",
    "patient.platform_status.read": "Så patientens kiosk status", "department.patients.list": "Så patienten på listen",
    "transfer.request": "Anmodede om overførsel", "transfer.approve": "Godkendte overførsel",
    "transfer.reject": "Afviste overførsel", "transfer.cancel": "Trak anmodning om overførsel tilbage",
    "transfer.expire": "Anmodning om overførsel udløb", "transfer.list": "Så anmodninger om overførsel",
    "platform_status.report": "Patientplatformen meldte status", "audit.read": "Læste adgangsloggen",
}

CODES = {
    "required": "Skal udfyldes.",
    "cpr_format": "Skriv CPR-nummeret som DDMMÅÅ-SSSS eller som 10 cifre.",
    "cpr_no_such_date": "Fødselsdatoen i CPR-nummeret findes ikke.",
    "cpr_future": "Fødselsdatoen i CPR-nummeret ligger i fremtiden.",
    "cpr_unknown": "Der er ingen patient med dette CPR-nummer i DANBIO.",
    "cpr_or_name": "Søg enten på CPR-nummer eller på navn.",
    "registered_here": "Patienten er allerede registreret på afdelingen.",
    "registered_elsewhere": "Patienten er allerede registreret på en anden afdeling.",
    "name_length": "Navnet skal have mellem 1 og 200 tegn.",
    "name_too_short": "Skriv mindst 2 bogstaver af navnet.",
    "cpr_in_name": "Et navn må ikke indeholde et CPR-nummer.",
    "cpr_in_reason": "Skriv begrundelsen uden CPR-nummer.",
    "invalid_choice": "Vælg en af mulighederne.",
    "unknown_department": "Afdelingen findes ikke.",
    "department_closed": "Afdelingen er lukket.",
    "not_your_department": "Vælg en af dine egne afdelinger.",
    "not_registered_there": "Patienten er ikke (længere) registreret på den valgte afdeling.",
    "transfer_pending": "Der er allerede en ventende anmodning om overførsel af patienten fra den afdeling.",
    "transfer_closed": "Anmodningen er allerede afgjort eller trukket tilbage.",
    "transfer_expired": "Anmodningen er udløbet.",
    "reason_required": "Skriv en begrundelse.",
    "too_long": "Teksten er for lang.",
}
FALLBACK = "Værdien er ikke gyldig."

_CPR_DIGITS = re.compile(r"^\s*(\d{6})-?(\d{4})\s*$")
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def field_errors(error: Rejected) -> dict[str, str]:
    """{field: Danish message}: the service's codes where it gave them, else a plain message
    (never the service's English text, which may not be meant for users)."""
    codes = error.problem.get("codes")
    codes = codes if isinstance(codes, dict) else {}
    fields = set(codes) | _fields(error.field_errors)
    return {str(field).split(".", 1)[0]: CODES.get(str(codes.get(field)), FALLBACK) for field in fields}


def _fields(errors: dict[str, Any]) -> set[str]:
    # Marshmallow's own refusals arrive as {"json": {"field": [...]}}.
    if set(errors) == {"json"} and isinstance(errors["json"], dict):
        return set(errors["json"])
    return set(errors)


def first_error(error: Rejected, default: str = "Handlingen kunne ikke udføres, og intet blev ændret.") -> str:
    messages = field_errors(error)
    return next(iter(sorted(messages.values())), default) if messages else default


def complete_cpr(text: str) -> bool:
    """Ten digits, with or without the dash: worth asking the service about."""
    return bool(_CPR_DIGITS.match(text or ""))


def department_label(department: dict[str, Any]) -> str:
    hospital = department.get("hospital_name") or (department.get("hospital") or {}).get("name")
    return f"{department['name']}, {hospital}" if hospital else department["name"]


def when(value: str | None) -> str:
    """An ISO time from the API as Danish local time, e.g. 04-12-2026 09:15."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(COPENHAGEN)
    return moment.strftime("%d-%m-%Y %H:%M")


def notice_text(notice: dict[str, Any]) -> str:
    transfer = notice["transfer"]
    template = NOTICES.get(notice["kind"], "Nyt om overførslen af patienten {cpr}.")
    return template.format(cpr=transfer["cpr_masked"], from_=department_label(transfer["from_department"]),
                           to=department_label(transfer["to_department"]))
