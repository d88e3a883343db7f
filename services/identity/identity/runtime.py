"""The identity service's wiring (see servicekit.runtime)."""
from pathlib import Path

from servicekit.config import load
from servicekit.runtime import Runtime

from .adapters.tables import messaging
from .settings import IdentitySettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def build_runtime(environ=None) -> Runtime:
    return Runtime(load(IdentitySettings, "identity", environ), messaging, MIGRATIONS_DIR)
