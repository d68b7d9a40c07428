"""JSON shapes of the home page: call settings (SPEC S2/S3) and the routing preview."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PhoneStateName = Literal["available", "dnd"]
IncomingModeName = Literal["ring_account", "forward_all", "sequential", "simultaneous"]
FallbackName = Literal["voicemail", "number"]


class RingEntryIO(BaseModel):
    """One row of the UCN table: `account` for the line's own phone, or a number."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(max_length=40)
    cells: list[int | None] = Field(
        default_factory=list,
        max_length=32,
        description="ring seconds per stage (5..120) or null; at most 6 stages",
    )
    allow_remote_forwarding: bool = False
    confirm_answer: bool | None = Field(
        default=None,
        description="whoever answers must press 1 to take the call; null: the default, on for "
        "numbers outside the installation, off for the account phone and local lines "
        "(responses always give the value in force)",
    )


class ForwardingNumberIO(BaseModel):
    """A saved forwarding number; `temporary` ones are destinations in use that are not saved
    (computed by the service: temporary entries of a PUT are ignored)."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(max_length=40)
    label: str = Field(default="", max_length=60)
    temporary: bool = False


class CallSettingsOut(BaseModel):
    line: str
    ucn_enabled: bool
    phone_state: PhoneStateName
    incoming_mode: IncomingModeName
    forward_all_to: str | None
    ring_table: list[RingEntryIO]
    no_answer_action: FallbackName
    no_answer_to: str | None
    no_answer_timeout: int
    busy_action: FallbackName
    busy_to: str | None
    unavailable_forwarding: bool
    unavailable_to: str | None
    selective_forwarding: bool
    selective_forward_to: str | None
    forward_list: list[str]
    selective_rejection: bool
    reject_list: list[str]
    anonymous_rejection: bool
    forwarding_numbers: list[ForwardingNumberIO]


class CallSettingsIn(BaseModel):
    """Fields left out keep their current value; the whole result is checked before saving."""

    model_config = ConfigDict(extra="forbid")

    phone_state: PhoneStateName | None = None
    incoming_mode: IncomingModeName | None = None
    forward_all_to: str | None = Field(default=None, max_length=40)
    ring_table: list[RingEntryIO] | None = Field(default=None, max_length=64)
    no_answer_action: FallbackName | None = None
    no_answer_to: str | None = Field(default=None, max_length=40)
    no_answer_timeout: int | None = None
    busy_action: FallbackName | None = None
    busy_to: str | None = Field(default=None, max_length=40)
    unavailable_forwarding: bool | None = None
    unavailable_to: str | None = Field(default=None, max_length=40)
    selective_forwarding: bool | None = None
    selective_forward_to: str | None = Field(default=None, max_length=40)
    forward_list: list[str] | None = Field(default=None, max_length=5000)
    selective_rejection: bool | None = None
    reject_list: list[str] | None = Field(default=None, max_length=5000)
    anonymous_rejection: bool | None = None
    forwarding_numbers: list[ForwardingNumberIO] | None = Field(default=None, max_length=100)


class PreviewStep(BaseModel):
    kind: Literal["reject", "voicemail", "retrieval", "ring", "forward"]
    rule: str
    text: str = Field(description="the step in words, in the language of the request")
    legs: list[str] = Field(default_factory=list, description="ring legs in words")
    then: list[PreviewBranch] = Field(default_factory=list)


class PreviewBranch(BaseModel):
    when: Literal["busy", "no_answer", "unavailable", "failure"]
    text: str
    step: PreviewStep | None


class PreviewOut(BaseModel):
    line: str
    caller: str | None = Field(description="normalised caller number; null when anonymous")
    reason: str = Field(description="the rule of S3 that decided (routing.model.Rule)")
    summary: str = Field(description="the decision in one sentence")
    plan: PreviewStep


PreviewStep.model_rebuild()
