"""The people of the load test (bench/load.py starts locust with this file): local user
administrators and clinicians of one hospital, each logged in as their own account through the web
UI exactly as a browser does it (web /login → Keycloak's password form → /auth/callback), then
clicking through the pages of their work with a think time between clicks.

Read from the environment (bench/load.py sets them): LOAD_ACCOUNTS (a JSON file: the accounts, the
hospital, its departments, each administrator's own users to edit), LOAD_WAIT_MIN / LOAD_WAIT_MAX
(think time, seconds), LOAD_ADMINS (how many of the users are administrators).

Every answer is checked (status, and that the page is the one asked for); anything else is a
failure. Request names group URLs by route ([hospital], [user], [patient]) for the table.
"""
from __future__ import annotations

import html
import itertools
import json
import os
import random
import re
import threading
from datetime import date, timedelta

from locust import HttpUser, between, task

ACCOUNTS = json.load(open(os.environ["LOAD_ACCOUNTS"]))
WAIT = between(float(os.environ.get("LOAD_WAIT_MIN", "1")), float(os.environ.get("LOAD_WAIT_MAX", "3")))
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_VERSION = re.compile(r'name="version" value="([^"]+)"')
_KC_FORM = re.compile(r'<form id="kc-form-login"[^>]*action="([^"]+)"')
_PATIENT_URL = re.compile(r"/patienter/([0-9a-f-]{36})$")
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_MESSAGE = re.compile(r'class="[^"]*(?:alert|feedback|error|notice)[^"]*"[^>]*>\s*(?:<[^>]+>\s*)*([^<]{3,160})', re.S)
WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
SEARCH_TERMS = ("jensen", "hansen", "load", "example", "ole", "kli", "adm", "nielsen")
PATIENT_NAMES = ("Karen Jensen", "Jens Hansen", "Mette Nielsen", "Søren Sørensen", "Åse Ærø", "Bjørn Østergaard")
_used_cprs: set[str] = set()
_cpr_lock = threading.Lock()


def invented_cpr() -> str:
    """DDMMYY-SSSS, born 1950–1999 (not on 1 January), failing modulus 11: never issued; unique in this run."""
    while True:
        born = date(1950, 1, 2) + timedelta(days=random.randrange(0, 18000))
        if born.year > 1999 or (born.month, born.day) == (1, 1):
            continue
        digits = born.strftime("%d%m%y") + str(random.randrange(0, 4)) + f"{random.randrange(0, 1000):03d}"
        if sum(int(d) * w for d, w in zip(digits, WEIGHTS)) % 11 == 0:
            continue
        cpr = f"{digits[:6]}-{digits[6:]}"
        with _cpr_lock:
            if cpr not in _used_cprs:
                _used_cprs.add(cpr)
                return cpr


def what_page(answer) -> str:
    """For a failure message: where the answer ended, its title and first message."""
    text = answer.text or ""
    title, message = _TITLE.search(text), _MESSAGE.search(text)
    return (f"{answer.url} title={title.group(1).strip() if title else ''!r} "
            f"message={message.group(1).strip() if message else ''!r}")


def csrf(text: str) -> str:
    found = _CSRF.search(text)
    return found.group(1) if found else ""


class Person(HttpUser):
    abstract = True
    wait_time = WAIT
    accounts: itertools.count  # per subclass

    def on_start(self):
        self.account = self.next_account()
        self.log_in()

    def log_in(self) -> None:
        """Web /login → Keycloak's form → POST the password → web callback → the front page."""
        self.client.cookies.clear()
        with self.client.get("/login", name="login 1: GET /login → Keycloak form", catch_response=True) as answer:
            form = _KC_FORM.search(answer.text or "")
            if answer.status_code != 200 or not form:
                answer.failure(f"no Keycloak login form ({answer.status_code})")
                return
        # Keycloak marks its cookies Secure; a browser sends them to http://127.0.0.1 (a secure
        # context), requests does not unless told.
        for cookie in self.client.cookies:
            cookie.secure = False
        with self.client.post(html.unescape(form.group(1)), name="login 2: POST password → callback → /",
                              data={"username": self.account["username"], "password": self.account["password"],
                                    "credentialId": ""}, catch_response=True) as answer:
            if answer.status_code != 200 or not answer.url.rstrip("/").endswith(self.host.rstrip("/")):
                answer.failure(f"login did not end on the front page ({answer.status_code} {what_page(answer)})")

    def page(self, path: str, name: str, must_contain: str | None = None, **kwargs) -> str:
        with self.client.get(path, name=name, catch_response=True, **kwargs) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}")
            elif must_contain and must_contain not in answer.text:
                answer.failure(f"page without {must_contain!r}: {what_page(answer)}")
            return answer.text or ""

    @task(1)
    def log_in_again(self):
        self.log_in()

    @task(1)
    def front_page(self):
        self.page("/", "GET /")


