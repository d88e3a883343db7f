"""What the abuse suite (issue 10 part 5, tests/e2e/test_abuse_*.py) shares: users with a phone,
a browser-like HTTP session logged in to the web UI through Keycloak's real login form (no
Chromium: hundreds of requests must stay cheap), and the SMS the stack sent."""
from __future__ import annotations

import html
import random
import re
import uuid

import requests

from servicekit.testing import wait_for

from .conftest import invented_username

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page_text: str) -> str:
    return CSRF.search(page_text).group(1)


def invented_phone() -> str:
    """An invented Danish mobile number in E.164."""
    return f"+45{random.randint(20_000_000, 29_999_999)}"


def make_user(runtime, directory, *, phone: str | None = None, first_name: str = "Test", last_name: str = "Bruger",
              memberships=None, departments=frozenset()):
    """(identity user id, username, password) of a new user made by identity's own provision_user."""
    from identity.domain.users import NewUser
    from identity.service.users import provision_user

    username = invented_username("abuse")
    password = f"Pw-{uuid.uuid4().hex[:16]}"
    with runtime.uow() as uow:
        user_id = provision_user(uow, directory, NewUser(
            username=username, first_name=first_name, last_name=last_name, email=f"{username}@example.org",
            phone=phone, memberships=dict(memberships or {}), departments=departments), password=password)
    return user_id, username, password


def sms_to(stack_sms, msisdn: str) -> list[str]:
    return [request.body["message"] for request in list(stack_sms.requests)
            if request.body.get("recipients") == [{"msisdn": msisdn}]]


def code_sent_to(stack_sms, msisdn: str, already: int) -> str:
    wait_for(lambda: len(sms_to(stack_sms, msisdn)) > already, timeout=30, message="the SMS with the code")
    return re.search(r"\b(\d{6})\b", sms_to(stack_sms, msisdn)[-1]).group(1)


def lock_out(keycloak_realm, username: str) -> None:
    """Keycloak's real brute-force lock: wrong passwords faster than its quick-login check allows."""
    for _ in range(6):
        keycloak_realm.password_grant(username, "forkert-kode-123")
    user_id = keycloak_realm.admin.get_user_id(username)
    wait_for(lambda: keycloak_realm.admin.get_bruteforce_detection_status(user_id)["disabled"], timeout=10,
             message="the user locked")


class WebSession:
    """A browser as far as HTTP goes: cookies for the web UI and for Keycloak."""

    def __init__(self, web: str):
        self.web, self.http = web, requests.Session()

    def _local_cookies(self) -> None:
        # Keycloak marks its cookies Secure; browsers send those to http://127.0.0.1 (a secure
        # context), requests does not.
        for cookie in self.http.cookies:
            cookie.secure = False

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.web + path, allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, data=None, **kwargs) -> requests.Response:
        return self.http.post(self.web + path, data=data, allow_redirects=False, timeout=30, **kwargs)

    def token(self, path: str) -> str:
        return csrf_token(self.http.get(self.web + path, timeout=30).text)

    def submit(self, page: str, action: str | None = None, **fields) -> requests.Response:
        """Fill the form of ``page`` (its CSRF token) and POST it to ``action`` (default: the page)."""
        return self.post(action or page, data={"csrf_token": self.token(page), **fields})

    def log_in(self, username: str, password: str, next_path: str | None = None) -> requests.Response:
        """Through /login and Keycloak's own form; the web UI's answer to Keycloak's redirect back."""
        start = self.get("/login", params={"next": next_path} if next_path is not None else None)
        assert start.status_code == 302, start.text[:300]
        form = self.http.get(start.headers["Location"], allow_redirects=False, timeout=30)
        self._local_cookies()
        if form.status_code == 302:  # already signed in at Keycloak (single sign-on)
            return self.http.get(form.headers["Location"], allow_redirects=False, timeout=30)
        action = html.unescape(re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', form.text).group(1))
        answer = self.http.post(action, data={"username": username, "password": password, "credentialId": ""},
                                allow_redirects=False, timeout=30)
        self._local_cookies()
        assert answer.status_code == 302, f"Keycloak did not log {username} in: {answer.status_code}"
        return self.http.get(answer.headers["Location"], allow_redirects=False, timeout=30)
