import pytest

from gateway.ratelimit import RateLimiter, SlidingWindow, parse_rules
from servicekit.errors import TooManyRequests


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_sliding_window_lets_requests_in_as_old_ones_leave():
    clock = Clock()
    window = SlidingWindow(3, 10.0, clock=clock)
    assert [window.hit("a") for _ in range(3)] == [0, 0, 0]
    assert window.hit("a") == pytest.approx(10.0)
    assert window.hit("b") == 0  # keys are counted apart
    clock.now += 4
    assert window.hit("a") == pytest.approx(6.0)  # refused requests are not counted
    clock.now += 6.01
    assert window.hit("a") == 0
    assert window.hit("a") == 0
    assert window.hit("a") == 0
    assert window.hit("a") > 0


def test_idle_keys_are_forgotten_when_the_table_is_full():
    clock = Clock()
    window = SlidingWindow(1, 1.0, max_keys=3, clock=clock)
    for key in "abc":
        window.hit(key)
    clock.now += 2
    window.hit("d")
    assert set(window._hits) == {"d"}


def test_rules_parse_and_match():
    rules = parse_rules("POST /api/identity/password-resets/** 5/300 ip; * /api/identity/users/*/unlock 2/60 user")
    reset, unlock = rules
    assert (reset.method, reset.limit, reset.window, reset.key) == ("POST", 5, 300.0, "ip")
    assert reset.matches("POST", "/api/identity/password-resets")
    assert reset.matches("POST", "/api/identity/password-resets/abc/verify")
    assert not reset.matches("GET", "/api/identity/password-resets")
    assert not reset.matches("POST", "/api/identity/password-resets-other")
    assert unlock.matches("DELETE", "/api/identity/users/42/unlock")
    assert not unlock.matches("POST", "/api/identity/users/42/43/unlock")


@pytest.mark.parametrize("text", ["GET /x", "FETCH /x 1/1 ip", "GET x 1/1 ip", "GET /x 1/1 host",
                                  "GET /x 0/1 ip", "GET /x ten/1 ip", "GET /**/x 1/1 ip"])
def test_malformed_rules_are_refused(text):
    with pytest.raises(ValueError):
        parse_rules(text)


def test_limiter_keys_by_kind():
    clock = Clock()
    limiter = RateLimiter(parse_rules("GET /api/identity/me 2/60 user; GET /api/identity/** 3/60 ip"), clock=clock)
    for _ in range(2):
        limiter.check("GET", "/api/identity/me", kind="user", key="alice")
    with pytest.raises(TooManyRequests) as raised:
        limiter.check("GET", "/api/identity/me", kind="user", key="alice")
    assert raised.value.retry_after == 60
    limiter.check("GET", "/api/identity/me", kind="user", key="bob")
    for _ in range(3):
        limiter.check("GET", "/api/identity/departments", kind="ip", key="10.0.0.1")
    with pytest.raises(TooManyRequests):
        limiter.check("GET", "/api/identity/me", kind="ip", key="10.0.0.1")
    limiter.check("GET", "/api/patients/regions", kind="ip", key="10.0.0.1")  # no rule
