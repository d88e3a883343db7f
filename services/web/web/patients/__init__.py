"""Patients in the Danish UI — requirements E1, E2, F1 and the patient part of G: create a patient
(with the "registered elsewhere" message and transfer requests), the department's board
("Patienttavle Graf" → "Overblik" → "Request to import"), transfer requests and in-app notices,
the patient page with "Patientens kiosk status", the app-integration page and search.

The patients service decides everything; these pages show its answers in Danish. A CPR number
only ever travels in a POST body (or the sealed server-side session between two steps of a
form): never in a URL or a log line. Changes are POST forms with a CSRF token, then a redirect
with a flash message (post/redirect/get)."""
from flask import Blueprint

bp = Blueprint("patients", __name__)

from . import errors, create, board, transfers, patient, search  # noqa: E402,F401  (routes register on bp)
