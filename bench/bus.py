#!/usr/bin/env python
"""Benchmark of the event bus against real RabbitMQ and PostgreSQL.

    .venv/bin/python bench/bus.py [--events N] [--rate R]        (see --help for the rest)

One run (about a minute with the defaults) measures, with the same message throughout (a
``patients.department.upserted`` envelope, ~550 bytes of JSON):

(a) raw baseline: kombu publishing to a throwaway quorum queue with publisher confirms one message
    at a time (``transport_options={'confirm_publish': True}``): N messages, then consuming that
    backlog with manual acks (prefetch as the services'); then a steady-rate run (``--rate`` for
    ``--latency-seconds``) with a concurrent consumer for the publish -> consume latency (the send
    time travels in a header).
(b) the project's path. A use case writes N events into the outbox with ``UnitOfWork.emit`` in
    commits of ``--per-commit`` events (``--use-case emit``, the default: the bare use case, emit
    + commit; ``--use-case patients``: the patients service's real ``load_organisation`` /
    ``rename_department``, which also write the department rows). Then the ``OutboxRelay`` with
    its ``ConfirmingPublisher`` publishes that committed backlog to the real topology (declared
    with ``topology.declare``) -> relay throughput; then an ``EventConsumer`` (``ConsumerRunner``)
    on ``identity.departments`` applies identity's real handler (``identity.handlers.HANDLERS``)
    with the inbox in identity's own database -> consumer throughput. Last, with relay and
    consumer running, single-event commits at a steady ``--rate`` (from a separate process, as the
    patients web app would commit them; ``--producer thread`` to keep it in this process) ->
    commit -> applied latency, split into commit -> published (outbox.published_at),
    published -> handling started (inbox.processed_at) and handling -> commit.
    Relay and consumer run in threads of this process, built as ``servicekit.worker.run_worker``
    builds them, from the services' own settings (``build_runtime(environ)``); for the steady-rate
    run the relay is by default the real patients worker in a process of its own, as deployed
    (``--relay thread`` keeps it beside the consumer, sharing one GIL). Two probes, neither
    in the measured code's way: identity's handler is wrapped to note the event id, and the
    consumer's UnitOfWork notes the time right after its commit.

Afterwards it checks that every event was published, applied exactly once, and that identity's
read model equals what was emitted; and it prints how busy the machine's CPUs were in each phase
(the machine is small and shared: figures taken while something else ran are not comparable).

Databases: two throwaway ones, ``bench_bus_<random>_patients`` / ``_identity``, created with
CREATE DATABASE, migrated with the services' Alembic migrations (``runtime.migrate()``), dropped at
the end. Broker: by default a throwaway vhost (``dev/servers/rabbitmq.sh ctl add_vhost``, as the
tests do) so that runs side by side never share ``identity.departments``; deleted at the end.
``--vhost shared`` uses the broker URL's vhost instead: the real topology is declared there,
``identity.departments`` purged before and after (the run refuses to start if it has consumers),
and whatever the run created there (queues, exchanges, the raw queue) is deleted afterwards.

Servers: ``dev/servers/postgres.sh start`` and ``dev/servers/rabbitmq.sh start``; their URLs come
from ``<script> url`` unless ``--database-url`` / ``--broker-url`` (or BENCH_DATABASE_URL /
BENCH_BROKER_URL) are given. Progress goes to stderr; stdout gets the tables and, as its last line,
one JSON object with every figure. Exit status: 0 if the targets were met, 1 if not, 2 on error.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import math
import os
import pstats
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, Python puts bench/ first on sys.path, and other benchmarks there are named like
# the services (bench/patients.py would shadow the patients package).
if sys.path and sys.path[0] and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]
TARGET_P99_MS = 50.0
BUSY_MACHINE_CORES = 0.25  # CPU used by other processes above which a phase's figures are flagged
EVENT_TYPE = "patients.department.upserted"
CONSUMER_QUEUE = "identity.departments"

log = logging.getLogger("bench.bus")


# --- small helpers ----------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"count": 0}
    ms = [s * 1000.0 for s in seconds]
    return {"count": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2),
            "mean_ms": round(sum(ms) / len(ms), 2)}


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def say(text: str = "") -> None:
    print(text, file=sys.stderr, flush=True)


def server_url(script: str) -> str:
    path = ROOT / "dev" / "servers" / script
    if not path.exists():
        raise SystemExit(f"{path} does not exist; give the URL with an option instead")
    result = subprocess.run([str(path), "url"], capture_output=True, text=True)
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"`{path} url` failed: {result.stderr.strip()}")
    return lines[-1]


def conninfo(sqlalchemy_url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def sqlalchemy_url(admin_url: str, database: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(admin_url).set(drivername="postgresql+psycopg", database=database).render_as_string(
        hide_password=False)


# --- realistic payloads -----------------------------------------------------------------------

REGION_NAMES = ["Region Hovedstaden", "Region Sjælland", "Region Syddanmark", "Region Midtjylland",
                "Region Nordjylland"]


def organisation_document(departments: int, generation: int, count: int | None = None) -> dict:
    """A reference-data document of ``departments`` departments (5 regions, 4 hospitals each).

    ``generation`` goes into every department name, so loading generation g+1 over g changes all
    of them (one event each); ``count`` keeps only the first departments (same ids)."""
    count = departments if count is None else count
    regions: dict[str, dict] = {}
    hospitals: dict[str, dict] = {}
    for index in range(count):
        region_no, hospital_no = index % 5, (index // 5) % 4
        region_code = f"BR{region_no}"
        region = regions.setdefault(region_code, {"code": region_code, "name": REGION_NAMES[region_no],
                                                  "hospitals": []})
        hospital_code = f"BR{region_no}-H{hospital_no}"
        if hospital_code not in hospitals:
            hospitals[hospital_code] = {"code": hospital_code,
                                        "name": f"Regionshospitalet {hospital_no}, {REGION_NAMES[region_no]}",
                                        "departments": []}
            region["hospitals"].append(hospitals[hospital_code])
        hospitals[hospital_code]["departments"].append({
            "code": f"{hospital_code}-D{index:04d}",
            "name": f"Reumatologisk Ambulatorium, afsnit {index} (udgave {generation})",
        })
    return {"regions": list(regions.values())}


def department_data(index: int, revision: int, label: str) -> dict:
    """``patients.department.upserted`` data for department ``index`` of organisation_document."""
    from patients.domain.organisation import department_id, hospital_id
    hospital = f"BR{index % 5}-H{(index // 5) % 4}"
    code = f"{hospital}-D{index:04d}"
    return {"id": str(department_id(code)), "code": code, "active": True, "revision": revision,
            "name": f"Reumatologisk Ambulatorium, afsnit {index} ({label} {revision})",
            "hospital": {"id": str(hospital_id(hospital)), "code": hospital,
                         "name": f"Regionshospitalet {(index // 5) % 4}, {REGION_NAMES[index % 5]}"},
            "region": {"code": f"BR{index % 5}", "name": REGION_NAMES[index % 5]}}


def raw_bodies(n: int) -> list[str]:
    """Envelopes like the relay's, built with the project's own event code."""
    from servicekit.events import new_event
    return [new_event(EVENT_TYPE, department_data(index % 100, index // 100 + 1, "udgave"), producer="patients")
            .to_json() for index in range(n)]


class UseCase:
    """The producing side, in one of two forms.

    ``emit``: a bare use case, only ``uow.emit(...)`` of the event and the commit (what the outbox
    path itself costs). ``patients``: the patients service's real use cases, which also write the
    department rows: ``load_organisation`` (one event per department, one commit) and
    ``rename_department`` (one event, one commit)."""

    def __init__(self, runtime, mode: str, departments: int, revisions: dict[int, int] | None = None):
        self.runtime, self.mode, self.departments = runtime, mode, departments
        self.revisions = dict(revisions or {})  # emit mode: department index -> last revision
        self.expected: dict[uuid.UUID, tuple[str, int]] = {}

    def _emit(self, uow, index: int, label: str) -> None:
        revision = self.revisions.get(index, 0) + 1
        self.revisions[index] = revision
        data = department_data(index, revision, label)
        uow.emit(EVENT_TYPE, data)
        self.expected[uuid.UUID(data["id"])] = (data["name"], revision)

    def batch(self, generation: int, count: int) -> None:
        """One commit with ``count`` events (departments 0..count-1)."""
        if self.mode == "emit":
            with self.runtime.uow() as uow:
                for index in range(count):
                    self._emit(uow, index, "udgave")
                uow.commit()
            return
        from patients.service.organisation import load_organisation
        with self.runtime.uow() as uow:
            report = load_organisation(uow, organisation_document(self.departments, generation, count))
        if report.created + report.changed != count:
            raise RuntimeError(f"load_organisation emitted {report.created + report.changed} events, expected {count}")

    def single(self, index: int, label: str) -> None:
        """One commit with one event (department index % departments)."""
        if self.mode == "emit":
            with self.runtime.uow() as uow:
                self._emit(uow, index % self.departments, label)
                uow.commit()
            return
        from patients.service.organisation import rename_department
        with self.runtime.uow() as uow:
            rename_department(uow, department_ids(self.departments)[index % self.departments],
                              f"Reumatologisk Ambulatorium, afsnit {index % self.departments} ({label} {index})")


# --- CPU accounting: the machine is small and shared; say how busy it was ---------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WATCHED = {"postgres": "postgres", "beam.smp": "rabbitmq"}


def cpu_snapshot() -> dict:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    by = {name: 0 for name in WATCHED.values()}
    own = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == own:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        name = WATCHED.get(comm)
        if name:
            fields = stat[stat.rindex(")") + 2:].split()
            by[name] += int(fields[11]) + int(fields[12])
    return {"t": time.monotonic(), "busy": sum(values) - values[3] - values[4], "self": time.process_time(),
            **by}


def cpu_usage(before: dict, after: dict | None = None, use_case_cpu_s: float = 0.0) -> dict:
    """Cores used between two snapshots: whole machine, this process, PostgreSQL, RabbitMQ, rest."""
    after = after or cpu_snapshot()
    wall = after["t"] - before["t"]
    if wall <= 0:
        return {}
    cores = {"machine": (after["busy"] - before["busy"]) / CLOCK_TICKS / wall,
             "bench_process": (after["self"] - before["self"]) / wall}
    for name in WATCHED.values():
        cores[name] = (after[name] - before[name]) / CLOCK_TICKS / wall
    cores["use_case"] = use_case_cpu_s / wall
    cores["rest"] = cores["machine"] - sum(cores[n] for n in ("bench_process", "use_case", *WATCHED.values()))
    return {key: round(value, 2) for key, value in cores.items()}


def background_load(seconds: float = 1.0) -> dict:
    before = cpu_snapshot()
    time.sleep(seconds)
    return cpu_usage(before)


# --- broker state: leave it as we found it ----------------------------------------------------

def _passive(connection, kind: str, name: str):
    """(messages, consumers) for a queue, True for an exchange, None when it does not exist."""
    from amqp.exceptions import NotFound
    channel = connection.channel()
    try:
        if kind == "queue":
            _, messages, consumers = channel.queue_declare(queue=name, passive=True)
            return messages, consumers
        channel.exchange_declare(exchange=name, type="topic", passive=True)
        return True
    except NotFound:
        return None
    finally:
        try:
            channel.close()
        except Exception:
            pass


def topology_entities(retry_delays_ms) -> tuple[list[str], list[str]]:
    from servicekit.messaging import topology
    exchanges = [topology.EVENTS.name, topology.DEAD_LETTERS.name, topology.RETRIES.name]
    queues = []
    for spec in topology.CONSUMERS:
        queues += [spec.queue, f"{spec.queue}.dead"]
        queues += [topology.retry_queue_name(spec.queue, d) for d in sorted(set(retry_delays_ms))]
    return exchanges, queues


@dataclass
class BrokerSnapshot:
    exchanges: dict[str, bool]
    queues: dict[str, tuple | None]


def snapshot(connection, retry_delays_ms) -> BrokerSnapshot:
    exchanges, queues = topology_entities(retry_delays_ms)
    return BrokerSnapshot({name: _passive(connection, "exchange", name) is not None for name in exchanges},
                          {name: _passive(connection, "queue", name) for name in queues})


def restore(connection, before: BrokerSnapshot, purge: list[str], notes: list[str]) -> None:
    """Delete what the run created; purge the consumer queue if it existed before."""
    channel = connection.channel()
    try:
        for name, state in before.queues.items():
            now = _passive(connection, "queue", name)
            if now is None:
                continue
            if state is None:
                channel.queue_delete(queue=name)
            else:
                if name in purge:
                    channel.queue_purge(queue=name)
                elif now[0] != state[0]:
                    notes.append(f"queue {name} held {state[0]} message(s) before the run and {now[0]} after")
        for name, existed in before.exchanges.items():
            if not existed:
                channel.exchange_delete(exchange=name)
    finally:
        channel.close()


# --- (a) raw kombu baseline ---------------------------------------------------------------------

def raw_baseline(broker_url: str, bodies: list[str], rate_per_s: float, latency_events: int, prefetch: int,
                 queue_name: str) -> dict:
    from kombu import Connection, Consumer, Producer, Queue

    queue = Queue(queue_name, durable=True, queue_arguments={"x-queue-type": "quorum"})
    result: dict = {"queue": queue_name, "prefetch": prefetch}
    n = len(bodies)

    def publish(producer, body, sent_at):
        producer.publish(body, exchange="", routing_key=queue_name, content_type="application/json",
                         content_encoding="utf-8", delivery_mode=2, headers={"x-bench-sent": sent_at},
                         retry=False)

    with Connection(broker_url, heartbeat=30, connect_timeout=5,
                    transport_options={"confirm_publish": True}) as pub_conn, \
            Connection(broker_url, heartbeat=30, connect_timeout=5) as sub_conn:
        pub_channel = pub_conn.channel()
        queue(pub_channel).declare()
        queue(pub_channel).purge()
        producer = Producer(pub_channel)

        received: list[tuple[float, float]] = []  # (sent_at, received_at)
        target = threading.Event()
        expected = [0]

        def on_message(message):
            now = time.time()
            json.loads(message.body)
            message.ack()
            received.append((float(message.headers.get("x-bench-sent", now)), now))
            if len(received) >= expected[0]:
                target.set()

        sub_channel = sub_conn.channel()
        consumer = Consumer(sub_channel, queues=[queue], no_ack=False, prefetch_count=prefetch,
                            on_message=on_message)

        def drain_until(deadline: float) -> None:
            while not target.is_set() and time.monotonic() < deadline:
                try:
                    sub_conn.drain_events(timeout=0.2)
                except socket.timeout:
                    pass

        # warm-up: a few round trips on both connections
        expected[0] = 20
        consumer.consume()
        for body in bodies[:20]:
            publish(producer, body, time.time())
        drain_until(time.monotonic() + 10)
        consumer.cancel()
        received.clear()
        target.clear()

        # a1: N messages, one confirm each
        cpu0 = cpu_snapshot()
        started = time.perf_counter()
        for body in bodies:
            publish(producer, body, time.time())
        publish_s = time.perf_counter() - started
        result["publish"] = {"messages": n, "seconds": round(publish_s, 3), "msg_per_s": rate(n, publish_s),
                             "cpu_cores": cpu_usage(cpu0)}
        say(f"  raw publish: {n} in {publish_s:.2f}s = {n / publish_s:.0f} msg/s")

        # a2: consume the backlog with manual acks
        expected[0] = n
        cpu0 = cpu_snapshot()
        started = time.perf_counter()
        consumer.consume()
        drain_until(time.monotonic() + 120)
        consume_s = time.perf_counter() - started
        consumer.cancel()
        if len(received) < n:
            raise RuntimeError(f"raw consume: only {len(received)} of {n} messages arrived")
        span = received[-1][1] - received[0][1]
        result["consume"] = {"messages": n, "seconds": round(consume_s, 3), "msg_per_s": rate(n, consume_s),
                             "first_to_last_msg_per_s": rate(n - 1, span), "cpu_cores": cpu_usage(cpu0)}
        say(f"  raw consume: {n} in {consume_s:.2f}s = {n / consume_s:.0f} msg/s")
        received.clear()
        target.clear()

        # a3: steady rate, consumer running alongside
        expected[0] = latency_events
        consumer.consume()
        consumer_thread = threading.Thread(target=drain_until, args=(time.monotonic() + 3600,),
                                           name="raw-consumer", daemon=True)
        consumer_thread.start()
        period = 1.0 / rate_per_s
        cpu0 = cpu_snapshot()
        started = time.perf_counter()
        behind = 0
        for index in range(latency_events):
            due = started + index * period
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -period:
                behind += 1
            publish(producer, bodies[index % n], time.time())
        offered_s = time.perf_counter() - started
        target.wait(30)
        cpu = cpu_usage(cpu0)
        target.set()
        consumer_thread.join(5)
        consumer.cancel()
        latencies = [got - sent for sent, got in received]
        result["latency"] = {"offered_rate": rate_per_s, "achieved_rate": rate(latency_events, offered_s),
                             "late_sends": behind, **latency_summary(latencies), "cpu_cores": cpu}
        if len(received) < latency_events:
            result["latency"]["lost"] = latency_events - len(received)
        say(f"  raw latency at {rate_per_s:g}/s: p50 {result['latency'].get('p50_ms')} ms, "
            f"p99 {result['latency'].get('p99_ms')} ms")
        queue(pub_channel).delete()
    return result


# --- the steady-rate use case (patients web process stand-in) ---------------------------------

WARMUP_RENAMES = 5


def department_ids(count: int) -> list[uuid.UUID]:
    from patients.domain.organisation import department_id
    return [department_id(f"BR{i % 5}-H{(i // 5) % 4}-D{i:04d}") for i in range(count)]


def steady_use_case(environ: dict, mode: str, departments: int, revisions: dict, rate_per_s: float, count: int,
                    channel, in_thread: bool = False) -> None:
    """Commit ``count`` single-event use cases at ``rate_per_s`` (open loop: a late commit does not
    delay the schedule of the next ones).

    Talks over ``channel`` (a Pipe end or a queue pair): sends "ready" after its warm-up, waits
    for "go", then sends {"committed": [wall time after each commit], ...}."""
    import patients.runtime

    runtime = patients.runtime.build_runtime(environ)
    use_case = UseCase(runtime, mode, departments, revisions)
    try:
        for index in range(WARMUP_RENAMES):
            use_case.single(index, "opvarmning")
        channel.send("ready")
        if channel.recv() != "go":
            return
        committed, commit_ms = [], []
        cpu_started = time.process_time()
        period = 1.0 / rate_per_s
        behind = 0
        started = time.perf_counter()
        for index in range(count):
            due = started + index * period
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -period:
                behind += 1
            t0 = time.perf_counter()
            use_case.single(WARMUP_RENAMES + index, "omdøbt")
            committed.append(time.time())
            commit_ms.append((time.perf_counter() - t0) * 1000)
        channel.send({"committed": committed, "commit_ms": commit_ms, "behind": behind,
                      "cpu_s": time.process_time() - cpu_started if not in_thread else 0.0,
                      "offered_s": time.perf_counter() - started, "expected": use_case.expected})
    finally:
        runtime.db.dispose()


class _ThreadChannel:
    def __init__(self, inbox, outbox):
        self.inbox, self.outbox = inbox, outbox

    def send(self, item):
        self.outbox.put(item)

    def recv(self):
        return self.inbox.get()


class SteadyProducer:
    """Runs steady_use_case in a child process (default) or a thread of this process."""

    def __init__(self, environ: dict, mode: str, departments: int, revisions: dict, rate_per_s: float, count: int,
                 *, in_process: bool):
        self.args = (environ, mode, departments, revisions, rate_per_s, count)
        self.in_process = in_process
        self.worker = None

    def start(self) -> None:
        if self.in_process:
            import queue
            to_child, from_child = queue.Queue(), queue.Queue()
            self.channel = _ThreadChannel(from_child, to_child)
            self.worker = threading.Thread(target=steady_use_case, name="use-case",
                                           args=(*self.args, _ThreadChannel(to_child, from_child), True),
                                           daemon=True)
        else:
            import multiprocessing
            context = multiprocessing.get_context("spawn")
            self.channel, child = context.Pipe()
            self.worker = context.Process(target=steady_use_case, name="use-case", args=(*self.args, child),
                                          daemon=True)
        self.worker.start()

    def _recv(self, timeout: float):
        if self.in_process:
            import queue
            try:
                return self.channel.inbox.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError("the use-case thread did not answer in time") from None
        deadline = time.monotonic() + timeout
        while not self.channel.poll(0.2):
            if not self.worker.is_alive():
                raise RuntimeError(f"the use-case process exited (code {self.worker.exitcode}); "
                                   f"its traceback is above")
            if time.monotonic() > deadline:
                raise RuntimeError("the use-case process did not answer in time")
        return self.channel.recv()

    def wait_ready(self, timeout: float = 60) -> None:
        if self._recv(timeout) != "ready":
            raise RuntimeError("the use-case process failed to start")

    def go_and_collect(self, timeout: float) -> dict:
        self.channel.send("go")
        outcome = self._recv(timeout)
        self.worker.join(10)
        return outcome

    def stop(self) -> None:
        if self.worker is not None and self.worker.is_alive() and not self.in_process:
            self.worker.terminate()
            self.worker.join(5)


# --- (b) the project's path ---------------------------------------------------------------------

class Applied:
    """Commit times of consumer transactions, by event id (set by the instrumented UnitOfWork)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[uuid.UUID, float] = {}
        self.expected = 0
        self.done = threading.Event()

    def reset(self, expected: int) -> None:
        with self.lock:
            self.times = {}
            self.expected = expected
            self.done.clear()

    def record(self, event_id: uuid.UUID, at: float) -> None:
        with self.lock:
            self.times[event_id] = at
            if len(self.times) >= self.expected:
                self.done.set()


