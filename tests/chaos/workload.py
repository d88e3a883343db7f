"""The workloads that run while a server is down: user creations through the gateway as the registry
administrator, and what to count afterwards (mail at the SMTP server, rows in the databases)."""
from __future__ import annotations

import collections
import itertools
import threading
import time

import requests
from sqlalchemy import create_engine, func, select, text

from identity.service.seed import DEMO_USERS

from tests.e2e.conftest import invented_username

ADMIN = next(user for user in DEMO_USERS if user.registry_admin)


class Admin:
    """The registry administrator at the gateway; the token is renewed before it runs out (not while
    Keycloak is down: call ``fresh()`` before stopping it)."""

    def __init__(self, stack, realm):
        self.gateway, self.realm = stack.url("gateway"), realm
        self.token, self.expires = "", 0.0
        self.lock = threading.Lock()

    def fresh(self) -> "Admin":
        answer = self.realm.user_token(ADMIN.username, ADMIN.password)
        self.token, self.expires = answer["access_token"], time.monotonic() + answer["expires_in"]
        return self

    def headers(self) -> dict[str, str]:
        with self.lock:
            if time.monotonic() > self.expires - 30:
                self.fresh()
            return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.gateway}{path}", headers=self.headers(), timeout=30, **kwargs)

    def hospital_and_department(self) -> tuple[str, str]:
        answer = self.call("GET", "/api/identity/admin/hospitals")
        assert answer.status_code == 200, answer.text
        hospital = next(h for h in answer.json() if h["departments"])
        return hospital["id"], hospital["departments"][0]["id"]

    def create_user(self, hospital: str, department: str, username: str) -> requests.Response:
        return self.call("POST", f"/api/identity/admin/hospitals/{hospital}/users", json={
            "username": username, "first_name": "Kaos", "last_name": "Test", "email": f"{username}@example.org",
            "phone": None, "role": "clinician", "departments": [department]})


class Creations:
    """``count`` user creations (or until ``stop()`` when count is None) by ``threads`` threads; each
    username's answer (status, content type, body) is kept."""

    def __init__(self, admin: Admin, hospital: str, department: str, *, prefix: str, count: int | None,
                 threads: int = 4):
        self.admin, self.hospital, self.department = admin, hospital, department
        self.prefix, self.count = prefix, count
        self._answers: dict[str, tuple[int, str, str]] = {}
        self.errors: list[str] = []
        self._numbers = itertools.count()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> "Creations":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _next(self) -> bool:
        with self._lock:
            return not self._stop.is_set() and (self.count is None or next(self._numbers) < self.count)

    def _run(self) -> None:
        while self._next():
            username = invented_username(self.prefix)
            try:
                answer = self.admin.create_user(self.hospital, self.department, username)
                outcome = (answer.status_code, answer.headers.get("Content-Type", ""), answer.text)
            except requests.RequestException as exc:  # the gateway itself must always answer
                outcome = (0, "", str(exc))
            with self._lock:
                self._answers[username] = outcome

    def stop(self) -> None:
        self._stop.set()
        self.join()

    def join(self, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        assert not any(t.is_alive() for t in self._threads), "the creations did not finish"

    @property
    def answers(self) -> dict[str, tuple[int, str, str]]:
        """username -> (status, content type, body) so far (a copy: the threads may still be adding)."""
        with self._lock:
            return dict(self._answers)

    def done(self) -> int:
        return len(self.answers)

    def with_status(self, status: int) -> list[str]:
        return [name for name, (code, _, _) in self.answers.items() if code == status]

    def statuses(self) -> dict[int, int]:
        return dict(collections.Counter(code for code, _, _ in self.answers.values()))


def mails_by_recipient(smtp, usernames) -> dict[str, list[str]]:
    """address -> the Message-IDs of every mail the SMTP server accepted for it (one per delivery)."""
    wanted = {f"{name}@example.org" for name in usernames}
    found: dict[str, list[str]] = collections.defaultdict(list)
    with smtp.lock:
        received = list(smtp.received)
    for mail in received:
        for address in mail.rcpt_tos:
            if address in wanted:
                found[address].append(str(mail.message["Message-ID"]))
    return found


class Databases:
    """Counting rows in the stack's databases (read only)."""

    def __init__(self, urls: dict[str, str]):
        self.engines = {name: create_engine(url, pool_pre_ping=True) for name, url in urls.items()}

    def scalar(self, database: str, query):
        with self.engines[database].connect() as connection:
            return connection.execute(query).scalar_one()

    def rows(self, database: str, query) -> list:
        with self.engines[database].connect() as connection:
            return list(connection.execute(query))

    def unpublished(self, database: str) -> int:
        """Events still in the service's outbox (servicekit's messaging tables)."""
        return self.scalar(database, text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))

    def inbox(self, database: str) -> tuple[int, int]:
        """(rows, distinct event ids) of the service's inbox: one effect per event means equal."""
        return tuple(self.rows(database, text("SELECT count(*), count(DISTINCT event_id) FROM inbox"))[0])

    def identity_usernames(self, prefix: str) -> set[str]:
        from identity.adapters.tables import users
        return {row.username for row in self.rows("identity", select(users.c.username)
                                                   .where(users.c.username.like(f"{prefix}-%")))}

    def count(self, database: str, table, *where) -> int:
        return self.scalar(database, select(func.count()).select_from(table).where(*where))

    def dispose(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
