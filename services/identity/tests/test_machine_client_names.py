import pytest

from servicekit.errors import InvalidInput

from identity.domain.users import NewUser
from identity.settings import parse_machine_clients


def test_a_person_never_gets_a_service_account_username():
    """identity tells machine clients by Keycloak's service-account naming; no person may share it."""
    with pytest.raises(InvalidInput) as refused:
        NewUser(username="service-account-patient-platform", first_name="A", last_name="B",
                email="a@example.org").validated()
    assert "username" in refused.value.errors


def test_machine_clients_setting():
    assert parse_machine_clients("patient-platform=patient_platform; other=a,b") == {
        "patient-platform": frozenset({"patient_platform"}), "other": frozenset({"a", "b"})}
    for bad in ("patient-platform", "=role", "client="):
        with pytest.raises(ValueError):
            parse_machine_clients(bad)
