"""The pages of the Danish shell: the front page, "Ret brugerprofil", and for administrators
"BRUGERADMINISTRATION" → "Brugere" (the web.users package)."""
from flask import Blueprint, render_template, session

from .auth import login_required
from .profile import current_profile

bp = Blueprint("pages", __name__)


class NotAnAdministrator(Exception):
    pass


@bp.get("/")
def home():
    if not session.get("tokens"):
        return render_template("landing.html")
    return render_template("home.html", profile=current_profile())


@bp.get("/profil")
@login_required
def profile():
    return render_template("profile.html", profile=current_profile())

