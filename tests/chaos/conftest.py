"""Outages with real servers (issue 10, part 3): a whole stack of its own (tests/e2e's start_stack),
real PostgreSQL, RabbitMQ and Keycloak stopped and started under it through their dev/servers
scripts, and the figures of each outage printed at the end of the run.

The scripts come from DANBIO_TEST_{RABBITMQ,POSTGRES,KEYCLOAK}_CTL (dev/test.sh sets them). These
tests stop servers other tests share: they always start them again (finally) and must run serially,
as `make test` does. The sizes come from the environment, so that `make chaos` runs the full versions:
CHAOS_USERS (creations during the RabbitMQ outage), CHAOS_RABBITMQ_DOWN_SECONDS, CHAOS_KILL_USERS.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time

import pytest

from servicekit import testing

from tests.e2e.conftest import start_stack
from tests.notifications.servers import SmsServer, SmtpServer

FIGURES: list[dict] = []


def size(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


class Server:
    """One of the shared servers, stopped and started with its dev/servers script."""

    def __init__(self, name: str, ctl_variable: str):
        self.name, self.ctl = name, testing.require_env(ctl_variable)

    def _run(self, action: str, timeout: float) -> float:
        started = time.monotonic()
        result = subprocess.run([self.ctl, action], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"{self.name} {action} failed ({result.returncode}): {result.stderr[-2000:]}")
        return time.monotonic() - started

    def stop(self) -> float:
        return self._run("stop", 120)

    def start(self) -> float:
        return self._run("start", 400)

    @contextlib.contextmanager
    def stopped(self):
        """Down for the block; up again afterwards whatever happened in it."""
        self.stop()
        try:
            yield self
        finally:
            self.start()


@pytest.fixture(scope="session")
def servers():
    return {"rabbitmq": Server("RabbitMQ", "DANBIO_TEST_RABBITMQ_CTL"),
            "postgres": Server("PostgreSQL", "DANBIO_TEST_POSTGRES_CTL"),
            "keycloak": Server("Keycloak", "DANBIO_TEST_KEYCLOAK_CTL")}


# A notifications worker killed between claiming a delivery and recording its send leaves the claim
# leased; when the lease runs out the delivery is sent (again). 300 s in production (longer than
# any send); 10 s here, so that the test sees it within its wait (local SMTP sends take milliseconds).
CHAOS_ENV = {"NOTIFICATIONS_SEND_LEASE_SECONDS": "10"}


@pytest.fixture(scope="package")
def chaos_stack(tmp_path_factory, pg_admin_url, keycloak_realm, principal_keys):
    """identity, patients, notifications worker, gateway and web as real processes, on databases and a
    RabbitMQ virtual host of their own, mail and SMS to servers in this process."""
    url = testing.require_env("DANBIO_TEST_AMQP_URL")
    testing.check_broker(url)
    smtp, sms = SmtpServer().start(), SmsServer().start()
    databases = {name: testing.create_database(pg_admin_url, f"chaos_{name}")
                 for name in ("identity", "patients", "web", "notifications")}
    try:
        with testing.private_vhost(url, testing.require_env("DANBIO_TEST_RABBITMQ_CTL")) as broker_url, \
                start_stack(tmp_path_factory.mktemp("chaos-logs"), broker_url, databases, keycloak_realm,
                            principal_keys, smtp, sms, extra_env=CHAOS_ENV) as stack:
            stack.databases = databases
            yield stack
    finally:
        smtp.stop()
        sms.stop()
        for database in databases.values():
            testing.drop_database(pg_admin_url, database)


@pytest.fixture
def record():
    """record(outage, **figures): kept for the summary at the end of the run (and CHAOS_REPORT)."""
    def add(outage: str, **figures) -> None:
        FIGURES.append({"outage": outage, **figures})
    return add


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("outages: what went in and what came out")
    for entry in FIGURES:
        figures = ", ".join(f"{key}={value}" for key, value in entry.items() if key != "outage")
        terminalreporter.write_line(f"{entry['outage']}: {figures}")
    report = os.environ.get("CHAOS_REPORT")
    if report:
        with open(report, "w") as out:
            json.dump(FIGURES, out, indent=1, default=str)
