#!/usr/bin/env python
"""Benchmark: what the gateway adds to an authenticated request.

    .venv/bin/python bench/gateway.py [--seconds S] [--warmup S] [--rounds N] [--compare-gunicorn]

The same GET — the patients service's ``/regions`` (a database read, ~1 KB of JSON) — is sent

  direct:   straight to the patients service, with a principal signed as the gateway signs it;
  gateway:  to the gateway's ``/api/patients/regions`` with the user's real Keycloak access token,
            which the gateway verifies (JWKS), resolves to the principal (cached), signs and
            forwards over a kept-alive connection;

at concurrency 1 (latency: p50, p99) and 16 (throughput), by ``wrk`` (Debian package ``wrk``; a C
load generator, so the client's own cost is small next to the servers'). Reported: added p50 and
p99 latency and the gateway's throughput as a share of the direct one. Targets: at most 2 ms added
p50, at least 70 % of the direct throughput.

Everything runs as in ``make run``: patients and identity under gunicorn with servicekit's settings
(2 workers x 4 threads), the gateway under Granian (``python -m gateway serve``, one process x 16
threads), on fresh PostgreSQL databases, a
RabbitMQ virtual host of its own (the gateway's principal cache is on only while it consumes
access changes) and a throwaway Keycloak realm made from deploy/keycloak/realm-danbio.json with a
user made by identity's own use case. All of it is removed afterwards.

``--compare-gunicorn`` also starts the same gateway under gunicorn's gthread worker (one process x
16 threads, as the gateway ran before gateway/server.py) and measures it in the same rounds: the
figures behind the gateway's choice of server.

Servers: ``dev/servers/postgres.sh start``, ``dev/servers/rabbitmq.sh start``,
``dev/servers/keycloak.sh start``. The last line of stdout is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file is named like the gateway's package: bench/ must not shadow it.
sys.path = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import requests  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from patients.settings import new_key  # noqa: E402
from servicekit import testing  # noqa: E402
from servicekit.principal import generate_keypair, load_private_key, sign  # noqa: E402
from tests.e2e.harness import Process, Stack, gunicorn_argv  # noqa: E402

TARGET_ADDED_P50_MS = 2.0
TARGET_THROUGHPUT_SHARE = 0.70
PATH = "/regions"
DIRECT_CLIENT = "bench-direct-grant"


def server_url(script: str) -> str:
    return subprocess.run([str(ROOT / "dev" / "servers" / script), "url"], check=True, capture_output=True,
                          text=True).stdout.strip()


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, headers: dict[str, str], *, connections: int, seconds: float) -> dict:
    argv = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(argv + [url], check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    if bad or errors:
        raise SystemExit(f"requests failed during the run:\n{output}")
    percentiles = {f"p{p}": to_ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.M)}
    requests_made = int(re.search(r"(\d+) requests in", output).group(1))
    wrk_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"requests_per_s": float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1)),
            "requests": requests_made, **percentiles,
            "cpu_ms_per_request_wrk": round(wrk_cpu * 1000 / max(requests_made, 1), 3)}


def make_realm(keycloak_url: str) -> tuple[object, str, dict]:
    from dev import keycloak_realm as realm_file
    from keycloak import KeycloakAdmin

    master = realm_file.master_admin(keycloak_url)
    name = f"danbio-bench-{uuid.uuid4().hex[:8]}"
    values = realm_file.dev_values()
    master.create_realm(realm_file.realm_representation(values, name=name))
    admin = KeycloakAdmin(server_url=keycloak_url, username="admin", password="admin", realm_name=name,
                          user_realm_name="master", timeout=30)
    admin.create_client({"clientId": DIRECT_CLIENT, "publicClient": True, "standardFlowEnabled": False,
                         "directAccessGrantsEnabled": True,
                         "defaultClientScopes": ["basic", "profile", "email", "roles", "gateway-audience"]})
    return master, name, values


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each measured run")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured run before each measured one")
    parser.add_argument("--rounds", type=int, default=3, help="direct/gateway alternations; medians are reported")
    parser.add_argument("--compare-gunicorn", action="store_true",
                        help="also measure the gateway under gunicorn (gthread), in the same rounds")
    options = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench/gateway.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    pg_admin = server_url("postgres.sh")
    amqp = server_url("rabbitmq.sh")
    keycloak_url = os.environ.get("DANBIO_KEYCLOAK_URL") or server_url("keycloak.sh")
    testing.check_postgres(pg_admin)
    testing.check_broker(amqp)

    private_pem, public_pem = generate_keypair()
    signing_key = load_private_key(private_pem)
    databases = {name: testing.create_database(pg_admin, f"bench_gw_{name}") for name in ("identity", "patients")}
    master, realm, secrets = make_realm(keycloak_url)
    issuer = f"{keycloak_url}/realms/{realm}"
    log_dir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    stack = None
    try:
        with testing.private_vhost(amqp, str(ROOT / "dev" / "servers" / "rabbitmq.sh")) as broker:
            stack = Stack({"DANBIO_PRINCIPAL_PUBLIC_KEY": public_pem, "DANBIO_BROKER_URL": broker,
                           "DANBIO_LOG_LEVEL": "WARNING",
                           "IDENTITY_DATABASE_URL": databases["identity"], "PATIENTS_DATABASE_URL": databases["patients"],
                           "DANBIO_KEYCLOAK_URL": keycloak_url, "DANBIO_KEYCLOAK_REALM": realm,
                           "IDENTITY_KEYCLOAK_CLIENT_SECRET": secrets["DANBIO_KC_IDENTITY_SECRET"],
                           "PATIENTS_CPR_KEY": new_key(), "PATIENTS_CPR_HASH_KEY": new_key()}, log_dir)
            identity, patients = stack.reserve("identity"), stack.reserve("patients")
            for service in ("identity", "patients"):
                stack.run("-m", service, "migrate")
            stack.run("-m", "patients", "load-reference")
            stack.start_web("identity", "identity.app:create_app()", workers=2, threads=4)
            stack.start_web("patients", "patients.app:create_app()", workers=2, threads=4)
            gateway_env = {"GATEWAY_PRINCIPAL_SIGNING_KEY": private_pem, "GATEWAY_ISSUER": issuer,
                           "GATEWAY_IDENTITY_URL": identity, "GATEWAY_PATIENTS_URL": patients}
            stack.start_web("gateway", "gateway.app:create_app()", workers=1, threads=16, env=gateway_env)
            if options.compare_gunicorn:
                start_gunicorn_gateway(stack, gateway_env)
            stack.wait_ready()
            for name in GATEWAYS:
                if name in stack.processes:
                    testing.wait_for(lambda: requests.get(f"{stack.url(name)}/readyz", timeout=2).status_code == 200,
                                     timeout=30, message=f"{name} to be ready")
            figures = run(stack, patients, options, issuer, signing_key)
    finally:
        if stack is not None:
            stack.stop()
        master.delete_realm(realm)
        for url in databases.values():
            testing.drop_database(pg_admin, url)
    report(figures)
    return 0


GATEWAYS = ("gateway", "gateway_gunicorn")


def start_gunicorn_gateway(stack: Stack, env: dict[str, str]) -> None:
    """The gateway as it ran before gateway/server.py: gunicorn gthread, one process x 16 threads."""
    url = stack.reserve("gateway_gunicorn")
    stack._start(Process("gateway_gunicorn", gunicorn_argv("gateway.app:create_app()"),
                         {**stack.env, **env, "BIND": url.removeprefix("http://"), "WEB_CONCURRENCY": "1",
                          "WEB_THREADS": "16"}, stack.log_dir / "gateway_gunicorn.log", ready_url=f"{url}/healthz"))


def run(stack, patients, options, issuer, signing_key) -> dict:
    from identity.adapters.keycloak_directory import KeycloakUserDirectory
    from identity.domain.users import NewUser
    from identity.runtime import build_runtime
    from identity.service.profiles import principal_for_subject
    from identity.service.users import provision_user
    from gateway.principals import GATEWAY_PRINCIPAL

    runtime = build_runtime({**os.environ, **stack.env})
    directory = KeycloakUserDirectory(runtime.settings)
    username, password = f"bench-{uuid.uuid4().hex[:8]}", f"Bench-{uuid.uuid4().hex[:12]}"
    with runtime.uow() as uow:
        provision_user(uow, directory, NewUser(username=username, first_name="Bench", last_name="Mark",
                                               email=f"{username}@example.org", registry_admin=True), password=password)
    subject = directory.find_user_id(username)
    with runtime.uow() as uow:
        principal = principal_for_subject(uow, GATEWAY_PRINCIPAL, subject)
    runtime.db.dispose()

    def token() -> str:
        response = requests.post(f"{issuer}/protocol/openid-connect/token", timeout=30, data={
            "grant_type": "password", "client_id": DIRECT_CLIENT, "username": username, "password": password})
        response.raise_for_status()
        return response.json()["access_token"]

    targets = {
        # A signed principal lives 30 s: a fresh one for every run.
        "direct": (f"{patients}{PATH}", lambda: {"X-Danbio-Principal": sign(principal, audience="patients",
                                                                              key=signing_key)}),
    }
    gateways = [name for name in GATEWAYS if name in stack.processes]
    for name in gateways:
        targets[name] = (f"{stack.url(name)}/api/patients{PATH}", lambda: {"Authorization": f"Bearer {token()}"})
    processes = {name: stack.processes[name].popen.pid for name in (*gateways, "patients", "identity")}
    # Rounds alternate direct and gateway runs, so that a busy moment of the machine does not fall
    # on one side only; each figure is the median over the rounds.
    runs: dict[str, list[dict]] = {}
    for round_number in range(options.rounds):
        for connections in (1, 16):
            order = list(targets.items())
            if round_number % 2:  # the gateways in the other order, so neither always follows direct
                order = order[:1] + order[:0:-1]
            for name, (url, headers) in order:
                wrk(url, headers(), connections=connections, seconds=options.warmup)
                before = {p: cpu_seconds(pid) for p, pid in processes.items()}
                result = wrk(url, headers(), connections=connections, seconds=options.seconds)
                for process, pid in processes.items():
                    result[f"cpu_ms_per_request_{process}"] = round(
                        (cpu_seconds(pid) - before[process]) * 1000 / result["requests"], 3)
                runs.setdefault(f"{name}_c{connections}", []).append(result)
                print(f"round {round_number + 1} {name:16} c={connections:<3} {result}", flush=True)
    figures: dict = {"seconds_per_run": options.seconds, "rounds": options.rounds,
                     "load_average_1min_at_end": os.getloadavg()[0]}
    for key, results in runs.items():
        figures[key] = {field: statistics.median(r[field] for r in results) for field in results[0]}
    for connections in (1, 16):
        direct = figures[f"direct_c{connections}"]
        for name in gateways:
            through = figures[f"{name}_c{connections}"]
            prefix = "" if name == "gateway" else f"{name}_"
            figures[f"{prefix}added_p50_ms_c{connections}"] = round(through["p50"] - direct["p50"], 3)
            figures[f"{prefix}added_p99_ms_c{connections}"] = round(through["p99"] - direct["p99"], 3)
            figures[f"{prefix}throughput_share_c{connections}"] = round(
                through["requests_per_s"] / direct["requests_per_s"], 3)
        # Each round's own share: a busy moment of the machine moves both sides of one round.
        figures[f"throughput_share_c{connections}_per_round"] = [
            round(g["requests_per_s"] / d["requests_per_s"], 3)
            for d, g in zip(runs[f"direct_c{connections}"], runs[f"gateway_c{connections}"])]
    # The share the machine would give were it only CPU-bound: CPU per request of client + service
    # directly, over client + gateway + service through the gateway (PostgreSQL's part, the same on
    # both sides, left out, which lowers the figure). Unlike req/s it hardly moves with other
    # work on the machine.
    direct = figures["direct_c16"]
    direct_cpu = direct["cpu_ms_per_request_patients"] + direct["cpu_ms_per_request_wrk"]
    for name in gateways:
        through = figures[f"{name}_c16"]
        through_cpu = (through[f"cpu_ms_per_request_{name}"] + through["cpu_ms_per_request_patients"]
                       + through["cpu_ms_per_request_identity"] + through["cpu_ms_per_request_wrk"])
        prefix = "" if name == "gateway" else f"{name}_"
        figures[f"{prefix}cpu_bound_share_c16"] = round(direct_cpu / through_cpu, 3)
    figures["gateway_cpu_ms_per_request"] = figures["gateway_c16"]["cpu_ms_per_request_gateway"]
    if "gateway_gunicorn" in gateways:
        figures["gateway_gunicorn_cpu_ms_per_request"] = figures["gateway_gunicorn_c16"][
            "cpu_ms_per_request_gateway_gunicorn"]
    figures["patients_cpu_ms_per_request"] = figures["direct_c16"]["cpu_ms_per_request_patients"]
    figures["meets_added_p50"] = figures["added_p50_ms_c1"] <= TARGET_ADDED_P50_MS
    figures["meets_throughput"] = figures["throughput_share_c16"] >= TARGET_THROUGHPUT_SHARE
    return figures


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (a gunicorn master and its workers)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return total


def report(figures: dict) -> None:
    print()
    print("| concurrency | direct p50 / p99 | via gateway p50 / p99 | added p50 / p99 | direct req/s | via gateway req/s | share |")
    print("|---|---|---|---|---|---|---|")
    for c in (1, 16):
        direct, through = figures[f"direct_c{c}"], figures[f"gateway_c{c}"]
        print(f"| {c} | {direct['p50']:.2f} / {direct['p99']:.2f} ms | {through['p50']:.2f} / {through['p99']:.2f} ms | "
              f"{figures[f'added_p50_ms_c{c}']:.2f} / {figures[f'added_p99_ms_c{c}']:.2f} ms | "
              f"{direct['requests_per_s']:.0f} | {through['requests_per_s']:.0f} | "
              f"{figures[f'throughput_share_c{c}'] * 100:.0f} % |")
    if "gateway_gunicorn_c16" in figures:
        for c in (1, 16):
            direct, through = figures[f"direct_c{c}"], figures[f"gateway_gunicorn_c{c}"]
            print(f"| {c}, gateway under gunicorn | | {through['p50']:.2f} / {through['p99']:.2f} ms | "
                  f"{figures[f'gateway_gunicorn_added_p50_ms_c{c}']:.2f} / "
                  f"{figures[f'gateway_gunicorn_added_p99_ms_c{c}']:.2f} ms | | {through['requests_per_s']:.0f} | "
                  f"{figures[f'gateway_gunicorn_throughput_share_c{c}'] * 100:.0f} % |")
        print(f"gateway CPU per request at 16: Granian {figures['gateway_cpu_ms_per_request']:.2f} ms, gunicorn "
              f"{figures['gateway_gunicorn_cpu_ms_per_request']:.2f} ms")
    print("share at 16, each round: " + ", ".join(f"{share * 100:.0f} %"
                                                 for share in figures["throughput_share_c16_per_round"]))
    print("share at 16 from CPU per request (client + gateway + service; the machine CPU-bound): "
          + ", ".join(f"{name} {figures[key] * 100:.0f} %" for name, key in
                      (("Granian", "cpu_bound_share_c16"), ("gunicorn", "gateway_gunicorn_cpu_bound_share_c16"))
                      if key in figures))
    print(f"CPU per request: gateway {figures['gateway_cpu_ms_per_request']:.2f} ms, patients service "
          f"{figures['patients_cpu_ms_per_request']:.2f} ms; machine load average at the end "
          f"{figures['load_average_1min_at_end']:.1f}")
    print(f"targets: added p50 <= {TARGET_ADDED_P50_MS} ms ({'met' if figures['meets_added_p50'] else 'MISSED'}), "
          f"throughput >= {TARGET_THROUGHPUT_SHARE:.0%} of direct ({'met' if figures['meets_throughput'] else 'MISSED'})")
    print(json.dumps(figures))


if __name__ == "__main__":
    sys.exit(main())
