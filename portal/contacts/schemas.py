"""JSON shapes of the contacts API (SPEC S8, S10, S14)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ContactIn(BaseModel):
    """A contact as the API takes it; PUT replaces every field (missing fields become empty)."""

    model_config = ConfigDict(extra="forbid")

    first_name: str = Field(default="", max_length=400)
    last_name: str = Field(default="", max_length=400)
    nickname: str = Field(default="", max_length=400)
    company: str = Field(default="", max_length=400)
    business_phone: str = Field(default="", max_length=200)
    home_phone: str = Field(default="", max_length=200)
    mobile_phone: str = Field(default="", max_length=200)
    fax: str = Field(default="", max_length=200)
    other_phone: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=400)
    email2: str = Field(default="", max_length=400)
    email3: str = Field(default="", max_length=400)
    notes: str = Field(default="", max_length=20000)


class ContactOut(ContactIn):
    id: int
    name: str = Field(description="first and last name, else company, else nickname")
    groups: list[int] = Field(default_factory=list, description="ids of its groups")


class ContactsOut(BaseModel):
    contacts: list[ContactOut]
    total: int = Field(description="contacts in the whole list (matching q), every page together")
    offset: int
    limit: int


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=400)
    phone_code: str = Field(max_length=40, description="1 to 9 digits, unique in the account")
    members: list[int] = Field(default_factory=list, max_length=10000)


class GroupOut(GroupIn):
    id: int


class GroupsOut(BaseModel):
    groups: list[GroupOut]


class RejectedLine(BaseModel):
    line: int
    error: str
    detail: str


class ChangedContact(BaseModel):
    line: int = Field(description="the file's line that changed it")
    contact_id: int
    name: str
    fields: list[str] = Field(description="the fields the import changed")
    labels: list[str] = Field(description="the same, in the reader's language")


class ImportReport(BaseModel):
    format: Literal["outlook", "vista", "native"]
    on_conflict: Literal["overwrite", "duplicate", "ignore"]
    created: int
    updated: int = Field(description="matched contacts overwritten by the file (conflicts)")
    merged: int = Field(description="matched contacts that only received missing details")
    ignored: int = Field(description="conflicting rows left out (on_conflict=ignore)")
    unchanged: int = Field(description="rows identical to their contact")
    rejected: list[RejectedLine]
    changes: list[ChangedContact] = Field(
        default_factory=list, description="each existing contact changed, with its fields"
    )
