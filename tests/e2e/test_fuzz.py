"""Fuzzing every API the gateway routes, from its own aggregated OpenAPI document (schemathesis).

Requests are generated from the documented schemas (valid and invalid ones) and sent through the
gateway as the registry administrator, who reaches the most. Whatever comes in, no service may
answer 5xx, and every documented answer must match its documented schema.

`make test` runs FUZZ_EXAMPLES (default 15) examples per operation; `make fuzz` runs many more.
"""
from __future__ import annotations

import os
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from identity.service.seed import DEMO_USERS

ADMIN = next(user for user in DEMO_USERS if user.registry_admin)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# `make fuzz`: at least this many requests per service (more examples for services with few operations).
REQUESTS_PER_SERVICE = int(os.environ.get("FUZZ_REQUESTS_PER_SERVICE", "0"))


class Tokens:
    """The administrator's access token, renewed before it expires during a long run."""

    def __init__(self, realm):
        self.realm, self.token, self.expires = realm, "", 0.0

    def header(self) -> dict[str, str]:
        if time.monotonic() > self.expires - 30:
            answer = self.realm.user_token(ADMIN.username, ADMIN.password)
            self.token, self.expires = answer["access_token"], time.monotonic() + answer["expires_in"]
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def admin_tokens(keycloak_realm):
    return Tokens(keycloak_realm)


@pytest.fixture(scope="session")
def gateway_api(stack):
    schema = schemathesis.openapi.from_url(f"{stack.url('gateway')}/openapi.json")
    schema.config.base_url = stack.url("gateway")
    return schema


def fuzz(operation, tokens, examples: int) -> int:
    """Run the examples of one operation; return how many requests were sent (raises on a finding)."""
    sent = 0

    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    def run(case):
        nonlocal sent
        response = case.call(headers=tokens.header(), timeout=20)
        sent += 1
        case.validate_response(response, checks=[checks.not_a_server_error, checks.response_schema_conformance,
                                                 checks.content_type_conformance])

    run()
    return sent


def service_of(operation) -> str:
    return operation.path.split("/")[2]  # /api/<service>/...


def test_no_server_error_and_every_answer_as_documented(gateway_api, admin_tokens):
    """One run over every operation; all findings reported together, each with its operation."""
    findings: list[str] = []
    operations = [result.ok() for result in gateway_api.get_all_operations()]
    assert len(operations) >= 20, "the gateway's document lost operations"
    by_service = Counter(service_of(operation) for operation in operations)
    assert set(by_service) == {"identity", "patients", "notifications"}, "a service's API is missing"
    sent: Counter[str] = Counter()
    for operation in operations:
        service = service_of(operation)
        examples = max(EXAMPLES, -(-REQUESTS_PER_SERVICE // by_service[service]))
        try:
            sent[service] += fuzz(operation, admin_tokens, examples)
        except (Exception, BaseExceptionGroup) as finding:  # noqa: BLE001 - collected and reported below
            findings.append(f"{operation.method.upper()} {operation.path}: {str(finding)[:1500]}")
    for service, operations_of_service in sorted(by_service.items()):
        print(f"fuzz: {service}: {operations_of_service} operations, {sent[service]} requests")
    assert not findings, "\n\n".join(findings)
