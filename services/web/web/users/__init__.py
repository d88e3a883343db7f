"""BRUGERADMINISTRATION: the pages a local (or the registry) administrator uses to manage users of
a hospital — requirements A1–A5 and G. Identity decides who may do what; these pages only show
what it answers, in Danish. Every change is a POST form with a CSRF token, then a redirect with a
flash message (post/redirect/get)."""
from flask import Blueprint

bp = Blueprint("users", __name__, url_prefix="/brugere")

from . import errors, formatting, listing, create, detail, review  # noqa: E402,F401  (routes register on bp)
