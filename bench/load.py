#!/usr/bin/env python
"""Load test of the whole system on loopback (issue 10, part 6): `make load`.

    .venv/bin/python bench/load.py [--users 50] [--admins 15] [--seconds 300] [--spawn-rate 5]
                                   [--wait-min 1] [--wait-max 3] [--target-p99-ms 300]

1. Starts the whole stack as tests/e2e does (tests/e2e/conftest.py start_stack: identity, patients,
   their workers, the notifications worker, the gateway (Granian) and the web UI (gunicorn) on free ports),
   on fresh PostgreSQL databases, a RabbitMQ virtual host and a Keycloak realm of its own, and seeds
   the demo data (`identity seed-demo`, the organisation of `patients load-reference`).
2. Seeds, with identity's own use case (provision_user: Keycloak and identity): at Odense
   Universitetshospital (OUH), --admins local administrators, the other users as clinicians of
   OUH-REU-C, and three users per administrator for that administrator alone to edit (so two
   administrators never edit the same user: a 409 would then be right, and would hide real errors).
3. Runs locust headless (bench/load_locustfile.py) with --users concurrent people for --seconds,
   each logging in through the web UI and Keycloak as a browser does, then working with a think
   time of --wait-min..--wait-max seconds between clicks: user lists, filter, AVANCERET search,
   user pages, "Rediger bruger" → "Gem ændringer", the review page; the department's board, "Opret
   patient" (CPR check + GEM), patient pages, patient search; logging in again now and then.
4. Prints a table per endpoint (requests, failures, p50, p99, max; locust's percentiles, rounded
   to 2 significant digits above 100 ms), the 5xx lines and tracebacks in the services' logs, the
   machine's load, and as its last line one JSON object.

Exit status: 0 when nothing failed and every endpoint's p99 is under the target (the two login steps
include Keycloak's password hashing and are reported, not judged), 1 otherwise, 2 on a set-up error.
Servers: DANBIO_TEST_PG_URL, DANBIO_TEST_AMQP_URL, DANBIO_TEST_RABBITMQ_CTL, DANBIO_TEST_KEYCLOAK_URL
(`make load` starts them as `make bench` does).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import string
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from patients.settings import new_key  # noqa: E402
from servicekit import testing  # noqa: E402
from servicekit.principal import generate_keypair, load_private_key  # noqa: E402

LOGIN_STEPS = "login "  # names of the steps that include Keycloak's own work
DEPARTMENT = "OUH-REU-C"


def server_url(script: str, env: str) -> str:
    if os.environ.get(env):
        return os.environ[env]
    return subprocess.run([str(ROOT / "dev" / "servers" / script), "url"], check=True, capture_output=True,
                          text=True).stdout.strip()


def letters(n: int = 10) -> str:
    """Usernames of letters only (the privacy scans flag ten digits in a row)."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(n))


def seed(stack, *, users: int, admins: int) -> dict:
    """The people of the load test, made by identity's own provision_user (Keycloak + identity)."""
    from identity.adapters import admin_repository, department_repository
    from identity.adapters.keycloak_directory import KeycloakUserDirectory
    from identity.domain.users import NewUser
    from identity.runtime import build_runtime
    from identity.service.users import provision_user

    runtime = build_runtime({**os.environ, **stack.env})
    directory = KeycloakUserDirectory(runtime.settings)
    with runtime.uow() as uow:
        department = department_repository.get_by_code(uow.session, DEPARTMENT)
        departments = [str(row.id) for row in admin_repository.departments_of_hospital(uow.session,
                                                                                       department.hospital_id)
                       if row.active]
    hospital = department.hospital_id

    def make(kind: str, role: str, with_password: bool) -> dict:
        username = f"load-{kind}-{letters()}"
        password = f"Load-{secrets.token_urlsafe(12)}" if with_password else None
        with runtime.uow() as uow:
            user_id = provision_user(uow, directory, NewUser(
                username=username, first_name=kind.capitalize(), last_name=f"Load {letters(4).capitalize()}",
                email=f"{username}@example.org", memberships={hospital: role},
                departments=frozenset({department.id})), password=password)
        return {"id": str(user_id), "username": username, "password": password}

    with ThreadPoolExecutor(max_workers=6) as pool:
        administrators = list(pool.map(lambda _: make("admin", "local_admin", True), range(admins)))
        clinicians = list(pool.map(lambda _: make("klinik", "clinician", True), range(users - admins)))
        targets = list(pool.map(lambda _: make("maal", "secretary", False), range(3 * admins)))
    for index, admin in enumerate(administrators):
        admin["targets"] = [t["id"] for t in targets[3 * index:3 * index + 3]]
    runtime.db.dispose()
    return {"hospital_id": str(hospital), "departments": departments, "board_department": str(department.id),
            "administrators": administrators, "clinicians": clinicians}


