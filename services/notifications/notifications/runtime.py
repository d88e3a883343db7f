"""The notifications service's wiring (see servicekit.runtime)."""
from pathlib import Path

from servicekit.config import load
from servicekit.runtime import Runtime

from .adapters.tables import messaging
from .settings import NotificationsSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def build_runtime(environ=None) -> Runtime:
    return Runtime(load(NotificationsSettings, "notifications", environ), messaging, MIGRATIONS_DIR)
