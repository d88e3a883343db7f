import dataclasses

import pytest

from servicekit.config import ConfigError, ServiceSettings, describe, load, parse_millis_list, setting
from servicekit.principal import generate_keypair

KEY = {"DANBIO_PRINCIPAL_PUBLIC_KEY": generate_keypair()[1]}


@dataclasses.dataclass(frozen=True)
class ExampleSettings(ServiceSettings):
    api_token: str = setting("{SERVICE}_API_TOKEN", doc="token for the provider")


def test_required_variable_missing_names_it():
    with pytest.raises(ConfigError) as error:
        load(ExampleSettings, "notifications", {})
    assert "NOTIFICATIONS_API_TOKEN is required" in str(error.value)


def test_every_problem_is_reported_at_once_without_echoing_values():
    with pytest.raises(ConfigError) as error:
        load(ExampleSettings, "identity", {"IDENTITY_DATABASE_URL": "mysql://u:secretpw@h/db",
                                            "DANBIO_RETRY_DELAYS_MS": "10,-5"})
    text = str(error.value)
    assert "IDENTITY_DATABASE_URL is malformed" in text
    assert "DANBIO_RETRY_DELAYS_MS is malformed" in text
    assert "IDENTITY_API_TOKEN is required" in text
    assert "secretpw" not in text


def test_defaults_are_embedded_and_postgres_urls_get_psycopg(tmp_path):
    embedded = load(ExampleSettings, "identity", {**KEY, "IDENTITY_API_TOKEN": "x", "DANBIO_DATA_DIR": str(tmp_path)})
    assert embedded.database_url == f"sqlite:///{tmp_path}/identity.db"
    assert embedded.broker_url.startswith("sqla+sqlite:///")
    real = load(ExampleSettings, "identity", {**KEY, "IDENTITY_API_TOKEN": "x",
                                              "IDENTITY_DATABASE_URL": "postgresql://a:b@db:5432/identity"})
    assert real.database_url == "postgresql+psycopg://a:b@db:5432/identity"


def test_parsers_reject_nonsense():
    assert parse_millis_list("100, 500,2000") == (100, 500, 2000)
    with pytest.raises(ValueError):
        parse_millis_list(",")
    with pytest.raises(ConfigError):
        load(ServiceSettings, "patients", {**KEY, "DANBIO_LOG_LEVEL": "chatty"})
    with pytest.raises(ConfigError, match="DANBIO_PRINCIPAL_PUBLIC_KEY is malformed"):
        load(ServiceSettings, "patients", {"DANBIO_PRINCIPAL_PUBLIC_KEY": "-----BEGIN nonsense"})


def test_describe_lists_every_variable():
    names = [row[0] for row in describe(ExampleSettings, "identity")]
    assert {"IDENTITY_DATABASE_URL", "DANBIO_BROKER_URL", "IDENTITY_API_TOKEN"} <= set(names)
