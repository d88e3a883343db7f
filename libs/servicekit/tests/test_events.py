import json
import uuid

import pytest

from servicekit import contracts
from servicekit.errors import ContractError
from servicekit.events import new_event, parse_event


def department(**overrides):
    data = {"id": str(uuid.uuid4()), "code": "OUH-REU-C", "name": "Reumatologisk Afdeling C", "active": True,
            "revision": 1, "hospital": {"id": str(uuid.uuid4()), "code": "OUH", "name": "Odense Universitetshospital"},
            "region": {"code": "SD", "name": "Region Syddanmark"}}
    data.update(overrides)
    return data


def test_envelope_round_trip_keeps_everything():
    event = new_event("patients.department.upserted", department(name="Afdeling for Ærø og Ø"), producer="patients")
    parsed = parse_event(event.to_json().encode())
    assert parsed == event
    assert json.loads(event.to_json())["data"]["name"] == "Afdeling for Ærø og Ø"


@pytest.mark.parametrize("body, fragment", [
    (b"\xff not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"type": "patients.department.upserted"}', "envelope invalid"),
])
def test_malformed_messages_are_contract_errors(body, fragment):
    with pytest.raises(ContractError, match=fragment):
        parse_event(body)


def test_data_not_matching_its_contract_is_refused_on_both_sides():
    with pytest.raises(ContractError, match="data invalid"):
        new_event("patients.department.upserted", department(revision=0), producer="patients")
    good = json.loads(new_event("patients.department.upserted", department(), producer="patients").to_json())
    good["data"]["surprise"] = "field"
    with pytest.raises(ContractError, match="data invalid"):
        parse_event(json.dumps(good))


def test_unknown_event_type_or_version_is_refused():
    with pytest.raises(ContractError, match="no contract"):
        new_event("patients.department.upserted", department(), producer="patients", version=2)
    with pytest.raises(ContractError, match="no contract"):
        contracts.validate("patients.nothing.happened", 1, {})
