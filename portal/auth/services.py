"""Sign-in, sessions, sign-out, password and PIN changes (SPEC S8, S9).

Rules of this file:
- Sign-in answers the same way, after the same work, whether the number is a mailbox or not:
  one argon2 verification per attempt (a dummy hash for unknown numbers and locked accounts),
  the same error, and unknown numbers lock after the same failures as real ones.
- Every attempt counts against the client address's rate limit; failures count against the
  account (portal_security.login_lockout_failures) and lock it for login_lockout_minutes.
- Sign-in always creates a new session (and ends the one the client came with); a password
  change ends every session of the account and gives the client a new one.
- Secrets are never logged: log lines carry the account id and the client address only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from events.events import MailboxAccessed, SettingsChanged
from events.outbox import enqueue
from portal.errors import Problems, Refused
from portal.i18n import Msg
from portal.security import SignInGuard, new_token, token_hash
from store import credentials
from store.models import Account, Line, Mailbox, PortalSession
from store.session import Store

logger = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class LineRef:
    number: str
    is_primary: bool


@dataclass(frozen=True)
class Auth:
    """A signed-in session, as every request sees it."""

    account_id: int
    token_hash: str
    csrf_token: str
    via: str  # cookie | bearer
    display_name: str
    lines: tuple[LineRef, ...]
    ucn_enabled: bool
    timezone: str
    password_change_required: bool = False
    """The password fails the current rule: the portal asks for a new one before anything."""
    language: str = ""
    """The account's language (the API answers in it when the request names none)."""

    @property
    def primary(self) -> LineRef:
        return next((ln for ln in self.lines if ln.is_primary), self.lines[0])

    def line(self, number: str) -> LineRef | None:
        return next((ln for ln in self.lines if ln.number == number), None)


@dataclass(frozen=True)
class SignedIn:
    token: str
    csrf_token: str
    expires_at: datetime
    account_id: int


@dataclass(frozen=True)
class SessionPolicy:
    lockout_failures: int
    lockout: timedelta
    idle: timedelta
    lifetime: timedelta


@cache
def _dummy_hash() -> str:
    """An argon2id hash with the real parameters, verified when there is no real one."""
    return credentials.hash_secret("relais dummy password for unknown mailboxes")


def warm_up() -> None:
    """Compute the dummy hash at start-up rather than during the first sign-in."""
    _dummy_hash()


BAD_CREDENTIALS = Msg("The number or the password is incorrect.")


