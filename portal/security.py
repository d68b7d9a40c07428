"""Tokens, CSRF, the per-address rate limit and the lockout of unknown numbers (SPEC S9).

Rules of this file:
- A session token is 256 random bits; only its SHA-256 hash is stored (PortalSession).
- Forms of a signed-in session carry the session's CSRF token; the sign-in form (no session
  yet) carries a signed double-submit token bound to the `relais_pre` cookie.
- Counters live in memory, in the one portal process: the rate limit per client address, and
  the failure counts of numbers that are not mailboxes, so that an unknown number locks after
  the same number of failures as a real one (no user enumeration by behaviour).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SESSION_COOKIE = "relais_session"
PRE_COOKIE = "relais_pre"
LINE_COOKIE = "relais_line"
FLASH_COOKIE = "relais_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
PRE_TOKEN_MAX_AGE = 2 * 3600


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens (False when either is missing)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


def load_secret(configured: str, storage_root: Path) -> bytes:
    """The configured portal secret, or one generated once under the storage root (0600)."""
    if configured:
        return configured.encode()
    path = storage_root / "portal.secret"
    if path.is_file():
        return path.read_bytes().strip()
    storage_root.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, value)
    finally:
        os.close(fd)
    return value


class PreSessionCsrf:
    """Signed double-submit token for forms shown before sign-in."""

    def __init__(self, secret: bytes) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="relais-pre-csrf")

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(24)

    def token_for(self, cookie: str) -> str:
        return self._signer.dumps(cookie)

    def valid(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        try:
            value = self._signer.loads(token, max_age=PRE_TOKEN_MAX_AGE)
        except (BadSignature, SignatureExpired):
            return False
        return isinstance(value, str) and same(value, cookie)


class RateLimiter:
    """At most `limit` events per key in any window of `window` (sliding log)."""

    def __init__(self, limit: int, window: timedelta, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, now: datetime) -> int | None:
        """Record one event; None when allowed, else the seconds until the next is allowed."""
        with self._lock:
            log = self._events.pop(key, None) or deque()
            while log and now - log[0] >= self.window:
                log.popleft()
            self._events[key] = log
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
            if len(log) >= self.limit:
                wait = self.window - (now - log[0])
                return max(1, int(wait.total_seconds() + 0.999))
            log.append(now)
            return None


class GhostLockouts:
    """Failure counts and lockouts of numbers that are not mailboxes, kept like real ones."""

    def __init__(self, failures: int, lock_for: timedelta, max_keys: int = 100_000) -> None:
        self.failures = failures
        self.lock_for = lock_for
        self.max_keys = max_keys
        self._state: OrderedDict[str, tuple[int, datetime | None]] = OrderedDict()
        self._lock = threading.Lock()

    def locked_until(self, number: str, now: datetime) -> datetime | None:
        with self._lock:
            _count, until = self._state.get(number, (0, None))
            if until is not None and until <= now:
                self._state.pop(number, None)
                return None
            return until

    def fail(self, number: str, now: datetime) -> datetime | None:
        """Count a failure; the end of the lockout when this failure locks the number."""
        with self._lock:
            count, until = self._state.pop(number, (0, None))
            if until is not None and until <= now:
                count, until = 0, None
            count += 1
            if count >= self.failures:
                until = now + self.lock_for
                self._state[number] = (0, until)
            else:
                self._state[number] = (count, None)
                until = None
            while len(self._state) > self.max_keys:
                self._state.popitem(last=False)
            return until


class SignInGuard:
    """The in-memory side of sign-in protection: rate limit per address, unknown numbers."""

    def __init__(self, rate_per_minute: int, failures: int, lock_for: timedelta) -> None:
        self.limiter = RateLimiter(rate_per_minute, timedelta(minutes=1))
        self.ghosts = GhostLockouts(failures, lock_for)
