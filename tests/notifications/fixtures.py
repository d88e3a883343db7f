"""Fixtures for notifications' tests, here and in services/notifications/tests: a real SMTP server,
a real HTTP server speaking the SMS gateway's contract, and the sealing key identity would share.
Loaded for the whole suite from the root conftest."""
import pytest

from servicekit.sealed import Sealer, generate_key

from tests.notifications.servers import SmsServer, SmtpServer


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def sms_gateway():
    server = SmsServer().start()
    yield server
    server.stop()


@pytest.fixture
def sealing_key() -> str:
    return generate_key()


@pytest.fixture
def sealer(sealing_key) -> Sealer:
    return Sealer(sealing_key)
