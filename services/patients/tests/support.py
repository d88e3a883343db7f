"""What the patients tests share: departments and CPR numbers they use, a caller signed as the
gateway signs, and the scan of log lines for CPR numbers. (Fixtures are in conftest.py.)"""
from __future__ import annotations

import base64
import logging
import re
import traceback
import uuid

from patients.domain.organisation import department_id
from servicekit.principal import HEADER, Principal, sign

# Departments of the bundled organisation the tests use.
ODENSE = department_id("OUH-REU-C")            # Reumatologisk Afdeling C, Odense Universitetshospital
GLOSTRUP = department_id("RH-GLO-REU")         # Videncenter for Reumatologi og Rygsygdomme
AARHUS = department_id("AUH-LBR")              # Led-, Bindevævs- og Rygsygdomme
AALBORG = department_id("AAUH-REU")            # Reumatologisk Afdeling, Aalborg

# CPR numbers the tests use (invented; valid dates). Kept here so the log scan knows them.
CPR_A = "010190-1009"          # 1 Jan 1990
CPR_B = "150875-2004"          # 15 Aug 1975
CPR_C = "290200-4001"          # 29 Feb 2000 (7th digit 4, year 00: 2000, a leap year)
CPR_MOD11_EXCEPTION = "010165-1235"  # 1 Jan 1965: fails modulus 11, issued nonetheless
TEST_CPRS = {CPR_A, CPR_B, CPR_C, CPR_MOD11_EXCEPTION}


def key(seed: int) -> str:
    return base64.b64encode(bytes([seed]) * 32).decode()


class Caller:
    """Someone calling the patients service through the gateway: a fresh signature per request
    (signatures live 30 seconds)."""

    def __init__(self, app, principal: Principal, signing_key):
        self.app, self.principal, self.signing_key = app, principal, signing_key

    def headers(self) -> dict:
        return {HEADER: sign(self.principal, audience="patients", key=self.signing_key)}

    def get(self, path, **kwargs):
        return self.app.test_client().get(path, headers=self.headers(), **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.app.test_client().post(path, json=json if json is not None else {}, headers=self.headers(),
                                           **kwargs)

    def patch(self, path, json=None):
        return self.app.test_client().patch(path, json=json or {}, headers=self.headers())


def new_patient(who: Caller, department: uuid.UUID, cpr: str = CPR_A, *, name: str = "Karen Jensen",
                diagnosis_group: str = "RA") -> dict:
    response = who.post("/patients", {"cpr": cpr, "name": name, "diagnosis_group": diagnosis_group,
                                      "department_id": str(department)})
    assert response.status_code == 201, response.json
    return response.json


# --- the watch on log lines ----------------------------------------------------------------------

# Ids are hex and may hold ten digits in a row by chance: they are taken out before the scan.
_IDS = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\b[0-9a-fA-F]{32}\b")
_CPR_SHAPED = re.compile(r"(?<![\d+])\d{6}-?\d{4}(?!\d)")   # not inside an E.164 phone number
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

CAPTURED: list[str] = []   # every line of this session's patients tests, unmasked


def render(record: logging.LogRecord) -> str:
    """All a log line carries: message, extra fields and traceback, before any masking."""
    parts = [record.getMessage()]
    parts += [f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")]
    if record.exc_info:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return " ".join(parts)


def cpr_leaks(lines: list[str]) -> list[str]:
    """Lines holding something CPR-shaped, or one of the tests' CPR numbers in any form."""
    known = {c.replace("-", "") for c in TEST_CPRS}
    leaks = []
    for line in lines:
        cleaned = _IDS.sub("<id>", line)
        if _CPR_SHAPED.search(cleaned) or any(k in cleaned.replace("-", "") for k in known):
            leaks.append(line)
    return leaks


class KeepLines(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(render(record))
