"""The web's settings (see servicekit.config for the shared ones)."""
from dataclasses import dataclass

from servicekit.config import ProcessSettings


@dataclass(frozen=True)
class WebSettings(ProcessSettings):
    pass
