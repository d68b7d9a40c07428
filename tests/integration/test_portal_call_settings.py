"""Call settings through the API and the pages (SPEC S2/S3/S8): what is saved is what
store.repository.line_settings() gives the switch; bad input is refused and nothing changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from routing.model import (
    ACCOUNT_PHONE,
    FallbackAction,
    IncomingMode,
    PhoneState,
    RingEntry,
    RingTable,
)
from store import repository
from store.models import Account, ForwardingNumber, OutboxEvent
from store.session import Store
from tests.support.portal import (
    A_NUMBER,
    A_SECOND,
    PortalEnv,
    accounts_db,
    add_accounts,
    bearer,
    build,
    env,
    page_csrf,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]

PATH = f"/api/v1/lines/{A_NUMBER}/call-settings"

FULL: dict[str, Any] = {
    "phone_state": "available",
    "incoming_mode": "sequential",
    "forward_all_to": None,
    "ring_table": [
        {"number": "account", "cells": [20, 10, None], "allow_remote_forwarding": False},
        {"number": "(819) 555-0142", "cells": [None, 15, 30], "allow_remote_forwarding": True},
        {"number": "613-555-0177", "cells": [20, None, 30]},
    ],
    "no_answer_action": "number",
    "no_answer_to": "613 555 0199",
    "no_answer_timeout": 36,
    "busy_action": "voicemail",
    "unavailable_forwarding": True,
    "unavailable_to": "+1 613 555 0188",
    "selective_forwarding": True,
    "selective_forward_to": "6135550166",
    "forward_list": ["613 555 0111", "4165550122"],
    "selective_rejection": True,
    "reject_list": ["9055550133", "416-555-0122"],
    "anonymous_rejection": True,
    "forwarding_numbers": [{"number": "613 555 0199", "label": "Cellulaire"}],
}


@pytest.fixture
def api(env: PortalEnv) -> TestClient:
    return env.client(headers=bearer(sign_in(env.client())))


def outbox_count(store: Store) -> int:
    with store.read() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.topic.not_like("%/mailbox/accessed"))
            )
            or 0
        )


def test_defaults(api: TestClient) -> None:
    body = api.get(PATH).json()
    assert body == {
        "line": A_NUMBER,
        "ucn_enabled": True,
        "phone_state": "available",
        "incoming_mode": "ring_account",
        "forward_all_to": None,
        "ring_table": [],
        "no_answer_action": "voicemail",
        "no_answer_to": None,
        "no_answer_timeout": 24,
        "busy_action": "voicemail",
        "busy_to": None,
        "unavailable_forwarding": False,
        "unavailable_to": None,
        "selective_forwarding": False,
        "selective_forward_to": None,
        "forward_list": [],
        "selective_rejection": False,
        "reject_list": [],
        "anonymous_rejection": False,
        "forwarding_numbers": [],
    }


def test_everything_saved_is_what_the_switch_reads(tmp_path: Path, store: Store) -> None:
    """On SQLite and PostgreSQL: one PUT, then line_settings() is exactly that."""
    add_accounts(store)
    env = build(tmp_path, store)
    api = env.client(headers=bearer(sign_in(env.client())))
    r = api.put(PATH, json=FULL)
    assert r.status_code == 200, r.text
    with store.read() as s:
        ls = repository.line_settings(s, A_NUMBER)
        assert ls is not None
        events = s.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic.not_like("%/mailbox/accessed"))
            .order_by(OutboxEvent.id)
        ).all()
    assert ls.phone_state is PhoneState.AVAILABLE
    assert ls.incoming_mode is IncomingMode.SEQUENTIAL
    assert ls.ring_table == RingTable(
        (
            RingEntry(ACCOUNT_PHONE, (20, 10, None)),
            RingEntry("8195550142", (None, 15, 30), allow_remote_forwarding=True),
            RingEntry("6135550177", (20, None, 30)),
        )
    )
    assert (ls.no_answer_action, ls.no_answer_to, ls.no_answer_timeout) == (
        FallbackAction.NUMBER,
        "6135550199",
        36,
    )
    assert ls.busy_action is FallbackAction.VOICEMAIL
    assert (ls.unavailable_forwarding, ls.unavailable_to) == (True, "6135550188")
    assert (ls.selective_forwarding, ls.selective_forward_to) == (True, "6135550166")
    assert ls.forward_list == frozenset({"6135550111", "4165550122"})
    assert ls.reject_list == frozenset({"9055550133", "4165550122"})
    assert ls.selective_rejection and ls.anonymous_rejection
    # The settings.changed event was written with them.
    assert [e.topic for e in events] == [f"relais/{A_NUMBER}/settings/changed"]
    assert events[0].payload["section"] == "call"
    # Saved and temporary forwarding numbers.
    body = api.get(PATH).json()
    assert body["forwarding_numbers"] == [
        {"number": "6135550199", "label": "Cellulaire", "temporary": False},
        {"number": "6135550188", "label": "", "temporary": True},
        {"number": "6135550166", "label": "", "temporary": True},
    ]
    # Temporary numbers go when no longer in use; saved ones stay.
    r = api.put(PATH, json={"unavailable_forwarding": False, "unavailable_to": None})
    assert [f["number"] for f in r.json()["forwarding_numbers"]] == ["6135550199", "6135550166"]
    env.store.dispose()


def test_fields_left_out_keep_their_value(api: TestClient) -> None:
    api.put(PATH, json={"anonymous_rejection": True, "no_answer_timeout": 30})
    body = api.put(PATH, json={"phone_state": "dnd"}).json()
    assert (body["phone_state"], body["anonymous_rejection"], body["no_answer_timeout"]) == (
        "dnd",
        True,
        30,
    )


@pytest.mark.parametrize(
    ("change", "field", "error", "detail"),
    [
        (
            {"incoming_mode": "forward_all", "forward_all_to": "613-555-CALL"},
            "forward_all_to",
            "invalid-number",
            "613-555-CALL is not a phone number: enter 10 digits, such as 613 555 0123.",
        ),
        (
            {"incoming_mode": "forward_all", "forward_all_to": "555-01"},
            "forward_all_to",
            "destination-refused",
            "55501: enter a 10-digit number or an extension of 4 digits.",
        ),
        (
            {"incoming_mode": "forward_all", "forward_all_to": None},
            "forward_all_to",
            "required",
            "Choose the number calls go to.",
        ),
        (
            {"incoming_mode": "forward_all", "forward_all_to": "1-900-555-0199"},
            "forward_all_to",
            "destination-refused",
            "9005550199: calls cannot be sent to premium-rate numbers (such as 900 and 976).",
        ),
        (
            {"no_answer_action": "number", "no_answer_to": "011 44 20 7946 0958"},
            "no_answer_to",
            "destination-refused",
            "011442079460958: international numbers are not allowed on your account.",
        ),
        (
            {"busy_action": "number", "busy_to": "911"},
            "busy_to",
            "destination-refused",
            "911: service codes such as 911 or 411 cannot be used.",
        ),
        (
            {
                "incoming_mode": "sequential",
                "ring_table": [{"number": "account", "cells": [10, 10, 10, 10, 10, 10, 10]}],
            },
            "ring_table.0.cells.6",
            "too-many-columns",
            "The table has at most 6 columns.",
        ),
        (
            {"incoming_mode": "sequential", "ring_table": [{"number": "account", "cells": [4]}]},
            "ring_table.0.cells.0",
            "cell-out-of-range",
            "A ring time is 5 to 120 seconds.",
        ),
        (
            {
                "incoming_mode": "simultaneous",
                "ring_table": [{"number": "account", "cells": [20, 121]}],
            },
            "ring_table.0.cells.1",
            "cell-out-of-range",
            "A ring time is 5 to 120 seconds.",
        ),
        (
            {
                "incoming_mode": "sequential",
                "ring_table": [
                    {"number": "account", "cells": [20]},
                    {"number": "6135550142", "cells": [None]},
                ],
            },
            "ring_table",
            "ring-table-invalid",
            "6135550142 has no ring time: give it one or remove it.",
        ),
        (
            {"incoming_mode": "sequential", "ring_table": []},
            "ring_table",
            "ring-table-invalid",
            "Add at least one number to the table.",
        ),
        (
            {
                "ring_table": [
                    {"number": "account", "cells": [20]},
                    {"number": "613 555 0142", "cells": [20]},
                    {"number": "6135550142", "cells": [10]},
                ]
            },
            "ring_table.2.number",
            "duplicate-number",
            "6135550142 is already in the table.",
        ),
        (
            {
                "ring_table": [{"number": "account", "cells": [20]}]
                + [{"number": f"61355502{i:02d}", "cells": [20]} for i in range(11)]
            },
            "ring_table",
            "too-many-rows",
            "The table can hold your account phone and 10 other numbers.",
        ),
        (
            {"ring_table": [{"number": "976 555 0100", "cells": [20]}]},
            "ring_table.0.number",
            "destination-refused",
            "9765550100: calls cannot be sent to premium-rate numbers (such as 900 and 976).",
        ),
        (
            {"no_answer_timeout": 121},
            "no_answer_timeout",
            "timeout-out-of-range",
            "Enter 5 to 120 seconds.",
        ),
        (
            {"forward_list": ["6135550111", "not a number"]},
            "forward_list",
            "invalid-number",
            "not a number is not a phone number: enter 10 digits, such as 613 555 0123.",
        ),
        (
            {"selective_forwarding": True, "selective_forward_to": ""},
            "selective_forward_to",
            "required",
            "Choose the number calls go to.",
        ),
        (
            {"forwarding_numbers": [{"number": "900 555 0100"}]},
            "forwarding_numbers.0.number",
            "destination-refused",
            "9005550100: calls cannot be sent to premium-rate numbers (such as 900 and 976).",
        ),
        (
            {"no_answer_action": "number", "no_answer_to": "1 809 555 0123"},
            "no_answer_to",
            "destination-refused",
            "8095550123: calls cannot be sent to numbers outside Canada and the United States "
            "(the Dominican Republic) on your account.",
        ),
        (
            {"incoming_mode": "forward_all", "forward_all_to": "(876) 555-0100"},
            "forward_all_to",
            "destination-refused",
            "8765550100: calls cannot be sent to numbers outside Canada and the United States "
            "(Jamaica) on your account.",
        ),
        (
            {"busy_action": "number", "busy_to": A_NUMBER},
            "busy_to",
            "forward-loop",
            f"{A_NUMBER} is this line: calls cannot be forwarded to it.",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(
    env: PortalEnv, api: TestClient, change: dict[str, Any], field: str, error: str, detail: str
) -> None:
    before = api.get(PATH).json()
    events = outbox_count(env.store)
    r = api.put(PATH, json=change, headers={"Accept-Language": "en"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid-input"
    assert {"field": field, "error": error, "detail": detail} in body["fields"], body
    assert api.get(PATH).json() == before
    assert outbox_count(env.store) == events


def test_problems_are_in_french_by_default(api: TestClient) -> None:
    r = api.put(PATH, json={"no_answer_timeout": 2})
    assert r.json()["fields"][0]["detail"] == "Entrez de 5 à 120 secondes."


def test_several_problems_at_once(api: TestClient) -> None:
    r = api.put(PATH, json={"no_answer_timeout": 2, "busy_action": "number", "busy_to": "12"})
    fields = {f["field"] for f in r.json()["fields"]}
    assert fields == {"no_answer_timeout", "busy_to"}


def test_types_are_checked_by_the_schema(api: TestClient) -> None:
    r = api.put(PATH, json={"incoming_mode": "ring_everyone"})
    assert r.status_code == 422
    assert r.json()["error"] == "invalid-request"
    assert r.json()["fields"][0]["field"] == "incoming_mode"
    assert api.put(PATH, json={"nonsense": 1}).status_code == 422


def test_ucn_needs_the_account_to_have_it(env: PortalEnv, api: TestClient) -> None:
    with env.store.transaction() as s:
        for account in s.scalars(select(Account)):
            account.ucn_enabled = False
    fresh = env.client(headers=bearer(sign_in(env.client())))
    assert fresh.get(PATH).json()["ucn_enabled"] is False
    r = fresh.put(
        PATH,
        json={
            "incoming_mode": "simultaneous",
            "ring_table": [{"number": "account", "cells": [20]}],
        },
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert r.json()["fields"][0] == {
        "field": "incoming_mode",
        "error": "ucn-not-enabled",
        "detail": "The universal contact number is not enabled on your account.",
    }
    # Pages use the session cookie only, never a bearer token.
    assert fresh.get("/home", follow_redirects=False).headers["location"] == "/login"
    assert fresh.get("/login").status_code == 200


def test_international_numbers_when_the_account_allows_them(
    env: PortalEnv, api: TestClient
) -> None:
    with env.store.transaction() as s:
        for account in s.scalars(select(Account)):
            account.allow_international = True
    r = api.put(PATH, json={"no_answer_action": "number", "no_answer_to": "+44 20 7946 0958"})
    assert r.status_code == 200, r.text
    assert r.json()["no_answer_to"] == "011442079460958"


def test_nanp_numbers_abroad_when_the_account_allows_them(env: PortalEnv, api: TestClient) -> None:
    with env.store.transaction() as s:
        for account in s.scalars(select(Account)):
            account.allow_nanp_abroad = True
    r = api.put(PATH, json={"no_answer_action": "number", "no_answer_to": "1 284 555 0100"})
    assert r.status_code == 200, r.text
    assert r.json()["no_answer_to"] == "2845550100"
    with env.store.read() as s:  # what the switch reads at call time
        ls = repository.line_settings(s, A_NUMBER)
        assert ls is not None and ls.dial_plan.allow_nanp_abroad


def test_a_two_line_forwarding_loop_is_refused_at_save_time(
    env: PortalEnv, api: TestClient
) -> None:
    second = f"/api/v1/lines/{A_SECOND}/call-settings"
    r = api.put(second, json={"incoming_mode": "forward_all", "forward_all_to": A_NUMBER})
    assert r.status_code == 200, r.text
    before = api.get(PATH).json()
    r = api.put(
        PATH,
        json={"unavailable_forwarding": True, "unavailable_to": A_SECOND},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["fields"] == [
        {
            "field": "unavailable_to",
            "error": "forward-loop",
            "detail": f"{A_SECOND} forwards its calls back to this line: the calls would go "
            "round in a loop.",
        }
    ]
    assert api.get(PATH).json() == before
    # Once the other line stops forwarding here, the same change is accepted.
    api.put(second, json={"incoming_mode": "ring_account"})
    r = api.put(PATH, json={"unavailable_forwarding": True, "unavailable_to": A_SECOND})
    assert r.status_code == 200, r.text


def test_each_line_has_its_own_settings(env: PortalEnv, api: TestClient) -> None:
    api.put(f"/api/v1/lines/{A_SECOND}/call-settings", json={"phone_state": "dnd"})
    assert api.get(PATH).json()["phone_state"] == "available"
    with env.store.read() as s:
        second = repository.line_settings(s, A_SECOND)
        assert second is not None and second.phone_state is PhoneState.DND


# ------------------------------------------------------------------------------------------------
# Pages


def _home_form(csrf: str, **fields: str | list[str]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "csrf_token": csrf,
        "line": A_NUMBER,
        "phone_state": "available",
        "incoming_mode": "ring_account",
        "no_answer_timeout": "24",
        "no_answer_action": "voicemail",
        "busy_action": "voicemail",
        "ucn_rows": "0",
        "fwd_rows": "0",
    }
    base.update(fields)
    return base


def test_home_page_form_saves_and_shows_the_settings(env: PortalEnv) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    form = _home_form(
        csrf,
        phone_state="dnd",
        incoming_mode="sequential",
        ucn_rows="2",
        **{
            "ucn-0-number": "account",
            "ucn-0-cell-0": "20",
            "ucn-0-cell-1": "",
            "ucn-1-number": "819 555 0142",
            "ucn-1-cell-0": "",
            "ucn-1-cell-1": "25",
            "ucn-1-remote": "on",
            "ucn-1-confirm": "on",
            "no_answer_timeout": "30",
            "selective_rejection": "on",
            "reject_list": ["9055550133"],
            "reject_list_add": "416 555 0122, 514-555-0177",
            "fwd-new-number": "613 555 0199",
            "fwd-new-label": "Chalet",
        },
    )
    r = c.post("/home", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/home"
    with env.store.read() as s:
        ls = repository.line_settings(s, A_NUMBER)
        assert ls is not None
        saved = s.scalars(select(ForwardingNumber.number)).all()
    assert ls.phone_state is PhoneState.DND
    assert ls.ring_table == RingTable(
        (
            RingEntry("account", (20, None), confirm_answer=False),
            RingEntry("8195550142", (None, 25), True, confirm_answer=True),
        )
    )
    assert ls.reject_list == frozenset({"9055550133", "4165550122", "5145550177"})
    assert ls.no_answer_timeout == 30
    assert saved == ["6135550199"]
    page = c.get("/home")
    assert "Vos modifications sont enregistrées." in page.text
    assert 'name="ucn-1-cell-1" value="25"' in page.text
    assert 'value="9055550133"' in page.text
    # The flash message shows once.
    assert "Vos modifications sont enregistrées." not in c.get("/home").text


def test_home_page_refuses_bad_input_next_to_the_field(env: PortalEnv) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    before = outbox_count(env.store)
    form = _home_form(
        csrf,
        incoming_mode="sequential",
        ucn_rows="1",
        **{
            "ucn-0-number": "account",
            "ucn-0-cell-0": "200",
            "busy_action": "number",
            "busy_to": "1 900 555 0100",
        },
    )
    r = c.post("/home", data=form)
    assert r.status_code == 422
    assert 'data-field="ring_table.0.cells.0"' in r.text
    assert "Un délai de sonnerie est de 5 à 120 secondes." in r.text
    assert 'data-field="busy_to"' in r.text
    assert "les appels ne peuvent pas être renvoyés vers des numéros surtaxés" in r.text
    assert 'value="200"' in r.text  # what was typed is shown again
    assert outbox_count(env.store) == before
    with env.store.read() as s:
        ls = repository.line_settings(s, A_NUMBER)
        assert ls is not None and ls.incoming_mode is IncomingMode.RING_ACCOUNT


def test_home_form_for_a_line_of_another_account_is_refused(env: PortalEnv) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    r = c.post("/home", data=_home_form(csrf, line="8195550100", phone_state="dnd"))
    assert r.status_code == 404


def test_call_settings_page_checkboxes(env: PortalEnv) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    page = c.get("/call-settings")
    assert "Réglages des appels" in page.text
    r = c.post(
        "/call-settings",
        data={
            "csrf_token": page_csrf(page.text),
            "line": A_NUMBER,
            "dnd": "on",
            "anonymous_rejection": "on",
            "unavailable_forwarding": "on",
            "unavailable_to": "613 555 0188",
            "selective_forward_to": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with env.store.read() as s:
        ls = repository.line_settings(s, A_NUMBER)
    assert ls is not None
    assert ls.phone_state is PhoneState.DND
    assert ls.anonymous_rejection and ls.unavailable_forwarding
    assert ls.unavailable_to == "6135550188"
    assert not ls.selective_rejection
    # Unchecking them turns them off again.
    r = c.post(
        "/call-settings",
        data={"csrf_token": csrf, "line": A_NUMBER, "unavailable_to": "613 555 0188"},
    )
    with env.store.read() as s:
        ls = repository.line_settings(s, A_NUMBER)
    assert ls is not None
    assert ls.phone_state is PhoneState.AVAILABLE and not ls.anonymous_rejection
    bad = c.post(
        "/call-settings",
        data={
            "csrf_token": csrf,
            "line": A_NUMBER,
            "unavailable_forwarding": "on",
            "unavailable_to": "",
        },
    )
    assert bad.status_code == 422
    assert 'data-field="unavailable_to"' in bad.text


# ------------------------------------------------------------------------------------------------
# Answer confirmation ("press 1") per ring-table row


def test_confirm_answer_is_on_by_default_for_outside_numbers_only(
    env: PortalEnv, api: TestClient
) -> None:
    r = api.put(
        PATH,
        json={
            "incoming_mode": "simultaneous",
            "ring_table": [
                {"number": "account", "cells": [20]},
                {"number": "819 555 0142", "cells": [20]},
                {"number": A_SECOND, "cells": [20]},  # a line of the installation
                {"number": "613 555 0177", "cells": [20], "confirm_answer": False},
                {"number": "613 555 0178", "cells": [20], "confirm_answer": True},
            ],
        },
    )
    assert r.status_code == 200, r.text
    shown = [(row["number"], row["confirm_answer"]) for row in api.get(PATH).json()["ring_table"]]
    assert shown == [
        ("account", False),
        ("8195550142", True),
        (A_SECOND, False),
        ("6135550177", False),
        ("6135550178", True),
    ]
    with env.store.read() as s:
        ls = repository.line_settings(s, A_NUMBER)
    assert ls is not None
    assert [e.confirm_answer for e in ls.ring_table.entries] == [None, None, None, False, True]
    # Saving another setting keeps the defaults as defaults.
    assert api.put(PATH, json={"phone_state": "dnd"}).status_code == 200
    with env.store.read() as s:
        ls = repository.line_settings(s, A_NUMBER)
    assert ls is not None
    assert [e.confirm_answer for e in ls.ring_table.entries] == [None, None, None, False, True]


def test_confirm_answer_must_be_a_boolean(api: TestClient) -> None:
    r = api.put(
        PATH,
        json={"ring_table": [{"number": "8195550142", "cells": [20], "confirm_answer": "maybe"}]},
    )
    assert r.status_code == 422
    assert api.get(PATH).json()["ring_table"] == []


def test_home_form_press_1_boxes(env: PortalEnv) -> None:
    """A row shown by the page saves its box as ticked or not; a row added on the page keeps the
    default while its box stays ticked."""
    c = env.client()
    csrf = sign_in_page(c)
    form = _home_form(
        csrf,
        incoming_mode="simultaneous",
        ucn_rows="4",
        **{
            "ucn-0-number": "account",
            "ucn-0-cell-0": "20",
            "ucn-1-number": "8195550142",
            "ucn-1-cell-0": "20",
            "ucn-1-confirm": "on",
            "ucn-2-number": "6135550177",
            "ucn-2-cell-0": "20",
            "ucn-2-confirm-new": "1",
            "ucn-2-confirm": "on",
            "ucn-3-number": "6135550178",
            "ucn-3-cell-0": "20",
            "ucn-3-confirm-new": "1",
        },
    )
    r = c.post("/home", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    with env.store.read() as s:
        ls = repository.line_settings(s, A_NUMBER)
    assert ls is not None
    assert [e.confirm_answer for e in ls.ring_table.entries] == [False, True, None, False]
    page = c.get("/home").text
    for i, ticked in enumerate([False, True, True, False]):
        box = page.split(f'name="ucn-{i}-confirm"', 1)[1].split(">", 1)[0]
        assert (" checked" in box) is ticked
    assert "Faire le 1" in page
