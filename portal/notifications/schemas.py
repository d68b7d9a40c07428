"""JSON shapes of the notification settings (SPEC S2, S7), held by the primary line."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MessageType = Literal["all_faxes", "urgent_voice", "all_voice"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimeRange(_In):
    """Days of the week (0 = Monday .. 6 = Sunday) and a time range, in the account's zone."""

    days: list[int] = Field(max_length=7)
    start: str = Field(max_length=5, description="HH:MM")
    end: str = Field(max_length=5, description="HH:MM, after start (24:00 = end of day)")


class MwiTarget(_In):
    number: str = Field(max_length=40)
    types: list[MessageType] = Field(max_length=3)


class EmailTarget(_In):
    address: str = Field(max_length=300)
    types: list[MessageType] = Field(max_length=3)


class MwiSection(_In):
    enabled: bool = True
    targets: list[MwiTarget] = Field(default_factory=list, max_length=50)


class EmailSection(_In):
    enabled: bool = False
    targets: list[EmailTarget] = Field(default_factory=list, max_length=50)


class PagerSection(_In):
    enabled: bool = False
    schedule: list[TimeRange] = Field(default_factory=list, max_length=50)
    address: str = Field(default="", max_length=300)
    number: str = Field(default="", max_length=40)
    callback_number: str = Field(default="", max_length=40)
    types: list[MessageType] = Field(default_factory=list, max_length=3)


class OutdialSection(_In):
    enabled: bool = False
    schedule: list[TimeRange] = Field(default_factory=list, max_length=50)
    number: str = Field(default="", max_length=40)
    types: list[MessageType] = Field(default_factory=list, max_length=3)
    delay_normal_minutes: int = 0
    delay_urgent_minutes: int = 0
    max_attempts: int = 3
    retry_minutes: int = 15
    stop_on_answer: bool = True
    stop_on_access: bool = True


class OverrideSection(OutdialSection):
    end_date: date | None = Field(
        default=None, description="last day the override applies (account's time zone)"
    )


class NotificationsOut(BaseModel):
    line: str
    held_by: str = Field(description="the primary line, which holds these settings")
    mwi: MwiSection
    email: EmailSection
    pager: PagerSection
    outdial: OutdialSection
    override: OverrideSection


class MwiPatch(_In):
    enabled: bool | None = None
    targets: list[MwiTarget] | None = Field(default=None, max_length=50)


class EmailPatch(_In):
    enabled: bool | None = None
    targets: list[EmailTarget] | None = Field(default=None, max_length=50)


class PagerPatch(_In):
    enabled: bool | None = None
    schedule: list[TimeRange] | None = Field(default=None, max_length=50)
    address: str | None = Field(default=None, max_length=300)
    number: str | None = Field(default=None, max_length=40)
    callback_number: str | None = Field(default=None, max_length=40)
    types: list[MessageType] | None = Field(default=None, max_length=3)


class OutdialPatch(_In):
    enabled: bool | None = None
    schedule: list[TimeRange] | None = Field(default=None, max_length=50)
    number: str | None = Field(default=None, max_length=40)
    types: list[MessageType] | None = Field(default=None, max_length=3)
    delay_normal_minutes: int | None = None
    delay_urgent_minutes: int | None = None
    max_attempts: int | None = None
    retry_minutes: int | None = None
    stop_on_answer: bool | None = None
    stop_on_access: bool | None = None


class OverridePatch(OutdialPatch):
    end_date: date | None = None


class NotificationsIn(_In):
    """Sections left out keep their value; inside a section, fields left out keep theirs."""

    mwi: MwiPatch | None = None
    email: EmailPatch | None = None
    pager: PagerPatch | None = None
    outdial: OutdialPatch | None = None
    override: OverridePatch | None = None
