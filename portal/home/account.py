"""The account around the pages: name and numbers, feedback, usage, contacts to pick from."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from portal.auth.services import Auth
from portal.errors import Problems
from portal.i18n import Msg
from store.models import Account, Contact, Device, Feedback
from store.session import Store

logger = logging.getLogger(__name__)

MAX_FEEDBACK = 4000


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(max_length=20000)


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=400)


class UsageOut(BaseModel):
    used_seconds: float
    limit_seconds: int
    percent: int
    warning: bool = Field(description="true from 90 % of the limit")


@dataclass(frozen=True)
class LineView:
    number: str
    is_primary: bool
    devices: tuple[str, ...]


@dataclass(frozen=True)
class AccountView:
    name: str
    timezone: str
    lines: tuple[LineView, ...]


def account_view(store: Store, auth: Auth) -> AccountView:
    with store.read() as s:
        account = s.get(Account, auth.account_id)
        assert account is not None
        devices = s.execute(
            select(Device.line_number, Device.username, Device.domain).where(
                Device.line_number.in_([ln.number for ln in auth.lines])
            )
        ).all()
        return AccountView(
            name=account.display_name,
            timezone=account.timezone,
            lines=tuple(
                LineView(
                    number=ln.number,
                    is_primary=ln.is_primary,
                    devices=tuple(f"{u}@{d}" for n, u, d in devices if n == ln.number),
                )
                for ln in auth.lines
            ),
        )


def rename(store: Store, auth: Auth, name: str) -> None:
    problems = Problems()
    clean = " ".join(name.split())
    if not clean:
        problems.add("name", "required", Msg("Enter your name."))
    elif len(clean) > 120:
        problems.add("name", "too-long", Msg("The name can have at most 120 characters."))
    problems.check()
    with store.transaction() as s:
        account = s.get(Account, auth.account_id)
        assert account is not None
        account.display_name = clean


def send_feedback(store: Store, auth: Auth, line: str, body: str) -> int:
    problems = Problems()
    text = body.strip()
    if not text:
        problems.add("body", "required", Msg("Write your comments first."))
    elif len(text) > MAX_FEEDBACK:
        problems.add(
            "body",
            "too-long",
            Msg("Feedback can have at most %(max)s characters.", max=MAX_FEEDBACK),
        )
    problems.check()
    with store.transaction() as s:
        row = Feedback(account_id=auth.account_id, line_number=line, body=text)
        s.add(row)
        s.flush()
        fid = row.id
    logger.info("feedback %s from account %s", fid, auth.account_id)
    return fid


@dataclass(frozen=True)
class ContactChoice:
    """A contact as the number pickers show it (with each of its numbers)."""

    id: int
    name: str
    numbers: tuple[tuple[str, str], ...]  # (kind, number)


PHONE_KINDS = (
    ("business_phone", Msg("business")),
    ("mobile_phone", Msg("mobile")),
    ("home_phone", Msg("home")),
    ("other_phone", Msg("other")),
)


def contact_choices(store: Store, auth: Auth, limit: int = 2000) -> list[ContactChoice]:
    with store.read() as s:
        rows = s.scalars(
            select(Contact)
            .where(Contact.account_id == auth.account_id)
            .order_by(func.lower(Contact.last_name), func.lower(Contact.first_name), Contact.id)
            .limit(limit)
        ).all()
        out = []
        for c in rows:
            name = " ".join(p for p in (c.first_name, c.last_name) if p) or c.company or c.nickname
            nums = tuple(
                (kind, value) for kind, _label in PHONE_KINDS if (value := getattr(c, kind).strip())
            )
            if nums:
                out.append(ContactChoice(id=c.id, name=name, numbers=nums))
        return out
