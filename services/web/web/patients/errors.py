"""Refusals on the patient pages, in words that fit them, and what every patient page's template
needs besides its own data."""
from flask import g

from ..adapters.gateway_client import NoAccess, Rejected
from ..errors import HTTP_PAGES, page
from . import bp, messages


@bp.errorhandler(NoAccess)
def refused(_error):
    if "profile" not in g:
        # The caller's own profile was refused: not a DANBIO user at all (the app-wide page).
        return page(403, "Ingen adgang til DANBIO",
                    "Dit login er gyldigt, men du er ikke oprettet som bruger med adgang til DANBIO. "
                    "Kontakt din lokale brugeradministrator.", logout_button=True)
    return page(403, "Ingen adgang", "Du har kun adgang til patienter og afdelinger, du er tilknyttet.")


@bp.errorhandler(Rejected)
def rejected(error: Rejected):
    if error.status == 404:
        # The service answers 404 for someone else's patient too: an opaque id reveals nothing.
        return page(404, "Findes ikke", "Patienten, afdelingen eller anmodningen findes ikke blandt dem, "
                                        "du har adgang til.")
    if error.status == 429:
        return page(429, "For mange forsøg", "Du har prøvet for mange gange. Vent lidt, og prøv igen.")
    return page(error.status, *HTTP_PAGES.get(error.status, ("Handlingen kunne ikke udføres",
                                                           "Gå tilbage, og prøv igen.")))


@bp.context_processor
def words():
    return {"diagnosis_groups": messages.DIAGNOSIS_GROUPS, "diagnosis_short": messages.DIAGNOSIS_SHORT,
            "platform_statuses": messages.PLATFORM_STATUSES, "platform_labels": messages.PLATFORM_LABELS,
            "transfer_statuses": messages.TRANSFER_STATUSES, "when": messages.when,
            "department_label": messages.department_label, "notice_text": messages.notice_text,
            "audit_actions": messages.AUDIT_ACTIONS}
