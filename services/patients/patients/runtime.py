"""The patients service's wiring (see servicekit.runtime)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from servicekit.config import ConfigError, load
from servicekit.runtime import Runtime

from .adapters.cpr_vault import CprVault
from .adapters.tables import messaging
from .settings import PatientsSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class PatientsRuntime(Runtime):
    settings: PatientsSettings

    def __init__(self, settings: PatientsSettings):
        super().__init__(settings, messaging, MIGRATIONS_DIR)
        try:
            self.vault = CprVault(settings.cpr_key.value, settings.cpr_hash_key.value)
        except ValueError as exc:
            raise ConfigError(f"invalid settings: PATIENTS_CPR_KEY / PATIENTS_CPR_HASH_KEY: {exc}") from None

    @property
    def transfer_lifetime(self) -> timedelta:
        return timedelta(days=self.settings.transfer_expiry_days)


def build_runtime(environ=None) -> PatientsRuntime:
    return PatientsRuntime(load(PatientsSettings, "patients", environ))
