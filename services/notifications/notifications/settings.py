"""The notifications service's settings (see servicekit.config for the shared ones)."""
from dataclasses import dataclass

from servicekit.config import ServiceSettings


@dataclass(frozen=True)
class NotificationsSettings(ServiceSettings):
    pass
