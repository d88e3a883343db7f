"""A sliding-window rate limiter, and the rules that put it on sensitive routes.

Each rule counts the requests of one key (the client's IP address, or the signed-in user) in the
last ``window`` seconds: a request beyond ``limit`` gets 429 with Retry-After until the oldest
counted request leaves the window. Counts live in this gateway process (the gateway runs as one
process per instance); with several instances each enforces the limit on its own share.
"""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable

from servicekit.errors import TooManyRequests

KEYS = ("ip", "user")
_METHODS = {"*", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class SlidingWindow:
    """Remembers, per key, the times of the requests still inside the window."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count a request; 0 if allowed, else the seconds until one would be."""
        now = self.clock()
        with self._lock:
            times = self._hits.get(key)
            if times is None:
                if len(self._hits) >= self.max_keys:
                    self._forget_idle(now)
                times = self._hits[key] = deque()
            else:
                self._hits.move_to_end(key)
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return times[0] + self.window - now
            times.append(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        # Least recently used first: drop keys with nothing left in the window, then, if a flood
        # of distinct keys still overflows the table, the least recently seen ones.
        for key in [k for k, times in self._hits.items() if not times or times[-1] <= now - self.window]:
            del self._hits[key]
        while len(self._hits) >= self.max_keys:
            self._hits.popitem(last=False)


def _path_pattern(path: str) -> re.Pattern:
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with /")
    parts = path.rstrip("/").split("/")
    regex = ""
    for index, part in enumerate(parts[1:], start=1):
        if part == "**":
            if index != len(parts) - 1:
                raise ValueError(f"** may only end the path {path!r}")
            return re.compile("^" + regex + "(/.*)?$")
        regex += "/" + ("[^/]+" if part == "*" else re.escape(part))
    return re.compile("^" + regex + "/?$")


@dataclass(frozen=True)
class RateRule:
    method: str
    path: str
    limit: int
    window: float
    key: str
    pattern: re.Pattern = field(compare=False, repr=False, default=None)

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method == method) and self.pattern.match(path) is not None


def parse_rules(raw: str) -> tuple[RateRule, ...]:
    """'POST /api/identity/public/** 30/300 ip; ...' -> rules (ValueError if malformed)."""
    rules = []
    for text in (part.strip() for part in raw.split(";")):
        if not text:
            continue
        fields = text.split()
        if len(fields) != 4:
            raise ValueError(f"rule {text!r}: expected 'METHOD PATH COUNT/SECONDS ip|user'")
        method, path, rate, key = fields
        method = method.upper()
        if method not in _METHODS:
            raise ValueError(f"rule {text!r}: unknown method {method}")
        if key not in KEYS:
            raise ValueError(f"rule {text!r}: key must be ip or user")
        count, _, seconds = rate.partition("/")
        try:
            limit, window = int(count), float(seconds)
        except ValueError:
            raise ValueError(f"rule {text!r}: rate must be COUNT/SECONDS, e.g. 10/300") from None
        if limit <= 0 or window <= 0:
            raise ValueError(f"rule {text!r}: count and seconds must be above 0")
        rules.append(RateRule(method, path, limit, window, key, pattern=_path_pattern(path)))
    return tuple(rules)


class RateLimiter:
    """Applies every rule that matches a request, each with its own window.

    IP rules are checked before the token is verified (floods are turned away cheaply), user
    rules after, keyed by the token's subject.
    """

    def __init__(self, rules: tuple[RateRule, ...], *, clock: Callable[[], float] = time.monotonic):
        self._windows = [(rule, SlidingWindow(rule.limit, rule.window, clock=clock)) for rule in rules]

    def check(self, method: str, path: str, *, kind: str, key: str) -> None:
        """Count the request under every matching ``kind`` rule; TooManyRequests once over a limit."""
        for rule, window in self._windows:
            if rule.key != kind or not rule.matches(method, path):
                continue
            wait = window.hit(key)
            if wait > 0:
                error = TooManyRequests("Too many requests of this kind; try again later.")
                error.retry_after = max(1, int(wait + 0.999))
                raise error