def read_stats(prefix: Path) -> list[dict]:
    rows = []
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append({"name": row["Name"], "method": row["Type"], "requests": int(row["Request Count"]),
                         "failures": int(row["Failure Count"]), "p50": float(row["50%"] or 0),
                         "p99": float(row["99%"] or 0), "max": float(row["Max Response Time"] or 0),
                         "rps": float(row["Requests/s"] or 0)})
    return rows


def read_failures(prefix: Path) -> list[dict]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [{"name": r["Name"], "error": r["Error"], "occurrences": int(r["Occurrences"])}
                for r in csv.DictReader(handle)]


def server_errors(stack) -> list[str]:
    """5xx answers and tracebacks in the services' own logs (each logs every request with its status)."""
    found = []
    for name, process in stack.processes.items():
        for line in process.log_text().splitlines():
            if re.search(r'"status": 5\d\d', line) or "Traceback" in line or '"level": "ERROR"' in line:
                found.append(f"{name}: {line[:300]}")
    return found


def print_table(rows: list[dict], target: float) -> None:
    width = max(len(r["name"]) for r in rows)
    print(f"{'endpoint':<{width}}  {'requests':>8}  {'fail':>5}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}")
    for row in rows:
        mark = ""
        if row["name"] != "Aggregated" and not row["name"].startswith(LOGIN_STEPS) and row["p99"] >= target:
            mark = "  > target"
        print(f"{row['name']:<{width}}  {row['requests']:>8}  {row['failures']:>5}  {row['p50']:>7.0f}  "
              f"{row['p99']:>7.0f}  {row['max']:>7.0f}{mark}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=int(os.environ.get("LOAD_USERS", 50)))
    parser.add_argument("--admins", type=int, default=int(os.environ.get("LOAD_ADMINS", 15)))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("LOAD_SECONDS", 300)))
    parser.add_argument("--spawn-rate", type=float, default=5.0)
    parser.add_argument("--wait-min", type=float, default=1.0)
    parser.add_argument("--wait-max", type=float, default=3.0)
    parser.add_argument("--target-p99-ms", type=float, default=300.0)
    args = parser.parse_args()

    pg_url = server_url("postgres.sh", "DANBIO_TEST_PG_URL")
    amqp_url = server_url("rabbitmq.sh", "DANBIO_TEST_AMQP_URL")
    ctl = os.environ.get("DANBIO_TEST_RABBITMQ_CTL", str(ROOT / "dev" / "servers" / "rabbitmq.sh"))
    keycloak_url = server_url("keycloak.sh", "DANBIO_TEST_KEYCLOAK_URL").rstrip("/")
    signing_pem, public_pem = generate_keypair()
    # What the root conftest gives the processes tests start: the principal key and patients' CPR keys.
    os.environ.update({"DANBIO_PRINCIPAL_PUBLIC_KEY": public_pem, "PATIENTS_CPR_KEY": new_key(),
                       "PATIENTS_CPR_HASH_KEY": new_key()})

    from tests.e2e.conftest import start_stack
    from tests.keycloak.fixtures import create_test_realm, delete_test_realm
    from tests.notifications.servers import SmsServer, SmtpServer

    work = Path(tempfile.mkdtemp(prefix="danbio-load-"))
    started = datetime.now(timezone.utc)
    databases, realm, smtp, sms = {}, None, None, None
    try:
        testing.check_postgres(pg_url)
        testing.check_broker(amqp_url)
        databases = {name: testing.create_database(pg_url, f"load_{name}")
                     for name in ("identity", "patients", "web", "notifications")}
        realm = create_test_realm(keycloak_url)
        smtp, sms = SmtpServer().start(), SmsServer().start()
        with testing.private_vhost(amqp_url, ctl) as broker, \
                start_stack(work, broker, databases, realm, (load_private_key(signing_pem), public_pem),
                            smtp, sms) as stack:
            print(f"stack up; seeding {args.users} people ...", flush=True)
            accounts = seed(stack, users=args.users, admins=args.admins)
            accounts_file = work / "accounts.json"
            accounts_file.write_text(json.dumps(accounts))
            prefix = work / "locust"
            load_before = os.getloadavg()
            print(f"locust: {args.users} users ({args.admins} administrators) for {args.seconds}s, "
                  f"think time {args.wait_min:g}-{args.wait_max:g}s, against {stack.url('web')}", flush=True)
            run = subprocess.run(
                [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "load_locustfile.py"), "--headless",
                 "--host", stack.url("web"), "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
                 "--run-time", f"{args.seconds}s", "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
                 "--stop-timeout", "10"],
                cwd=ROOT, env={**os.environ, "LOAD_ACCOUNTS": str(accounts_file), "LOAD_ADMINS": str(args.admins),
                               "LOAD_WAIT_MIN": str(args.wait_min), "LOAD_WAIT_MAX": str(args.wait_max)},
                capture_output=True, text=True)
            load_after = os.getloadavg()
            if not Path(f"{prefix}_stats.csv").exists():
                print(run.stdout[-3000:], run.stderr[-3000:])
                return 2
            rows = read_stats(prefix)
            failures = read_failures(prefix)
            errors_logged = server_errors(stack)
    except Exception:  # noqa: BLE001 - a set-up failure is reported, then exit 2
        traceback.print_exc()
        return 2
    finally:
        for server in (smtp, sms):
            if server is not None:
                server.stop()
        if realm is not None:
            delete_test_realm(realm)
        for url in databases.values():
            testing.drop_database(pg_url, url)

    print()
    print_table(rows, args.target_p99_ms)
    for failure in failures:
        print(f"FAILED {failure['occurrences']}x {failure['name']}: {failure['error'][:200]}")
    for line in errors_logged[:20]:
        print(f"SERVER {line}")
    judged = [r for r in rows if r["name"] != "Aggregated" and not r["name"].startswith(LOGIN_STEPS)]
    slow = [r["name"] for r in judged if r["p99"] >= args.target_p99_ms]
    total = next((r for r in rows if r["name"] == "Aggregated"), {"requests": 0, "failures": 0})
    cpus = os.cpu_count()
    print(f"\n{started:%Y-%m-%d %H:%M} UTC, {args.seconds}s, {args.users} users, {total['requests']} requests, "
          f"{total['failures']} failures, {len(errors_logged)} server error lines; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after, {cpus} CPUs (shared with other work)")
    if slow:
        print(f"p99 >= {args.target_p99_ms:g} ms: {', '.join(slow)}")
    print(json.dumps({"bench": "load", "date": started.isoformat(timespec="seconds"), "seconds": args.seconds,
                      "users": args.users, "requests": total["requests"], "failures": total["failures"],
                      "server_errors": len(errors_logged), "load_average": [round(load_before[0], 1),
                                                                             round(load_after[0], 1)],
                      "cpus": cpus, "target_p99_ms": args.target_p99_ms,
                      "endpoints": {r["name"]: {k: r[k] for k in ("requests", "failures", "p50", "p99", "max")}
                                    for r in rows}}, ensure_ascii=False))
    return 0 if not total["failures"] and not errors_logged and not slow else 1


if __name__ == "__main__":
    sys.exit(main())
