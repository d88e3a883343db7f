"""The gateway's settings (see servicekit.config for the shared ones)."""
from dataclasses import dataclass

from servicekit.config import ProcessSettings


@dataclass(frozen=True)
class GatewaySettings(ProcessSettings):
    pass
