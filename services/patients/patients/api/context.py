"""What every patients view needs: the runtime (database, CPR vault, settings) and the caller."""
from __future__ import annotations

from flask import current_app

from ..runtime import PatientsRuntime


def runtime() -> PatientsRuntime:
    return current_app.extensions["danbio.runtime"]
