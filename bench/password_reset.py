#!/usr/bin/env python
"""Benchmark: from a password reset's "send me a code" to the SMS handed to the provider.

    .venv/bin/python bench/password_reset.py [--requests N] [--rate R]

Measured, one at a time at a steady rate (people ask for codes one by one, not in bursts):

  reset:     POST /public/password-resets (not timed), then the timed POST
             /public/password-resets/<id>/code to identity — the code is stored hashed, the sealed
             code_issued event goes into identity's outbox; identity's worker relays it to RabbitMQ;
             notifications' worker plans the SMS, opens the code, renders and POSTs it to the SMS
             provider — until the provider (an HTTP server in this process) has the request;
  baseline:  the same event published straight to RabbitMQ as identity's relay does, until the
             provider has the SMS: notifications' part alone, in the same run.

Target: reset p95 <= 1 s. Everything runs as in ``make run``: identity under gunicorn, identity's and
notifications' workers as their own processes (relays and dispatcher waking on PostgreSQL NOTIFY),
fresh PostgreSQL databases and a RabbitMQ virtual host of its own, removed afterwards. No Keycloak:
no step up to the SMS calls it (users are recorded in identity with invented Keycloak ids).

Servers: ``dev/servers/postgres.sh start``, ``dev/servers/rabbitmq.sh start``. The last line of
stdout is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import requests  # noqa: E402

from servicekit import testing  # noqa: E402
from servicekit.principal import generate_keypair  # noqa: E402
from servicekit.sealed import Sealer, generate_key  # noqa: E402
from tests.e2e.harness import Stack  # noqa: E402
from tests.notifications.servers import SmsServer  # noqa: E402

TARGET_P95_S = 1.0


def server_url(script: str) -> str:
    return subprocess.run([str(ROOT / "dev" / "servers" / script), "url"], check=True, capture_output=True,
                          text=True).stdout.strip()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 95), 1),
            "p99_ms": round(percentile(ms, 99), 1), "max_ms": round(max(ms), 1)}


class Arrivals:
    """When the SMS provider got a message for each phone number (monotonic clock of this process)."""

    def __init__(self, sms: SmsServer):
        self.sms = sms

    def wait(self, msisdn: str, since: float, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request in list(self.sms.requests):
                if request.at >= since and request.body.get("recipients") == [{"msisdn": msisdn}]:
                    return request.at
            time.sleep(0.002)
        raise SystemExit(f"no SMS to {msisdn} within {timeout}s")


def make_users(runtime, count: int, prefix: str) -> list[tuple[str, str]]:
    """(username, phone) of ``count`` users recorded in identity (invented Keycloak ids)."""
    from identity.domain.users import NewUser
    from identity.service.users import record_new_user

    made = []
    with runtime.uow() as uow:
        for index in range(count):
            username, phone = f"{prefix}-{index:04d}", f"+452{index:07d}" if prefix == "reset" else f"+453{index:07d}"
            record_new_user(uow, NewUser(username=username, first_name="Bench", last_name="Mark",
                                         email=f"{username}@example.org", phone=phone).validated(), str(uuid.uuid4()))
            made.append((username, phone))
        uow.commit()
    return made


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="codes per measure")
    parser.add_argument("--rate", type=float, default=5.0, help="codes per second")
    options = parser.parse_args(argv)
    pg_admin, amqp = server_url("postgres.sh"), server_url("rabbitmq.sh")
    testing.check_postgres(pg_admin)
    testing.check_broker(amqp)
    _, public_pem = generate_keypair()
    sealing_key = generate_key()
    databases = {name: testing.create_database(pg_admin, f"bench_reset_{name}") for name in ("identity", "notifications")}
    sms = SmsServer().start()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-reset-"))
    stack = None
    try:
        with testing.private_vhost(amqp, str(ROOT / "dev" / "servers" / "rabbitmq.sh")) as broker:
            stack = Stack({"DANBIO_PRINCIPAL_PUBLIC_KEY": public_pem, "DANBIO_BROKER_URL": broker,
                           "DANBIO_LOG_LEVEL": "WARNING", "DANBIO_SEALING_KEY": sealing_key,
                           "IDENTITY_DATABASE_URL": databases["identity"],
                           "NOTIFICATIONS_DATABASE_URL": databases["notifications"],
                           "NOTIFICATIONS_SMTP_HOST": "127.0.0.1", "NOTIFICATIONS_SMTP_SECURITY": "none",
                           "NOTIFICATIONS_SMS_PROVIDER": "http", "NOTIFICATIONS_SMS_API_URL": sms.url,
                           "NOTIFICATIONS_SMS_API_TOKEN": sms.token}, log_dir)
            stack.run("-m", "identity", "migrate")
            stack.run("-m", "notifications", "migrate")
            stack.start_web("identity", "identity.app:create_app()", workers=2, threads=4)
            stack.start_worker("identity")
            stack.start_worker("notifications")
            stack.wait_ready()
            figures = run(stack, sms, sealing_key, broker, options)
    finally:
        if stack is not None:
            stack.stop()
        sms.stop()
        for url in databases.values():
            testing.drop_database(pg_admin, url)
    report(figures)
    return 0


def run(stack, sms, sealing_key, broker, options) -> dict:
    from identity.runtime import build_runtime
    from servicekit.events import new_event
    from servicekit.messaging.broker import ConfirmingPublisher, OutgoingMessage, connect

    runtime = build_runtime({**os.environ, **stack.env})
    reset_users = make_users(runtime, options.requests + 5, "reset")
    baseline_users = make_users(runtime, options.requests + 5, "baseline")
    runtime.db.dispose()
    identity = stack.url("identity")
    arrivals = Arrivals(sms)
    http = requests.Session()
    sealer = Sealer(sealing_key)
    publisher = ConfirmingPublisher(connect(broker), retry_delays_ms=(50, 100, 200))
    interval = 1.0 / options.rate

    def reset(username: str, phone: str) -> float:
        started = http.post(f"{identity}/public/password-resets", json={"username": username}, timeout=10)
        reset_id = started.json()["reset_id"]
        began = time.monotonic()
        answer = http.post(f"{identity}/public/password-resets/{reset_id}/code", timeout=10)
        assert answer.status_code == 202, answer.text
        return arrivals.wait(phone, began) - began

    def baseline(username: str, phone: str) -> float:
        event = new_event("identity.password_reset.code_issued", {
            "user": {"user_id": str(uuid.uuid4()), "name": "Bench Mark", "email": f"{username}@example.org",
                     "phone": phone, "locale": "da"},
            "reset_id": str(uuid.uuid4()), "code": sealer.seal("123456"),
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 600))},
            producer="identity")
        began = time.monotonic()
        publisher.publish([OutgoingMessage(str(event.id), event.type, event.to_json())])
        return arrivals.wait(phone, began) - began

    results: dict[str, list[float]] = {"reset": [], "baseline": []}
    for warm in range(5):  # connections, caches, prepared statements: not measured
        reset(*reset_users[options.requests + warm])
        baseline(*baseline_users[options.requests + warm])
    # Interleaved, so that a busy moment of the machine falls on both measures alike.
    for index in range(options.requests):
        for name, measure, users in (("reset", reset, reset_users), ("baseline", baseline, baseline_users)):
            next_at = time.monotonic() + interval
            results[name].append(measure(*users[index]))
            time.sleep(max(0.0, next_at - time.monotonic()))
    publisher.connection.release()
    figures = {name: summary(values) for name, values in results.items()}
    figures.update(rate_per_s=options.rate, load_average_1min_at_end=os.getloadavg()[0],
                   meets_p95=figures["reset"]["p95_ms"] <= TARGET_P95_S * 1000)
    return figures


def report(figures: dict) -> None:
    print()
    print("| measure | n | p50 | p95 | p99 | max |")
    print("|---|---|---|---|---|---|")
    for name, label in (("baseline", "baseline: event on the bus → SMS at provider"),
                        ("reset", "reset: POST …/code → SMS at provider")):
        f = figures[name]
        print(f"| {label} | {f['n']} | {f['p50_ms']} ms | {f['p95_ms']} ms | {f['p99_ms']} ms | {f['max_ms']} ms |")
    print(f"target: reset p95 <= {TARGET_P95_S * 1000:.0f} ms ({'met' if figures['meets_p95'] else 'MISSED'}); "
          f"load average at the end {figures['load_average_1min_at_end']:.1f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    sys.exit(main())
