"""Error pages in Danish, never a stack trace: what happened and what the user can do."""
from __future__ import annotations

import logging

from flask import Flask, g, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .adapters.gateway_client import GatewayError, GatewayUnavailable, NoAccess, Rejected
from .adapters.oidc import ProviderUnavailable
from .views import NotAnAdministrator

log = logging.getLogger(__name__)

HTTP_PAGES = {
    400: ("Ugyldig forespørgsel", "Forespørgslen kunne ikke forstås. Gå tilbage og prøv igen."),
    403: ("Ingen adgang", "Du har ikke adgang til denne side."),
    404: ("Siden findes ikke", "Siden, du leder efter, findes ikke. Kontrollér adressen, eller gå til forsiden."),
    405: ("Handlingen er ikke tilladt", "Siden kan ikke bruges på denne måde. Gå til forsiden og prøv igen."),
    413: ("For stor forespørgsel", "Det, du sendte, er for stort."),
}
UNAVAILABLE = ("Tjenesten er midlertidigt utilgængelig",
               "DANBIO kan ikke svare lige nu. Vent lidt, og prøv igen. Fortsætter problemet, så kontakt support.")


def page(status: int, title: str, message: str, **extra):
    return render_template("error.html", title=title, message=message, request_id=g.get("request_id", ""),
                           **extra), status


def install(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(_error):
        return page(400, "Formularen er udløbet",
                    "Formularen var for gammel eller ugyldig, så intet blev gemt. Gå tilbage, genindlæs siden og prøv igen.")

    @app.errorhandler(NotAnAdministrator)
    def not_admin(_error):
        return page(403, "Ingen adgang", "Brugeradministration er kun for registerets og hospitalernes "
                                         "brugeradministratorer.")

    @app.errorhandler(NoAccess)
    def no_access(_error):
        return page(403, "Ingen adgang til DANBIO",
                    "Dit login er gyldigt, men du er ikke oprettet som bruger med adgang til DANBIO. "
                    "Kontakt din lokale brugeradministrator.", logout_button=True)

    @app.errorhandler(GatewayUnavailable)
    @app.errorhandler(ProviderUnavailable)
    def unavailable(error):
        log.warning("a server behind the web UI did not answer", extra={"error": str(error)[:200]})
        return page(503, *UNAVAILABLE)

    @app.errorhandler(Rejected)
    def rejected(error: Rejected):
        # Pages with forms catch Rejected themselves and show the field errors; this is the rest.
        if error.status == 404:
            return page(404, *HTTP_PAGES[404])
        if error.status == 429:
            return page(429, "For mange forsøg", "Du har prøvet for mange gange. Vent lidt, og prøv igen.")
        return page(error.status, "Handlingen kunne ikke udføres",
                    "DANBIO kunne ikke udføre handlingen, og intet blev ændret. Gå tilbage, og prøv igen.")

    @app.errorhandler(GatewayError)
    def gateway_error(error: GatewayError):
        log.error("unexpected answer from the gateway", extra={"status": error.status, "detail": error.detail})
        return page(502, "Der opstod en fejl", "DANBIO fik et uventet svar og kunne ikke vise siden. Prøv igen.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        title, message = HTTP_PAGES.get(error.code or 500, ("Der opstod en fejl", "Prøv igen."))
        return page(error.code or 500, title, message)

    @app.errorhandler(Exception)
    def unexpected(_error):
        log.exception("unhandled error")
        return page(500, "Der opstod en fejl",
                    "Der skete en fejl hos os, og siden kunne ikke vises. Prøv igen om lidt. "
                    "Kontakt support og oplys fejlkoden, hvis det sker igen.")
