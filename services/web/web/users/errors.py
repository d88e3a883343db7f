"""Refusals on user administration pages, in words that fit them."""
from flask import g

from ..adapters.gateway_client import NoAccess
from ..errors import page
from . import bp


@bp.errorhandler(NoAccess)
def refused(_error):
    if "profile" not in g:
        # The caller's own profile was refused: not a DANBIO user at all (the app-wide page).
        return page(403, "Ingen adgang til DANBIO",
                    "Dit login er gyldigt, men du er ikke oprettet som bruger med adgang til DANBIO. "
                    "Kontakt din lokale brugeradministrator.", logout_button=True)
    return page(403, "Ingen adgang", "Du kan kun administrere brugere på de hospitaler, du er "
                                     "brugeradministrator for.")
