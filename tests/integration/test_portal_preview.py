""" "What happens if ... calls now?" (SPEC S3 through routing.engine.decide, shown in French and
English from the plan's steps, rules and legs)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from store.models import Device
from tests.support.portal import (
    A_NUMBER,
    PortalEnv,
    accounts_db,
    bearer,
    env,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]

SETTINGS = f"/api/v1/lines/{A_NUMBER}/call-settings"
PREVIEW = f"/api/v1/lines/{A_NUMBER}/preview"


@pytest.fixture
def api(env: PortalEnv) -> TestClient:
    with env.store.transaction() as s:  # the account phone has a device that can ring
        from store import repository

        repository.add_device(
            s, number=A_NUMBER, username="desk100", password="sip-secret-1", domain="relais.local"
        )
    return env.client(headers=bearer(sign_in(env.client())))


def test_default_line_rings_then_voicemail(api: TestClient) -> None:
    en = api.get(PREVIEW, params={"caller": "819 555 0142"}, headers={"Accept-Language": "en"})
    assert en.status_code == 200, en.text
    body = en.json()
    assert body["caller"] == "8195550142"
    assert body["reason"] == "ring_account"
    assert body["summary"] == "Your account phone rings for 24 seconds."
    plan = body["plan"]
    assert plan["kind"] == "ring"
    assert plan["legs"] == ["your account phone: from 0 s to 24 s"]
    branches = {b["when"]: b for b in plan["then"]}
    assert branches["no_answer"]["text"] == "If nobody answers"
    assert branches["no_answer"]["step"]["text"] == (
        "The caller reaches your voicemail and can leave a message."
    )
    assert branches["busy"]["step"]["text"] == (
        "The caller reaches your voicemail and hears your busy greeting."
    )
    fr = api.get(PREVIEW, params={"caller": "819 555 0142"}).json()
    assert fr["summary"] == "Votre téléphone de compte sonne pendant 24 secondes."
    assert fr["plan"]["legs"] == ["votre téléphone de compte\u202f: de 0 s à 24 s"]


def test_reject_list_and_anonymous_rejection(api: TestClient) -> None:
    api.put(
        SETTINGS,
        json={
            "selective_rejection": True,
            "reject_list": ["8195550142"],
            "anonymous_rejection": True,
        },
    )
    rejected = api.get(PREVIEW, params={"caller": "+1 819 555 0142"}).json()
    assert rejected["reason"] == "reject_list"
    assert rejected["summary"] == (
        "(819) 555-0142 est sur votre liste de rejet\u202f: l'appel est refusé, sans message."
    )
    assert rejected["plan"]["kind"] == "reject"
    assert rejected["plan"]["text"] == (
        "L'appelant est sur votre liste de rejet. "
        "L'appel est décliné\u202f; l'appelant ne peut pas laisser de message."
    )
    assert "SIP" not in rejected["plan"]["text"] and "603" not in rejected["plan"]["text"]
    anonymous = api.get(
        PREVIEW, params={"anonymous": "true"}, headers={"Accept-Language": "en"}
    ).json()
    assert anonymous["caller"] is None
    assert anonymous["reason"] == "anonymous_rejected"
    assert "calls from hidden numbers are not accepted" in anonymous["plan"]["text"]


def test_dnd_and_forward_list(api: TestClient) -> None:
    api.put(
        SETTINGS,
        json={
            "selective_forwarding": True,
            "selective_forward_to": "6135550199",
            "forward_list": ["4165550122"],
        },
    )
    fwd = api.get(
        PREVIEW, params={"caller": "416-555-0122"}, headers={"Accept-Language": "en"}
    ).json()
    assert fwd["reason"] == "selective_forward"
    assert fwd["plan"]["kind"] == "forward"
    assert fwd["plan"]["text"] == (
        "The call is forwarded to (613) 555-0199, which rings for up to 30 seconds."
    )
    assert fwd["plan"]["then"][0]["when"] == "failure"
    api.put(SETTINGS, json={"phone_state": "dnd"})
    dnd = api.get(PREVIEW, params={"caller": "416-555-0122"}).json()
    assert dnd["reason"] == "dnd"  # selective forwarding does not apply under DND
    assert dnd["plan"]["kind"] == "voicemail"
    assert dnd["summary"] == (
        "Ne pas déranger est activé\u202f: l'appel va directement à votre messagerie vocale."
    )


def test_sequential_table_legs(api: TestClient) -> None:
    r = api.put(
        SETTINGS,
        json={
            "incoming_mode": "sequential",
            "ring_table": [
                {"number": "account", "cells": [20, 10]},
                {"number": "8195550142", "cells": [None, 15], "allow_remote_forwarding": True},
            ],
            "no_answer_action": "number",
            "no_answer_to": "6135550199",
        },
    )
    assert r.status_code == 200, r.text
    body = api.get(
        PREVIEW, params={"caller": "4165550122"}, headers={"Accept-Language": "en"}
    ).json()
    assert body["reason"] == "sequential"
    assert body["summary"] == "Your phones ring one after another, 35 seconds in all."
    assert body["plan"]["legs"] == [
        "your account phone: from 0 s to 30 s",
        "(819) 555-0142: from 20 s to 35 s (remote forwarding allowed)"
        " (whoever answers must press 1)",
    ]
    no_answer = next(b for b in body["plan"]["then"] if b["when"] == "no_answer")["step"]
    assert no_answer["kind"] == "forward"
    assert no_answer["then"][0]["step"]["kind"] == "voicemail"


def test_forward_all_leaves_the_service(api: TestClient) -> None:
    api.put(SETTINGS, json={"incoming_mode": "forward_all", "forward_all_to": "6135550199"})
    body = api.get(
        PREVIEW, params={"caller": "4165550122"}, headers={"Accept-Language": "en"}
    ).json()
    assert body["reason"] == "forward_all"
    assert body["summary"] == "All your calls are forwarded to (613) 555-0199."
    assert body["plan"]["then"] == []  # no fallback: the call leaves relais


def test_no_device_goes_to_voicemail(env: PortalEnv, api: TestClient) -> None:
    with env.store.transaction() as s:
        s.execute(delete(Device))
    body = api.get(
        PREVIEW, params={"caller": "4165550122"}, headers={"Accept-Language": "en"}
    ).json()
    assert body["reason"] == "no_devices"
    assert body["plan"]["kind"] == "voicemail"
    assert body["plan"]["text"].startswith("No phone is registered on your line.")


def test_bad_caller_is_a_field_error(api: TestClient) -> None:
    r = api.get(PREVIEW, params={"caller": "pizza"})
    assert r.status_code == 422
    assert r.json()["fields"][0]["field"] == "caller"
    r = api.get(PREVIEW)
    assert r.json()["fields"][0]["error"] == "required"


def test_preview_on_the_home_page(env: PortalEnv, api: TestClient) -> None:
    c = env.client()
    sign_in_page(c)
    fragment = c.get("/home/preview", params={"caller": "819 555 0142"})
    assert fragment.status_code == 200
    assert 'data-reason="ring_account"' in fragment.text
    assert "Votre téléphone de compte sonne pendant 24 secondes." in fragment.text
    page = c.get("/home", params={"anonymous": "on"})  # works without script too
    assert 'data-testid="preview-result"' in page.text
    bad = c.get("/home/preview", params={"caller": "pizza"})
    assert bad.status_code == 422
    assert 'data-field="caller"' in bad.text


def test_the_preview_says_which_legs_must_press_1(api: TestClient) -> None:
    r = api.put(
        SETTINGS,
        json={
            "incoming_mode": "simultaneous",
            "ring_table": [
                {"number": "account", "cells": [20]},
                {"number": "8195550142", "cells": [20]},
                {"number": "8195550143", "cells": [20], "confirm_answer": False},
            ],
        },
    )
    assert r.status_code == 200, r.text
    legs = api.get(
        PREVIEW, params={"caller": "4165550122"}, headers={"Accept-Language": "fr"}
    ).json()["plan"]["legs"]
    marked = [leg.endswith("(la personne qui répond doit faire le 1)") for leg in legs]
    assert marked == [False, True, False]
