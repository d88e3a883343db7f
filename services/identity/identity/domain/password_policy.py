"""The realm's password policy, as Keycloak writes it, in parts a page can show.

Keycloak keeps the policy as one string: ``length(12) and notUsername and passwordHistory(3)``.
Parsing it here (not wording it: the web UI words each rule in Danish) lets the set-password
pages show the same rules Keycloak will check.
"""
from __future__ import annotations

import re

_RULE = re.compile(r"^\s*([A-Za-z]+)\s*(?:\(\s*([^)]*?)\s*\))?\s*$")


def parse_policy(policy: str) -> list[dict[str, str | None]]:
    """[{"rule": "length", "value": "12"}, {"rule": "notUsername", "value": None}, ...] in order;
    parts that do not look like a rule are left out."""
    rules = []
    for part in re.split(r"\band\b", policy or ""):
        match = _RULE.match(part)
        if match:
            rules.append({"rule": match.group(1), "value": match.group(2) or None})
    return rules
