"""JSON shapes of sign-in, sessions, account, password and PIN changes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionIn(_In):
    number: str = Field(max_length=32, description="10-digit mailbox number")
    password: str = Field(max_length=1024)


class LineOut(BaseModel):
    number: str
    primary: bool
    display: str = Field(description="the number as people write it: (613) 555-0100")


class AccountOut(BaseModel):
    name: str
    timezone: str
    ucn_enabled: bool
    lines: list[LineOut]


class SessionOut(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    csrf_token: str = Field(description="X-CSRF-Token header for cookie-authenticated calls")
    expires_at: datetime
    account: AccountOut


class LinesOut(BaseModel):
    lines: list[LineOut]


class PasswordIn(_In):
    current: str = Field(max_length=1024)
    new: str = Field(max_length=1024)
    confirm: str = Field(max_length=1024)


class PinIn(_In):
    new: str = Field(max_length=32)
    confirm: str = Field(max_length=32)
