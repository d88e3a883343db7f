"""The user's own account: "Ret mine oplysninger" (logged in), and — before login — choosing a
password from a welcome or reset link (/aktiver/<token>) and "Glemt adgangskode?" by SMS code.

The public pages call identity's public routes through ``public_api`` (no token). Secrets (the link
token, the reset's id, the set-password token) are kept in the server-side session, never in a URL
after the first one, and every form carries the CSRF token.
"""
from flask import Blueprint

bp = Blueprint("account", __name__)

from . import activation, profile_edit, reset  # noqa: E402,F401  (routes register on bp)
