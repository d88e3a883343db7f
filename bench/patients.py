#!/usr/bin/env python
"""Benchmark of the patients service with 1,000,000 patients, against the real PostgreSQL.

    .venv/bin/python bench/patients.py [--patients N] [--board-size N] [--samples N]

Targets (issue 6): a CPR look-up p95 <= 5 ms; the board of a department with 20,000 patients
<= 50 ms.

What it does:
1. Creates a throwaway database ``bench_patients_<random>`` (CREATE DATABASE on the server of
   ``dev/servers/postgres.sh url``, or --database-url / BENCH_DATABASE_URL), migrates it with the
   service's own Alembic migrations and loads the bundled organisation (21 departments).
2. Generates N patients with unique, valid CPR numbers (born 1930-1999), sealed (AES-256-GCM)
   and hashed (HMAC-SHA256) exactly as the service does (its CprVault, random keys), with names,
   diagnosis groups and, for about 70%, a platform status. One department (Odense, C) gets
   --board-size patients, the other 20 share the rest; each patient has one current registration.
   Rows go in with COPY (psycopg 3, binary), into the migrated tables with all their indexes;
   then VACUUM ANALYZE.
3. Measures through the service's real HTTP API (its Flask app, a gateway-signed principal per
   request, the audit entry and commit each look-up writes), after a warm-up:
   - POST /patients/lookup with a random existing CPR (E1), and with unknown ones;
   - POST /patients/search by CPR (exact) and by part of a name, within the caller's department;
   - GET /departments/<id>/board of the --board-size department, and of the largest one;
   - GET /departments/<id>/patients (first page of 100).
   Timings are wall-clock per request, in this process (no network between client and app).
4. Prints the machine's load (1-minute load average before and after, CPU busy % per phase),
   the figures, and as its last line one JSON object with everything. Drops the database unless
   --keep.

Exit status: 0 if the targets were met, 1 if not, 2 on error.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is named like the service's package: keep its directory from hiding the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

FIRST = ["Anna", "Karen", "Jens", "Peter", "Mette", "Lars", "Hanne", "Søren", "Inge", "Niels", "Kirsten", "Ole",
         "Lone", "Henrik", "Birgit", "Morten", "Susanne", "Thomas", "Camilla", "Mads", "Sofie", "Frederik", "Ida",
         "Rasmus", "Emma", "Jonas", "Laura", "Mikkel", "Freja", "Anders"]
LAST = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen",
        "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Christiansen", "Poulsen", "Johansen",
        "Møller", "Mortensen", "Knudsen", "Jakobsen", "Mikkelsen", "Frederiksen", "Holm", "Lund", "Dahl", "Berg"]
DIAGNOSES = ["RA"] * 5 + ["PsA"] * 2 + ["axSpA"] * 2 + ["other"]

TARGET_LOOKUP_P95_MS = 5.0
TARGET_BOARD_MS = 50.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the machine ---------------------------------------------------------------------------------

def cpu_snapshot() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields), idle


def busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    total, idle = after[0] - before[0], after[1] - before[1]
    return round(100.0 * (total - idle) / total, 1) if total else 0.0


# --- data ----------------------------------------------------------------------------------------

def cpr_numbers(count: int, seed: int) -> list[str]:
    """``count`` distinct valid CPR numbers, born 1930-1999 (7th digit 0-3: the 1900s)."""
    first, days = date(1930, 1, 1), (date(1999, 12, 31) - date(1930, 1, 1)).days + 1
    per_day = -(-count // days)
    if per_day > 4000:
        raise SystemExit("too many patients for the serial numbers of 1930-1999")
    rng = random.Random(seed)
    serials = rng.sample(range(4000), per_day)
    numbers = []
    for index in range(count):
        born = first + timedelta(days=index % days)
        serial = serials[index // days]
        numbers.append(f"{born:%d%m%y}{serial:04d}")
    rng.shuffle(numbers)
    return numbers


def load(runtime, count: int, board_size: int, big_department: uuid.UUID, departments: list[uuid.UUID],
         seed: int) -> tuple[list[str], dict[uuid.UUID, int]]:
    """COPY ``count`` patients and their registrations in; returns the CPR numbers and the
    number of patients per department."""
    import psycopg
    from sqlalchemy.engine import make_url

    from patients.domain.cpr import parse_cpr

    vault, rng = runtime.vault, random.Random(seed + 1)
    numbers = cpr_numbers(count, seed)
    others = [d for d in departments if d != big_department]
    now = datetime.now(timezone.utc)
    conninfo = make_url(runtime.settings.database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    per_department: dict[uuid.UUID, int] = {}
    started = time.perf_counter()
    with psycopg.connect(conninfo) as connection:
        with connection.cursor() as cursor:
            with cursor.copy("COPY patients (id, cpr_hash, cpr_encrypted, name, diagnosis_group, platform_status,"
                             " platform_status_at, created_at, created_by) FROM STDIN (FORMAT BINARY)") as patients_copy:
                patients_copy.set_types(["uuid", "bytea", "bytea", "text", "text", "text", "timestamptz",
                                         "timestamptz", "text"])
                registrations_rows = []
                for index, digits in enumerate(numbers):
                    cpr = parse_cpr(digits, today=now.date())
                    patient_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                    roll = rng.random()
                    status = None if roll < 0.3 else ("active" if roll < 0.8 else "inactive")
                    status_at = now - timedelta(days=rng.randrange(1, 400)) if status else None
                    name, diagnosis = f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(DIAGNOSES)
                    patients_copy.write_row((patient_id, vault.digest(cpr), vault.seal(cpr), name, diagnosis,
                                             status, status_at, now - timedelta(days=rng.randrange(1, 3650)),
                                             "bench"))
                    department = big_department if index < board_size else others[index % len(others)]
                    per_department[department] = per_department.get(department, 0) + 1
                    registrations_rows.append((uuid.UUID(int=rng.getrandbits(128), version=4), patient_id, department,
                                               now - timedelta(days=rng.randrange(1, 3650)), name, diagnosis,
                                               status))
                    if (index + 1) % 200_000 == 0:
                        say(f"  patients: {index + 1:,} sealed and copied ({time.perf_counter() - started:.0f}s)")
            say(f"  patients: {count:,} in {time.perf_counter() - started:.1f}s; registrations next")
            with cursor.copy("COPY registrations (id, patient_id, department_id, registered_at, patient_name,"
                             " diagnosis_group, platform_status, registered_by) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["uuid", "uuid", "uuid", "timestamptz", "text", "text", "text", "text"])
                for row in registrations_rows:
                    copy.write_row((*row, "bench"))
        connection.commit()
        say(f"  registrations copied ({time.perf_counter() - started:.1f}s); VACUUM ANALYZE")
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE patients")
        connection.execute("VACUUM ANALYZE registrations")
    say(f"  loaded in {time.perf_counter() - started:.1f}s")
    return numbers, per_department


# --- measuring -----------------------------------------------------------------------------------

def percentiles(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 2)

    return {"n": len(ordered), "p50": at(50), "p95": at(95), "p99": at(99), "max": round(ordered[-1], 2),
            "mean": round(statistics.fmean(ordered), 2)}


def timed(call, count: int, *, expect: int = 200) -> list[float]:
    samples = []
    for index in range(count):
        started = time.perf_counter()
        response = call(index)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != expect:
            raise RuntimeError(f"unexpected {response.status_code}: {response.get_data(as_text=True)[:300]}")
    return samples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--board-size", type=int, default=20_000,
                        help="patients of the department whose board is measured (default 20,000)")
    parser.add_argument("--samples", type=int, default=2000, help="timed requests per look-up kind (default 2000)")
    parser.add_argument("--board-samples", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="PostgreSQL admin URL (default: dev/servers/postgres.sh url)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (its URL is printed)")
    args = parser.parse_args(argv)

    from servicekit import testing
    from servicekit.principal import HEADER, Membership, Principal, generate_keypair, load_private_key, sign

    admin_url = args.database_url or subprocess.run(
        [str(ROOT / "dev" / "servers" / "postgres.sh"), "url"], capture_output=True, text=True, check=True).stdout.strip()
    testing.check_postgres(admin_url)
    load_before = os.getloadavg()
    result: dict = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                    "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "machine": {"cpus": os.cpu_count(), "loadavg_1m_before": round(load_before[0], 2)},
                    "patients": args.patients, "board_size": args.board_size}
    database_url = testing.create_database(admin_url, "bench_patients")
    say(f"database {database_url.rsplit('/', 1)[1]}")
    try:
        from patients.app import create_app
        from patients.domain.organisation import department_id, parse_organisation
        from patients.service.organisation import bundled_organisation, load_organisation

        private_pem, public_pem = generate_keypair()
        signing_key = load_private_key(private_pem)
        environ = {"PATIENTS_DATABASE_URL": database_url, "DANBIO_PRINCIPAL_PUBLIC_KEY": public_pem,
                   "DANBIO_BROKER_URL": "memory://", "DANBIO_LOG_LEVEL": "WARNING",
                   "PATIENTS_CPR_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
                   "PATIENTS_CPR_HASH_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
        app = create_app(environ)
        runtime = app.extensions["danbio.runtime"]
        runtime.migrate()
        with runtime.uow() as uow:
            load_organisation(uow, bundled_organisation())
        departments = [d.id for d in parse_organisation(bundled_organisation())]
        big = department_id("OUH-REU-C")

        cpu = cpu_snapshot()
        started = time.perf_counter()
        numbers, per_department = load(runtime, args.patients, args.board_size, big, departments, args.seed)
        result["load"] = {"seconds": round(time.perf_counter() - started, 1), "cpu_busy_percent": busy_percent(cpu, cpu_snapshot())}
        largest = max(per_department, key=per_department.get)
        result["departments"] = {"board": per_department[big], "largest": per_department[largest]}

        def caller(*own: uuid.UUID):
            principal = Principal(subject=str(uuid.uuid4()), kind="user", username="bench",
                                  memberships=(Membership(hospital_id=uuid.uuid4(), role="clinician",
                                                          departments=frozenset(own)),))
            client = app.test_client()

            def post(path, body):
                return client.post(path, json=body, headers={HEADER: sign(principal, audience="patients", key=signing_key)})

            def get(path):
                return client.get(path, headers={HEADER: sign(principal, audience="patients", key=signing_key)})
            return post, get

        post, get = caller(big)
        largest_post, largest_get = caller(largest)
        rng = random.Random(args.seed + 2)
        known = [f"{n[:6]}-{n[6:]}" for n in rng.sample(numbers, args.samples * 2)]
        taken = set(numbers)
        unknown = []
        while len(unknown) < args.samples:
            candidate = f"{rng.randrange(1, 29):02d}{rng.randrange(1, 13):02d}{rng.randrange(30, 100):02d}{rng.randrange(4000):04d}"
            if candidate not in taken:
                unknown.append(candidate)
        mine = numbers[:args.board_size]   # the first board_size patients are the board department's

        say("warm-up")
        timed(lambda i: post("/patients/lookup", {"cpr": known[-1 - i]}), 300)
        timed(lambda i: get(f"/departments/{big}/board"), 10)

        phases = {}

        def phase(name, call, count, expect=200):
            say(f"measuring {name}")
            cpu_before, load_now = cpu_snapshot(), os.getloadavg()[0]
            samples = timed(call, count, expect=expect)
            phases[name] = {**percentiles(samples), "cpu_busy_percent": busy_percent(cpu_before, cpu_snapshot()),
                            "loadavg_1m": round(load_now, 2)}

        phase("lookup_known_cpr", lambda i: post("/patients/lookup", {"cpr": known[i]}), args.samples)
        phase("lookup_unknown_cpr", lambda i: post("/patients/lookup", {"cpr": unknown[i]}), args.samples)
        phase("search_by_cpr", lambda i: post("/patients/search", {"cpr": mine[rng.randrange(len(mine))]}),
              args.samples)
        phase("board_20k", lambda i: get(f"/departments/{big}/board"), args.board_samples)
        phase("board_largest", lambda i: largest_get(f"/departments/{largest}/board"), args.board_samples)
        phase("search_by_name_part", lambda i: post("/patients/search", {"name": rng.choice(LAST)[:5]}), 200)
        phase("department_patients_first_page", lambda i: get(f"/departments/{big}/patients?limit=100"), 100)

        result["phases"] = phases
        result["machine"]["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
        result["targets"] = {
            "lookup_p95_ms": {"target": TARGET_LOOKUP_P95_MS, "measured": phases["lookup_known_cpr"]["p95"],
                              "met": phases["lookup_known_cpr"]["p95"] <= TARGET_LOOKUP_P95_MS},
            "board_20k_ms": {"target": TARGET_BOARD_MS, "measured_p95": phases["board_20k"]["p95"],
                             "met": phases["board_20k"]["p95"] <= TARGET_BOARD_MS},
        }
        runtime.db.dispose()
    except Exception as exc:
        say(f"error: {exc!r}")
        if not args.keep:
            testing.drop_database(admin_url, database_url)
        raise
    if args.keep:
        say(f"kept: {database_url}")
    else:
        testing.drop_database(admin_url, database_url)

    print(f"\n{args.patients:,} patients; board department {result['departments']['board']:,}, largest "
          f"{result['departments']['largest']:,}; load {result['load']['seconds']}s")
    print(f"machine: {result['machine']['cpus']} CPUs, 1-min load {result['machine']['loadavg_1m_before']} before, "
          f"{result['machine']['loadavg_1m_after']} after")
    print(f"{'phase':<34}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'CPU %':>8}")
    for name, figures in result["phases"].items():
        print(f"{name:<34}{figures['n']:>6}{figures['p50']:>9}{figures['p95']:>9}{figures['p99']:>9}"
              f"{figures['max']:>9}{figures['cpu_busy_percent']:>8}")
    for name, target in result["targets"].items():
        print(f"target {name}: {'met' if target['met'] else 'NOT met'} ({target})")
    print(json.dumps(result, separators=(",", ":")))
    return 0 if all(t["met"] for t in result["targets"].values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(2)