@dataclass
class Threads:
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    profile: cProfile.Profile | None = None

    def start(self, target, name: str, profile: bool = False) -> None:
        self.stop = threading.Event()
        self.profile = cProfile.Profile() if profile else None

        def body():
            if self.profile is not None:
                self.profile.runcall(target, self.stop)
            else:
                target(self.stop)

        self.thread = threading.Thread(target=body, name=name, daemon=True)
        self.thread.start()

    def cpu_seconds(self) -> float:
        """CPU time this thread has used so far (Linux: /proc/self/task/<tid>/stat)."""
        if self.thread is None or self.thread.native_id is None:
            return 0.0
        try:
            with open(f"/proc/self/task/{self.thread.native_id}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def halt(self, wake=None, timeout: float = 10.0) -> None:
        if self.thread is None:
            return
        self.stop.set()
        if wake is not None:
            wake()
        self.thread.join(timeout)
        if self.thread.is_alive():
            say(f"  warning: thread {self.thread.name} did not stop within {timeout}s")
        self.thread = None


def process_cpu_seconds(pid: int) -> float:
    """CPU time a whole process has used so far (Linux: /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def profile_text(profile: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def outbox_published_total() -> float:
    from servicekit.metrics import OUTBOX_PUBLISHED
    return OUTBOX_PUBLISHED._value.get()


def consumed_by_outcome(queue: str) -> dict[str, int]:
    from servicekit.metrics import EVENTS_CONSUMED
    outcomes = {}
    for metric in EVENTS_CONSUMED.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("queue") == queue:
                outcomes[sample.labels["outcome"]] = int(sample.value)
    return outcomes


def project_path(args, broker_url: str, patients_url: str, identity_url: str, notes: list[str],
                 state: dict) -> dict:
    from sqlalchemy import func, select, text

    import identity.runtime
    import patients.runtime
    from identity.adapters.tables import departments as identity_departments
    from identity.handlers import HANDLERS
    from patients.adapters.tables import departments as patients_departments
    from servicekit.messaging.broker import ConfirmingPublisher, connect
    from servicekit.messaging.consumer import ConsumerRunner
    from servicekit.messaging.relay import OutboxRelay
    from servicekit.uow import OUTBOX_CHANNEL, UnitOfWork
    from servicekit.worker import build_consumers

    common = base_environ(broker_url, args.log_level)
    patients_env = {**common, **service_keys("patients"), "PATIENTS_DATABASE_URL": patients_url}
    patients_rt = patients.runtime.build_runtime(patients_env)
    identity_rt = identity.runtime.build_runtime({**common, "IDENTITY_DATABASE_URL": identity_url})
    state["runtimes"] = [patients_rt, identity_rt]
    started = time.perf_counter()
    patients_rt.migrate()
    identity_rt.migrate()
    say(f"  migrated both databases in {time.perf_counter() - started:.1f}s")
    ps, ids = patients_rt.settings, identity_rt.settings
    result: dict = {"settings": {"relay_batch_size": ps.relay_batch_size, "relay_idle_wait_s": ps.relay_idle_wait,
                                 "consumer_prefetch": ids.consumer_prefetch, "per_commit": args.per_commit,
                                 "use_case": args.use_case, "use_case_in": args.producer}}

    # The relay, as run_worker builds it for patients.
    publisher = ConfirmingPublisher(connect(ps.broker_url), retry_delays_ms=ps.consumer_retry_delays_ms)
    state["publisher"] = publisher
    relay = OutboxRelay(patients_rt.db, patients_rt.messaging, publisher, batch_size=ps.relay_batch_size,
                        idle_wait=ps.relay_idle_wait)
    # Probe: count the relay's rounds (claim, publish, mark) and how many found nothing to do.
    rounds = {"rounds": 0, "empty": 0, "events": 0}
    publish_pending = relay.publish_pending

    def counted_publish_pending() -> int:
        published = publish_pending()
        rounds["rounds"] += 1
        rounds["empty"] += published == 0
        rounds["events"] += published
        return published

    relay.publish_pending = counted_publish_pending

    # The consumer, as run_worker builds it for identity, with two probes: the handler notes which
    # event it applied, the unit of work notes when that transaction committed.
    applied = Applied()

    class TimedUnitOfWork(UnitOfWork):
        def commit(self) -> None:
            super().commit()
            now = time.time()
            for event_id in self.__dict__.pop("bench_event_ids", ()):
                applied.record(event_id, now)

    def timed(handler):
        def wrapper(uow, event):
            handler(uow, event)
            uow.__dict__.setdefault("bench_event_ids", []).append(event.id)
        wrapper.__name__ = getattr(handler, "__name__", "handler")
        return wrapper

    # identity's handlers for the one queue measured here (identity may consume other queues too)
    handlers = {CONSUMER_QUEUE: {etype: timed(h) for etype, h in HANDLERS[CONSUMER_QUEUE].items()}}

    def new_uow() -> UnitOfWork:
        return TimedUnitOfWork(identity_rt.db, identity_rt.messaging, producer=ids.service)

    consumers = build_consumers(ids, handlers, new_uow)
    queue_name = CONSUMER_QUEUE
    runner = ConsumerRunner(ids.broker_url, consumers, prefetch=ids.consumer_prefetch,
                            retry_delays_ms=ids.consumer_retry_delays_ms, connect=connect)
    relay_t, consumer_t = Threads(), Threads()
    state["threads"] = [relay_t, consumer_t]

    def wake_relay():
        with patients_rt.db.engine.begin() as connection:
            connection.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))

    state["wake_relay"] = wake_relay

    def wait_published(target: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while outbox_published_total() < target:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def emitted_total() -> int:
        with patients_rt.db.engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(patients_rt.messaging.outbox)).scalar()

    per_commit = args.per_commit
    use_case = UseCase(patients_rt, args.use_case, per_commit)

    # warm-up: first load of the organisation (per_commit departments), through relay and consumer
    applied.reset(per_commit)
    relay_t.start(relay.run, "outbox-relay")
    consumer_t.start(runner.run, "consumers")
    use_case.batch(0, per_commit)
    if not applied.done.wait(60):
        raise RuntimeError(f"warm-up: {len(applied.times)} of {per_commit} events applied after 60s")
    relay_t.halt(wake_relay)
    consumer_t.halt()
    state["watch"]("warm-up", 0)
    say(f"  warm-up: {per_commit} events through relay and consumer")

    # b1: a backlog of N events, many per commit, then the relay alone
    n = args.events
    generation, written = 0, 0
    cpu0 = cpu_snapshot()
    started = time.perf_counter()
    while written < n:
        generation += 1
        count = min(per_commit, n - written)
        use_case.batch(generation, count)
        written += count
    write_s = time.perf_counter() - started
    result["use_case_batch"] = {"events": n, "commits": generation, "seconds": round(write_s, 3),
                                "events_per_s": rate(n, write_s), "cpu_cores": cpu_usage(cpu0)}
    say(f"  use case: {n} events in {generation} commits in {write_s:.2f}s = {n / write_s:.0f} events/s")

    baseline = outbox_published_total()
    cpu0 = cpu_snapshot()
    started = time.perf_counter()
    relay_t.start(relay.run, "outbox-relay", profile=args.profile in ("relay", "both"))
    if not wait_published(baseline + n, 120):
        raise RuntimeError(f"relay: {outbox_published_total() - baseline:.0f} of {n} published after 120s")
    relay_s = time.perf_counter() - started
    relay_cpu_ms = relay_t.cpu_seconds() * 1000 / n
    result["relay"] = {"events": n, "seconds": round(relay_s, 3), "events_per_s": rate(n, relay_s),
                       "thread_cpu_ms_per_event": round(relay_cpu_ms, 3), "cpu_cores": cpu_usage(cpu0)}
    say(f"  relay: {n} in {relay_s:.2f}s = {n / relay_s:.0f} events/s")
    state["watch"]("relay", 0)
    if relay_t.profile is not None:
        relay_t.halt(wake_relay)
        state["profiles"]["relay"] = profile_text(relay_t.profile)
        relay_t.start(relay.run, "outbox-relay")

    # b2: the consumer alone on the backlog (inbox + identity's handler, one transaction each)
    applied.reset(n)
    cpu0 = cpu_snapshot()
    started = time.perf_counter()
    consumer_t.start(runner.run, "consumers", profile=args.profile in ("consumer", "both"))
    if not applied.done.wait(300):
        raise RuntimeError(f"consumer: {len(applied.times)} of {n} applied after 300s")
    consume_s = time.perf_counter() - started
    consume_cpu = cpu_usage(cpu0)
    consumer_cpu_ms = consumer_t.cpu_seconds() * 1000 / n
    times = sorted(applied.times.values())
    result["consumer"] = {"events": n, "seconds": round(consume_s, 3), "events_per_s": rate(n, consume_s),
                          "first_to_last_events_per_s": rate(n - 1, times[-1] - times[0]),
                          "thread_cpu_ms_per_event": round(consumer_cpu_ms, 3),
                          "wall_ms_per_event": round(consume_s * 1000 / n, 3), "cpu_cores": consume_cpu}
    say(f"  consumer: {n} in {consume_s:.2f}s = {n / consume_s:.0f} events/s")
    state["watch"]("consumer", 1)
    if consumer_t.profile is not None:
        consumer_t.halt()
        state["profiles"]["consumer"] = profile_text(consumer_t.profile)
        consumer_t.start(runner.run, "consumers")

    # b3: steady offered rate, one event per commit, relay and consumer running.
    # The use case runs in its own process by default, as it would in the patients web process:
    # in this process it would compete with relay and consumer for the GIL.
    latency_events = max(1, int(round(args.rate * args.latency_seconds)))
    outbox = patients_rt.messaging.outbox
    producer_env = patients_env
    job = SteadyProducer(producer_env, args.use_case, per_commit, use_case.revisions, args.rate, latency_events,
                         in_process=args.producer == "thread")
    state["job"] = job
    if args.profile == "latency":
        relay_t.halt(wake_relay)
        consumer_t.halt()
        relay_t.start(relay.run, "outbox-relay", profile=True)
        consumer_t.start(runner.run, "consumers", profile=True)
    relay_process = None
    if args.relay == "process":
        # As deployed: the relay is the patients worker's, in a process of its own.
        relay_t.halt(wake_relay)
        relay_process = subprocess.Popen([sys.executable, "-m", "patients", "worker"],
                                         env={**os.environ, **patients_env}, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
    applied.reset(WARMUP_RENAMES)
    job.start()
    job.wait_ready()  # it has committed its warm-up renames
    if not applied.done.wait(30):
        raise RuntimeError("latency warm-up events were not applied within 30s")
    applied.reset(latency_events)
    rounds_before = dict(rounds)
    cpu0 = cpu_snapshot()
    relay_cpu = (lambda: process_cpu_seconds(relay_process.pid)) if relay_process else relay_t.cpu_seconds
    thread_cpu0 = relay_cpu(), consumer_t.cpu_seconds()
    outcome = job.go_and_collect(timeout=args.latency_seconds * 3 + 60)
    committed, commit_ms, behind, offered_s = (outcome["committed"], outcome["commit_ms"], outcome["behind"],
                                               outcome["offered_s"])
    complete = applied.done.wait(60)
    latency_cpu = cpu_usage(cpu0, use_case_cpu_s=outcome.get("cpu_s", 0.0))
    relay_rounds = {key: rounds[key] - rounds_before[key] for key in rounds}
    thread_ms = {"relay": round((relay_cpu() - thread_cpu0[0]) * 1000 / latency_events, 3),
                 "consumer": round((consumer_t.cpu_seconds() - thread_cpu0[1]) * 1000 / latency_events, 3),
                 "use_case": round(outcome.get("cpu_s", 0.0) * 1000 / latency_events, 3)}
    # match commits to events: the outbox position order is the commit order of this thread
    with patients_rt.db.engine.connect() as connection:
        rows = connection.execute(select(outbox.c.event_id, outbox.c.published_at)
                                  .order_by(outbox.c.position.desc()).limit(latency_events)).all()
    rows.reverse()
    with identity_rt.db.engine.connect() as connection:
        inbox = identity_rt.messaging.inbox
        started_at = dict(connection.execute(select(inbox.c.event_id, inbox.c.processed_at)
                                             .where(inbox.c.consumer == queue_name)).all())
    e2e, relay_leg, delivery_leg, handle_leg = [], [], [], []
    for index, row in enumerate(rows):
        commit = committed[index]
        done = applied.times.get(row.event_id)
        if done is None:
            continue
        e2e.append(done - commit)
        if row.published_at is not None:
            relay_leg.append(row.published_at.timestamp() - commit)
            begun = started_at.get(row.event_id)
            if begun is not None:
                delivery_leg.append(begun.timestamp() - row.published_at.timestamp())
                handle_leg.append(done - begun.timestamp())
    result["latency"] = {
        "offered_rate": args.rate, "achieved_rate": rate(latency_events, offered_s), "late_commits": behind,
        "use_case_in": args.producer, "relay_in": args.relay, "cpu_cores": latency_cpu, "cpu_ms_per_event": thread_ms,
        "relay_rounds": relay_rounds,
        "use_case_commit_ms": latency_summary([ms / 1000 for ms in commit_ms]),
        **latency_summary(e2e),
        "legs": {"commit_to_published": latency_summary(relay_leg),
                 "published_to_handling": latency_summary(delivery_leg),
                 "handling_to_applied": latency_summary(handle_leg)},
    }
    if not complete:
        result["latency"]["lost"] = latency_events - len(applied.times)
        notes.append(f"latency run: only {len(applied.times)} of {latency_events} events applied after 60s")
    state["watch"]("latency run", 1)
    say(f"  e2e latency at {args.rate:g}/s: p50 {result['latency'].get('p50_ms')} ms, "
        f"p99 {result['latency'].get('p99_ms')} ms")

    if relay_process is not None:
        relay_process.terminate()
        relay_process.wait(30)
    relay_t.halt(wake_relay)
    consumer_t.halt()
    if args.profile == "latency":
        state["profiles"]["relay (latency run)"] = profile_text(relay_t.profile)
        state["profiles"]["consumer (latency run)"] = profile_text(consumer_t.profile)

    # check: everything published once, applied once, and identity's copy equals patients' data
    total = emitted_total()
    with patients_rt.db.engine.connect() as connection:
        unpublished = connection.execute(select(func.count()).select_from(outbox)
                                         .where(outbox.c.published_at.is_(None))).scalar()
        if args.use_case == "patients":
            source = {row.id: (row.name, row.revision) for row in connection.execute(
                select(patients_departments.c.id, patients_departments.c.name, patients_departments.c.revision))}
        else:
            source = {**use_case.expected, **outcome["expected"]}
    with identity_rt.db.engine.connect() as connection:
        inbox_rows = connection.execute(select(func.count()).select_from(identity_rt.messaging.inbox)).scalar()
        copy = {row.id: (row.name, row.revision) for row in connection.execute(
            select(identity_departments.c.id, identity_departments.c.name, identity_departments.c.revision))}
    outcomes = consumed_by_outcome(queue_name)
    result["check"] = {"events_emitted": total, "unpublished": unpublished, "inbox_rows": inbox_rows,
                       "read_model_matches": copy == source, "departments": len(source), "outcomes": outcomes}
    if unpublished or inbox_rows != total or copy != source or set(outcomes) - {"applied"}:
        notes.append(f"consistency check failed: {result['check']}")
    return result


# --- main -------------------------------------------------------------------------------------

def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


_PUBLIC_KEY: list[str] = []


def base_environ(broker_url: str, log_level: str = "WARNING") -> dict[str, str]:
    """What every service process of the benchmark gets, besides its database URL.

    Services that check the gateway's signature need its public key to start; the benchmark
    makes no HTTP request, so any key does (DANBIO_PRINCIPAL_PUBLIC_KEY from the environment, else
    a fresh one)."""
    import dataclasses

    from servicekit.config import ServiceSettings
    environ = {"DANBIO_BROKER_URL": broker_url, "DANBIO_LOG_LEVEL": log_level}
    if any(f.metadata.get("env") == "DANBIO_PRINCIPAL_PUBLIC_KEY" for f in dataclasses.fields(ServiceSettings)):
        if not _PUBLIC_KEY:
            key = os.environ.get("DANBIO_PRINCIPAL_PUBLIC_KEY")
            if not key:
                from servicekit.principal import generate_keypair
                key = generate_keypair()[1]
            _PUBLIC_KEY.append(key)
        environ["DANBIO_PRINCIPAL_PUBLIC_KEY"] = _PUBLIC_KEY[0]
    return environ


# Secret keys a service needs to start against a server database; the benchmark's databases are
# thrown away, so fresh random keys do (base64 of 32 bytes, one per variable, all different).
SERVICE_KEYS = {"patients": ("PATIENTS_CPR_KEY", "PATIENTS_CPR_HASH_KEY")}


def service_keys(service: str) -> dict[str, str]:
    import base64
    import dataclasses
    import importlib

    settings_cls = next((value for name, value in vars(importlib.import_module(f"{service}.settings")).items()
                         if name.endswith("Settings") and dataclasses.is_dataclass(value)
                         and name.lower().startswith(service)), None)
    declared = {f.metadata.get("env") for f in dataclasses.fields(settings_cls)} if settings_cls else set()
    return {name: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
            for name in SERVICE_KEYS.get(service, ()) if name in declared}


def rabbitmqctl(*arguments: str) -> None:
    script = ROOT / "dev" / "servers" / "rabbitmq.sh"
    result = subprocess.run([str(script), "ctl", *arguments], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(arguments)} failed: {result.stderr.strip()[-300:]}")


def with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, parts.fragment))


def wide_table(rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        lines.append("  ".join(str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i])
                               for i, cell in enumerate(row)))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000, help="N: events per throughput phase (default 5000)")
    parser.add_argument("--rate", type=float, default=200.0, help="offered events/s in the latency runs (200)")
    parser.add_argument("--latency-seconds", type=float, default=10.0,
                        help="length of each steady-rate latency run (default 10 s)")
    parser.add_argument("--per-commit", type=int, default=100,
                        help="events per commit in the throughput backlog (default 100)")
    parser.add_argument("--profile", choices=["relay", "consumer", "both", "latency"],
                        help="run cProfile in that thread during its throughput phase, or in both threads "
                             "during the latency run (slows them down; printed after the table)")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="services' log level (default WARNING; the worker's default INFO logs one "
                             "line per applied event to stderr)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="PostgreSQL superuser URL (default: `dev/servers/postgres.sh url`)")
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL"),
                        help="RabbitMQ URL (default: `dev/servers/rabbitmq.sh url`)")
    parser.add_argument("--use-case", choices=["emit", "patients"], default="emit",
                        help="emit (default): a bare use case, uow.emit() of each event and the commit; "
                             "patients: the patients service's real use cases (load_organisation, "
                             "rename_department), which also write the department rows")
    parser.add_argument("--relay", choices=["process", "thread"], default="process",
                        help="where the relay runs in the steady-rate latency run: the patients worker as its "
                             "own process, as deployed (default), or a thread beside the consumer (one GIL)")
    parser.add_argument("--producer", choices=["process", "thread"], default="process",
                        help="where the steady-rate use case runs: its own process like the web app "
                             "(default), or a thread of the benchmark process (shares the GIL with relay "
                             "and consumer)")
    parser.add_argument("--vhost", choices=["auto", "shared", "private"], default="auto",
                        help="private: a throwaway vhost made with `dev/servers/rabbitmq.sh ctl` (as the tests "
                             "do), so runs side by side never share identity.departments; deleted after. "
                             "shared: the broker URL's own vhost; identity.departments is purged before and "
                             "after, and whatever the run created there is deleted. auto (default): private "
                             "when the broker is dev/servers' own (no --broker-url), else shared")
    parser.add_argument("--skip-raw", action="store_true", help="only the project's path")
    args = parser.parse_args(argv)
    if args.events < 2 or args.rate <= 0 or args.per_commit < 1:
        parser.error("--events must be >= 2, --rate > 0, --per-commit >= 1")

    import psycopg
    from kombu import Connection

    from servicekit.config import ServiceSettings, load
    from servicekit.logs import configure_logging
    from servicekit.messaging import topology

    configure_logging("bench", args.log_level)
    admin_url = args.database_url or server_url("postgres.sh")
    broker_url = args.broker_url or server_url("rabbitmq.sh")
    retry_delays = load(ServiceSettings, "identity", base_environ(broker_url)).consumer_retry_delays_ms

    token = secrets.token_hex(4)
    databases = {"patients": f"bench_bus_{token}_patients", "identity": f"bench_bus_{token}_identity"}
    raw_queue = f"bench.bus.raw.{token}"
    notes: list[str] = []
    state: dict = {"profiles": {}}
    report: dict = {"bench": "bus", "events": args.events, "rate": args.rate,
                    "latency_seconds": args.latency_seconds, "per_commit": args.per_commit,
                    "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    wall = time.perf_counter()

    vhost = None
    if args.vhost == "auto":
        args.vhost = "shared" if args.broker_url else "private"
    if args.vhost == "private":
        vhost = f"bench_bus_{token}"
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, urlsplit(broker_url).username or "guest", ".*", ".*", ".*")
        broker_url = with_vhost(broker_url, vhost)
    report["vhost"] = vhost or (Connection(broker_url).virtual_host)

    admin = psycopg.connect(conninfo(admin_url), autocommit=True, connect_timeout=5)
    control = Connection(broker_url, heartbeat=0, connect_timeout=5)
    control.ensure_connection(max_retries=1)
    server_props = control.connection.server_properties
    report["rabbitmq"] = server_props.get("version")
    report["postgresql"] = admin.info.server_version
    report["cpus"] = os.cpu_count()
    report["background_cpu_cores"] = background_load(1.0)
    before = snapshot(control, retry_delays)
    consumer_queue = topology.spec_for(CONSUMER_QUEUE).queue
    held = before.queues.get(consumer_queue)
    if held is not None and held[1] > 0:
        control.release()
        admin.close()
        if vhost:
            rabbitmqctl("delete_vhost", vhost)
        raise SystemExit(f"{consumer_queue} has {held[1]} consumer(s) attached (an identity worker or a test "
                         f"run?): they would take the benchmark's messages, and purging would take theirs. "
                         f"Stop them, or run with --vhost private")

    def watch(phase: str, ours: int) -> None:
        """Note any foreign consumer on the queue: it would take (and skew) our messages."""
        try:
            found = _passive(control, "queue", consumer_queue)
        except Exception as exc:
            notes.append(f"after {phase}: could not inspect {consumer_queue}: {exc.__class__.__name__}: {exc}")
            return
        if found is None:
            notes.append(f"after {phase}: {consumer_queue} has disappeared (broker reset?)")
        elif found[1] > ours:
            notes.append(f"after {phase}: {found[1] - ours} foreign consumer(s) on {consumer_queue}: "
                         f"figures are not trustworthy")
    state["watch"] = watch

    created: list[str] = []
    failed = None
    try:
        for name in databases.values():
            admin.execute(f'CREATE DATABASE "{name}"')
            created.append(name)
        topology.declare(control, retry_delays)
        control.default_channel.queue_purge(queue=consumer_queue)
        if held is not None and held[0]:
            notes.append(f"{consumer_queue} held {held[0]} message(s) before the run; purged")
        say(f"bus benchmark: N={args.events}, rate={args.rate:g}/s, RabbitMQ {report['rabbitmq']} "
            f"(vhost {report['vhost']}), PostgreSQL {admin.info.server_version}")

        if not args.skip_raw:
            say("(a) raw kombu, one confirm per message, quorum queue")
            report["raw"] = raw_baseline(broker_url, raw_bodies(args.events), args.rate,
                                         max(1, int(round(args.rate * args.latency_seconds))),
                                         load(ServiceSettings, "identity", base_environ(broker_url))
                                         .consumer_prefetch, raw_queue)
        say("(b) outbox -> OutboxRelay/ConfirmingPublisher -> identity.departments -> EventConsumer + inbox")
        report["outbox"] = project_path(args, broker_url, sqlalchemy_url(admin_url, databases["patients"]),
                                        sqlalchemy_url(admin_url, databases["identity"]), notes, state)
    except BaseException as exc:
        failed = exc
    finally:
        if "job" in state:
            state["job"].stop()
        for threads in state.get("threads", []):
            threads.halt(state.get("wake_relay") if threads is state["threads"][0] else None)
        if "publisher" in state:
            state["publisher"].connection.release()
        for runtime in state.get("runtimes", []):
            runtime.db.dispose()
        for name in created:
            try:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error as exc:
                notes.append(f"could not drop database {name}: {exc}")
        admin.close()
        try:
            control.release()
        except Exception:
            pass
        if vhost:
            try:
                rabbitmqctl("delete_vhost", vhost)
            except Exception as exc:
                notes.append(f"could not delete vhost {vhost}: {exc}")
        else:
            try:  # a fresh connection: the control one may have died with a broker restart
                with Connection(broker_url, heartbeat=0, connect_timeout=5) as cleaner:
                    cleaner.ensure_connection(max_retries=3)
                    if _passive(cleaner, "queue", raw_queue) is not None:
                        channel = cleaner.channel()
                        channel.queue_delete(queue=raw_queue)
                        channel.close()
                    restore(cleaner, before, [consumer_queue], notes)
            except Exception as exc:
                notes.append(f"broker clean-up failed: {exc.__class__.__name__}: {exc}")
    if failed is not None:
        for note in notes:
            say(f"note: {note}")
        if isinstance(failed, KeyboardInterrupt):
            raise failed
        say(f"benchmark failed: {failed.__class__.__name__}: {failed}")
        print(json.dumps({**report, "error": f"{failed.__class__.__name__}: {failed}", "notes": notes},
                         separators=(",", ":"), default=str))
        return 2
    report["wall_seconds"] = round(time.perf_counter() - wall, 1)

    # --- report ---
    raw, out = report.get("raw"), report["outbox"]
    rows = [("measure", "raw kombu (1 confirm/msg)", "servicekit outbox path")]
    if raw:
        rows.append(("publish throughput (msg/s)", f"{raw['publish']['msg_per_s']:.0f}",
                     f"{out['relay']['events_per_s']:.0f}"))
        rows.append(("consume throughput (msg/s)", f"{raw['consume']['msg_per_s']:.0f}",
                     f"{out['consumer']['events_per_s']:.0f}"))
    else:
        rows.append(("publish throughput (msg/s)", "-", f"{out['relay']['events_per_s']:.0f}"))
        rows.append(("consume throughput (msg/s)", "-", f"{out['consumer']['events_per_s']:.0f}"))
    for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
        rows.append((f"e2e latency {key[:-3]} (ms) @ {args.rate:g}/s",
                     f"{raw['latency'].get(key, float('nan')):.1f}" if raw else "-",
                     f"{out['latency'].get(key, float('nan')):.1f}"))
    rows.append(("achieved offered rate (/s)", f"{raw['latency']['achieved_rate']:.0f}" if raw else "-",
                 f"{out['latency']['achieved_rate']:.0f}"))
    print()
    print(f"Bus benchmark — N={args.events} events (~{len(raw_bodies(1)[0])} B envelopes), "
          f"{args.per_commit}/commit for throughput, 1/commit at {args.rate:g}/s for "
          f"{args.latency_seconds:g}s for latency; RabbitMQ {report['rabbitmq']}, PostgreSQL "
          f"{report['postgresql']}")
    print(table(rows))
    legs = out["latency"]["legs"]
    print(f"outbox e2e legs p50/p99 (ms): commit->published {legs['commit_to_published'].get('p50_ms')}"
          f"/{legs['commit_to_published'].get('p99_ms')}, published->handling "
          f"{legs['published_to_handling'].get('p50_ms')}/{legs['published_to_handling'].get('p99_ms')}, "
          f"handling->applied {legs['handling_to_applied'].get('p50_ms')}/{legs['handling_to_applied'].get('p99_ms')}")
    print(f"CPU ms per event: relay thread {out['relay']['thread_cpu_ms_per_event']} (backlog), consumer thread "
          f"{out['consumer']['thread_cpu_ms_per_event']} (backlog; wall {out['consumer']['wall_ms_per_event']}); "
          f"at {args.rate:g}/s: relay {out['latency']['cpu_ms_per_event']['relay']}, consumer "
          f"{out['latency']['cpu_ms_per_event']['consumer']}, use case {out['latency']['cpu_ms_per_event']['use_case']}")
    relay_rounds = out["latency"]["relay_rounds"]
    if args.relay == "process":
        print(f"relay at {args.rate:g}/s: in the patients worker's own process (rounds not counted)")
    else:
        print(f"relay at {args.rate:g}/s: {relay_rounds['rounds']} rounds for {relay_rounds['events']} events "
              f"({relay_rounds['empty']} found nothing to publish)")
    print(f"use case ({args.use_case}): {out['use_case_batch']['events_per_s']:.0f} events/s written at "
          f"{args.per_commit}/commit; one event per commit (in a {args.producer}): commit p50/p99 {out['latency']['use_case_commit_ms'].get('p50_ms')}"
          f"/{out['latency']['use_case_commit_ms'].get('p99_ms')} ms")
    ratio = None
    if raw:
        ratio = round(out["relay"]["events_per_s"] / raw["publish"]["msg_per_s"], 2)
    report["ratio"] = {"relay_vs_raw_publish": ratio,
                       "consumer_vs_raw_consume": round(out["consumer"]["events_per_s"] / raw["consume"]["msg_per_s"], 2)
                       if raw else None,
                       "e2e_p99_ms": out["latency"].get("p99_ms"), "e2e_p99_target_ms": TARGET_P99_MS}
    targets = {"relay_at_least_raw_publish": ratio is not None and ratio >= 1.0,
               "e2e_p99_within_target": out["latency"].get("p99_ms", float("inf")) <= TARGET_P99_MS
               and "lost" not in out["latency"],
               "consistent": not any(note.startswith("consistency") for note in notes)}
    report["targets"] = targets
    print(f"relay / raw publish throughput = {ratio if ratio is not None else '-'} (target >= 1): "
          f"{'met' if targets['relay_at_least_raw_publish'] else 'NOT met'}; "
          f"e2e p99 {out['latency'].get('p99_ms')} ms vs target {TARGET_P99_MS:g} ms: "
          f"{'met' if targets['e2e_p99_within_target'] else 'NOT met'}; "
          f"check: {'ok' if targets['consistent'] else 'FAILED'} ({out['check']['events_emitted']} events, "
          f"outcomes {out['check']['outcomes']}); wall {report['wall_seconds']}s")
    phases = []
    if raw:
        phases += [("raw publish", raw["publish"]), ("raw consume", raw["consume"]), ("raw latency", raw["latency"])]
    phases += [("use case (batch)", out["use_case_batch"]), ("relay", out["relay"]), ("consumer", out["consumer"]),
               ("outbox latency", out["latency"])]
    cpu_rows = [("CPU, cores used", "machine", "bench proc", "use-case proc", "postgres", "rabbitmq", "rest")]
    background = report["background_cpu_cores"]
    cpu_rows.append(("before the run (1 s idle)", *(f"{background.get(k, 0):.2f}" for k in
                                                    ("machine", "bench_process", "use_case", "postgres", "rabbitmq", "rest"))))
    for label, phase in phases:
        cores = phase.get("cpu_cores", {})
        cpu_rows.append((label, *(f"{cores.get(k, 0):.2f}" for k in
                                  ("machine", "bench_process", "use_case", "postgres", "rabbitmq", "rest"))))
    busy = [f"{label} ({phase['cpu_cores']['rest']:.2f})" for label, phase in phases
            if phase.get("cpu_cores", {}).get("rest", 0) > BUSY_MACHINE_CORES]
    if busy:
        notes.append(f"other processes used more than {BUSY_MACHINE_CORES} of the {report['cpus']} CPUs during: "
                     f"{', '.join(busy)}: those figures are not representative; run again when the machine is idle")
    report["disturbed_phases"] = [label for label, phase in phases
                                  if phase.get("cpu_cores", {}).get("rest", 0) > BUSY_MACHINE_CORES]
    print(f"\n{wide_table(cpu_rows)}\n({report['cpus']} CPUs; 'rest' is everything else on "
          f"the machine, e.g. other users' processes; a process that exits within a phase is not counted)")
    for note in notes:
        print(f"note: {note}")
    for name, text_ in state["profiles"].items():
        print(f"\n--- cProfile of the {name} thread ---\n{text_}")
    report["notes"] = notes
    print(json.dumps(report, separators=(",", ":"), default=str))
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