def _locked(until: datetime, now: datetime) -> Refused:
    wait = max(1, int((until - now).total_seconds() + 0.999))
    minutes = max(1, (wait + 59) // 60)
    return Refused(
        429,
        "account-locked",
        Msg("Too many failed sign-in attempts. Try again in %(minutes)s minutes.", minutes=minutes),
        headers={"Retry-After": str(wait)},
    )


def clean_number(raw: str) -> str:
    """The digits of a typed mailbox number: '(613) 555-0100' and '1 613 555 0100' work."""
    digits = re.sub(r"[\s().+-]", "", raw or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def sign_in(
    store: Store,
    policy: SessionPolicy,
    guard: SignInGuard,
    *,
    number: str,
    password: str,
    client: str,
    now: datetime,
    replaces: str | None = None,
) -> SignedIn:
    """Check the credentials and open a session; raises Refused (401 or 429).

    `replaces` is the token hash of the session the client came with: it ends on success.
    """
    wait = guard.limiter.hit(client, now)
    if wait is not None:
        credentials.verify_secret(_dummy_hash(), password)
        logger.warning("sign-in refused: rate limit for client %s", client)
        raise Refused(
            429,
            "rate-limited",
            Msg("Too many sign-in attempts from your address. Wait a minute and try again."),
            headers={"Retry-After": str(wait)},
        )
    digits = clean_number(number)
    account_id: int | None = None
    secret_hash = _dummy_hash()
    locked_until: datetime | None = None
    if re.fullmatch(r"\d{10}", digits):
        with store.read() as s:
            account = s.scalar(select(Account).join(Line).where(Line.number == digits))
            if account is not None:
                account_id = account.id
                secret_hash = account.password_hash
                locked_until = account.locked_until

    if account_id is None:
        credentials.verify_secret(secret_hash, password)
        until = guard.ghosts.locked_until(digits, now) or guard.ghosts.fail(digits, now)
        if until is not None:
            raise _locked(until, now)
        logger.info("sign-in failed (client %s)", client)
        raise Refused(401, "bad-credentials", BAD_CREDENTIALS)

    if locked_until is not None and locked_until > now:
        credentials.verify_secret(_dummy_hash(), password)
        logger.info("sign-in refused: account %s is locked (client %s)", account_id, client)
        raise _locked(locked_until, now)

    good = credentials.verify_secret(secret_hash, password)
    lock: Refused | None = None
    with store.transaction() as s:
        account = s.get(Account, account_id)
        assert account is not None
        if account.locked_until is not None and account.locked_until <= now:
            account.locked_until = None
            account.failed_logins = 0
        if not good:
            account.failed_logins += 1
            if account.failed_logins >= policy.lockout_failures:
                account.failed_logins = 0
                account.locked_until = now + policy.lockout
                lock = _locked(account.locked_until, now)
        else:
            account.failed_logins = 0
            account.locked_until = None
            if credentials.needs_rehash(account.password_hash):
                account.password_hash = credentials.hash_secret(password)
            if not meets_password_rule(password, [ln.number for ln in account.lines]):
                # Chosen under an older rule: a new one is asked for before anything else.
                account.password_change_required = True
            if replaces:
                s.execute(delete(PortalSession).where(PortalSession.token_hash == replaces))
            s.execute(delete(PortalSession).where(PortalSession.expires_at <= now))
            signed = _open_session(s, account_id, client, now, policy)
            # The owner can now reach every mailbox of the account: outdial notifications set
            # to "stop on mailbox access" stop (notify.outdial.on_access).
            for ln in account.lines:
                enqueue(s, MailboxAccessed(line=ln.number, via="portal", at=now))
    if lock is not None:
        logger.warning("account %s locked after failed sign-ins (client %s)", account_id, client)
        raise lock
    if not good:
        logger.info("sign-in failed for account %s (client %s)", account_id, client)
        raise Refused(401, "bad-credentials", BAD_CREDENTIALS)
    logger.info("account %s signed in (client %s)", account_id, client)
    return signed


def meets_password_rule(password: str, numbers: list[str]) -> bool:
    try:
        credentials.validate_password(password, numbers)
    except ValueError:
        return False
    return True


def _open_session(
    s: Session, account_id: int, client: str, now: datetime, policy: SessionPolicy
) -> SignedIn:
    token = new_token()
    csrf = new_token()[:43]
    expires = now + policy.lifetime
    s.add(
        PortalSession(
            token_hash=token_hash(token),
            account_id=account_id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            client_address=client[:64],
        )
    )
    return SignedIn(token=token, csrf_token=csrf, expires_at=expires, account_id=account_id)


def resolve(
    store: Store, policy: SessionPolicy, token: str, via: str, now: datetime
) -> Auth | None:
    """The session behind `token`, or None when it does not exist or has expired."""
    if not token or len(token) > 200:
        return None
    key = token_hash(token)
    with store.read() as s:
        row = s.get(PortalSession, key)
        if row is None:
            return None
        expired = row.expires_at <= now or now - row.last_seen_at > policy.idle
        stale = now - row.last_seen_at > TOUCH_EVERY
        if not expired:
            account = s.get(Account, row.account_id)
            assert account is not None
            auth = Auth(
                account_id=account.id,
                token_hash=key,
                csrf_token=row.csrf_token,
                via=via,
                display_name=account.display_name,
                lines=tuple(LineRef(ln.number, ln.is_primary) for ln in account.lines),
                ucn_enabled=account.ucn_enabled,
                timezone=account.timezone,
                password_change_required=account.password_change_required,
                language=account.language,
            )
    if expired:
        with store.transaction() as s:
            s.execute(delete(PortalSession).where(PortalSession.token_hash == key))
        return None
    if stale:
        with store.transaction() as s:
            row = s.get(PortalSession, key)
            if row is not None:
                row.last_seen_at = now
    return auth


def sign_out(store: Store, auth: Auth) -> None:
    with store.transaction() as s:
        s.execute(delete(PortalSession).where(PortalSession.token_hash == auth.token_hash))
    logger.info("account %s signed out", auth.account_id)


# ------------------------------------------------------------------------------------------------
# Password and PINs


_RULES: dict[str, Msg] = {
    f"the password must have at least {credentials.PASSWORD_MIN} characters": Msg(
        "The password must have at least %(n)s characters.", n=credentials.PASSWORD_MIN
    ),
    f"the password must have at most {credentials.PASSWORD_MAX} characters": Msg(
        "The password must have at most %(n)s characters.", n=credentials.PASSWORD_MAX
    ),
    "the password cannot be the mailbox number": Msg("The password cannot be a mailbox number."),
    "the password cannot be one character repeated or digits only": Msg(
        "The password cannot be one character repeated or digits only."
    ),
    "the password is one of the most common passwords": Msg(
        "This password is one of the most common passwords: choose another."
    ),
    "the PIN must contain digits only": Msg("The PIN must contain digits only."),
    f"the PIN must have {credentials.PIN_MIN} to {credentials.PIN_MAX} digits": Msg(
        "The PIN must have %(min)s to %(max)s digits.",
        min=credentials.PIN_MIN,
        max=credentials.PIN_MAX,
    ),
    "the PIN cannot repeat a single digit": Msg("The PIN cannot repeat a single digit."),
    "the PIN cannot be a run of ascending or descending digits": Msg(
        "The PIN cannot be a run of ascending or descending digits (1234, 9876)."
    ),
    "the PIN cannot be the mailbox number or its last digits": Msg(
        "The PIN cannot be a mailbox number or its last digits."
    ),
}


def rule_message(error: ValueError) -> Msg:
    """The translatable text of a store.credentials rule (S9)."""
    text = str(error)
    return _RULES.get(text, Msg("%(reason)s", reason=text))


def _check_secret(
    problems: Problems, field: str, value: str, numbers: list[str], *, pin: bool
) -> None:
    try:
        if pin:
            credentials.validate_account_pin(value, numbers)
        else:
            credentials.validate_password(value, numbers)
    except ValueError as exc:
        problems.add(field, "pin-rule" if pin else "password-rule", rule_message(exc))


def _confirm(problems: Problems, new: str, confirm: str) -> None:
    if new != confirm and not problems.has("new"):
        problems.add("confirm", "confirm-mismatch", Msg("The two entries do not match."))


def change_password(
    store: Store,
    policy: SessionPolicy,
    auth: Auth,
    *,
    current: str,
    new: str,
    confirm: str,
    client: str,
    now: datetime,
) -> SignedIn:
    """Change the portal password; every session of the account ends, the caller gets a new one."""
    problems = Problems()
    numbers = [ln.number for ln in auth.lines]
    if not current:
        problems.add("current", "required", Msg("Enter your current password."))
    _check_secret(problems, "new", new, numbers, pin=False)
    _confirm(problems, new, confirm)
    if not problems and new == current:
        problems.add(
            "new", "same-password", Msg("The new password must differ from the current one.")
        )
    with store.read() as s:
        account = s.get(Account, auth.account_id)
        assert account is not None
        current_hash = account.password_hash
    if current and not credentials.verify_secret(current_hash, current):
        problems.add(
            "current", "current-password-incorrect", Msg("The current password is incorrect.")
        )
    problems.check()
    new_hash = credentials.hash_secret(new)
    with store.transaction() as s:
        account = s.get(Account, auth.account_id)
        assert account is not None
        account.password_hash = new_hash
        account.password_changed_at = now
        account.password_change_required = False
        s.execute(delete(PortalSession).where(PortalSession.account_id == auth.account_id))
        signed = _open_session(s, auth.account_id, client, now, policy)
        enqueue(s, SettingsChanged(line=auth.primary.number, section="password"))
    logger.info("account %s changed its password; its other sessions ended", auth.account_id)
    return signed


def change_services_pin(store: Store, auth: Auth, *, new: str, confirm: str) -> None:
    problems = Problems()
    _check_secret(problems, "new", new, [ln.number for ln in auth.lines], pin=True)
    _confirm(problems, new, confirm)
    problems.check()
    pin_hash = credentials.hash_secret(new)
    with store.transaction() as s:
        account = s.get(Account, auth.account_id)
        assert account is not None
        account.services_pin_hash = pin_hash
        enqueue(s, SettingsChanged(line=auth.primary.number, section="pin"))
    logger.info("account %s changed its call-services PIN", auth.account_id)


def change_voicemail_pin(
    store: Store, auth: Auth, line: LineRef, *, new: str, confirm: str
) -> None:
    """Change the voicemail PIN of `line`'s mailbox; a PIN lockout of the mailbox ends."""
    problems = Problems()
    numbers = [line.number] + [ln.number for ln in auth.lines if ln.number != line.number]
    _check_secret(problems, "new", new, numbers, pin=True)
    _confirm(problems, new, confirm)
    problems.check()
    pin_hash = credentials.hash_secret(new)
    with store.transaction() as s:
        mailbox = s.get(Mailbox, line.number)
        if mailbox is None:
            raise Refused(404, "mailbox-not-found", Msg("This line has no mailbox."))
        mailbox.pin_hash = pin_hash
        mailbox.pin_failures = 0
        mailbox.pin_locked_until = None
        enqueue(s, SettingsChanged(line=line.number, section="pin"))
    logger.info("account %s changed the voicemail PIN of line %s", auth.account_id, line.number)
