"""Made-up values of the form deploy/k8s/secrets.yaml gives for each Secret key, to start every
service's settings with (nothing here is a real secret)."""
from __future__ import annotations

import base64
import os
import secrets

from servicekit.principal import generate_keypair
from servicekit.sealed import generate_key

from .manifests import declared_secrets


def values_for_declared_secrets(namespace: str) -> dict[tuple[str, str], str]:
    values: dict[tuple[str, str], str] = {}
    for name, entry in declared_secrets().items():
        keys = entry["keys"]
        pairs = {key: spec["pair_of"] for key, spec in keys.items() if "pair_of" in spec}
        private_pem = public_pem = None
        for key, spec in keys.items():
            form = spec["format"]
            if form in ("ed25519-private-pem", "ed25519-public-pem"):
                if private_pem is None:
                    private_pem, public_pem = generate_keypair()
                values[(name, key)] = private_pem if form == "ed25519-private-pem" else public_pem
            elif form == "fernet":
                values[(name, key)] = generate_key()
            elif form == "base64-32-bytes":
                values[(name, key)] = base64.b64encode(os.urandom(32)).decode("ascii")
            elif form in ("random-text", "text", "url-safe-text"):
                values[(name, key)] = secrets.token_urlsafe(24)
            elif form == "postgresql-uri":
                database = spec["database"]
                password = secrets.token_urlsafe(24)
                values[(name, key)] = f"postgresql://{database}:{password}@{database}-db-rw.{namespace}:5432/{database}"
            elif form in ("pem-certificate", "pem-private-key"):
                values[(name, key)] = f"-----BEGIN {form.upper()}-----\n(made up)\n-----END {form.upper()}-----\n"
            else:
                raise AssertionError(f"secrets.yaml: unknown format {form} of {name}/{key}")
        for key, other in pairs.items():
            assert other in keys, f"secrets.yaml: {name}/{key} is the pair of a key {name} does not have"
    return values