class Administrator(Person):
    """A local user administrator: lists and searches users, edits access of their own users."""
    fixed_count = int(os.environ.get("LOAD_ADMINS", "15"))
    _accounts = itertools.cycle(ACCOUNTS["administrators"])
    _lock = threading.Lock()

    @classmethod
    def next_account(cls):
        with cls._lock:
            return next(cls._accounts)

    @property
    def hospital(self) -> str:
        return ACCOUNTS["hospital_id"]

    @task(4)
    def list_users(self):
        self.page(f"/brugere/{self.hospital}", "GET /brugere/[hospital] (user list)", "Brugere")

    @task(3)
    def filter_users(self):
        self.page(f"/brugere/{self.hospital}?q={random.choice(SEARCH_TERMS)}", "GET /brugere/[hospital]?q= (filter)")

    @task(2)
    def search_all_users(self):
        self.page(f"/brugere/{self.hospital}/avanceret?q={random.choice(SEARCH_TERMS)}",
                  "GET /brugere/[hospital]/avanceret?q= (AVANCERET)")

    @task(2)
    def user_page(self):
        user = random.choice(self.account["targets"])
        self.page(f"/brugere/{self.hospital}/bruger/{user}", "GET /brugere/[hospital]/bruger/[user]", "Historik")

    @task(3)
    def edit_access(self):
        """"Rediger bruger" → tick departments → "Gem ændringer" (on this administrator's own users)."""
        user = random.choice(self.account["targets"])
        path = f"/brugere/{self.hospital}/bruger/{user}/rediger"
        form = self.page(path, "GET /brugere/[hospital]/bruger/[user]/rediger", "Gem ændringer")
        version = _VERSION.search(form)
        departments = random.sample(ACCOUNTS["departments"], random.randint(1, min(2, len(ACCOUNTS["departments"]))))
        with self.client.post(path, name="POST /brugere/[hospital]/bruger/[user]/rediger (Gem ændringer)",
                              data={"csrf_token": csrf(form), "version": version.group(1) if version else "",
                                    "role": random.choice(("clinician", "secretary")), "departments": departments},
                              allow_redirects=False, catch_response=True) as answer:
            if answer.status_code != 302:
                answer.failure(f"{answer.status_code}")
                return
        self.page(f"/brugere/{self.hospital}/bruger/{user}", "GET /brugere/[hospital]/bruger/[user]", "Ændringerne er gemt")

    @task(1)
    def review_page(self):
        self.page(f"/brugere/{self.hospital}/gennemgang", "GET /brugere/[hospital]/gennemgang")


class Clinician(Person):
    """A clinician: the department's board, creates patients, searches and opens them."""
    weight = 1
    _accounts = itertools.cycle(ACCOUNTS["clinicians"])
    _lock = threading.Lock()

    @classmethod
    def next_account(cls):
        with cls._lock:
            return next(cls._accounts)

    def on_start(self):
        super().on_start()
        self.patients: list[str] = []

    @task(4)
    def board(self):
        self.page(f"/afdelinger/{ACCOUNTS['board_department']}/patienttavle", "GET /afdelinger/[dept]/patienttavle",
                  "Patienttavle")

    @task(3)
    def create_patient(self):
        """"Opret patient": the form, the CPR check its script makes, then GEM."""
        form = self.page("/patienter/opret", "GET /patienter/opret", "GEM")
        token, cpr = csrf(form), invented_cpr()
        with self.client.post("/patienter/cpr-tjek", name="POST /patienter/cpr-tjek", data={"csrf_token": token, "cpr": cpr},
                              catch_response=True) as answer:
            if answer.status_code != 200 or answer.json().get("level") != "ok":
                answer.failure(f"{answer.status_code} {answer.text[:100]}")
        with self.client.post("/patienter/opret", name="POST /patienter/opret (GEM)", allow_redirects=False,
                              data={"csrf_token": token, "action": "save", "cpr": cpr,
                                    "name": random.choice(PATIENT_NAMES), "diagnosis_group": random.choice(("RA", "PsA", "axSpA")),
                                    "department_id": ACCOUNTS["board_department"]}, catch_response=True) as answer:
            created = _PATIENT_URL.search(answer.headers.get("Location", ""))
            if answer.status_code != 302 or not created:
                answer.failure(f"{answer.status_code}")
                return
        self.patients.append(created.group(1))
        self.page(f"/patienter/{created.group(1)}", "GET /patienter/[patient]", "oprettet")

    @task(2)
    def open_patient(self):
        if self.patients:
            self.page(f"/patienter/{random.choice(self.patients)}", "GET /patienter/[patient]")

    @task(2)
    def search_patients(self):
        form = self.page("/patienter/soeg", "GET /patienter/soeg")
        with self.client.post("/patienter/soeg", name="POST /patienter/soeg (by name)", catch_response=True,
                              data={"csrf_token": csrf(form), "kind": "name", "criterion": random.choice(PATIENT_NAMES).split()[1],
                                    "department_id": ""}) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}")
