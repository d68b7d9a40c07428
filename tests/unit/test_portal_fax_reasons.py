"""portal.messages.sending: why a forward as fax has not gone through, in the reader's language
(the switch reports in its own words: "fax failed: <T.30 text> (1 page(s) sent)", "busy", ...)."""

from __future__ import annotations

from typing import Any

import pytest

from portal.messages.sending import _fax_reason
from store.models import NotificationJob


def job(*results: dict[str, Any]) -> NotificationJob:
    return NotificationJob(kind="fax", target="6135550199", data={"results": list(results)})


FAILED_FAX = {"result": "failed", "detail": "fax failed: Disconnected (1 page(s) sent)", "pages": 1}


@pytest.mark.parametrize(
    ("results", "state", "fr", "en"),
    [
        ((), "sent", "", ""),
        ((), "failed", "L'appel n'a pas pu être fait.", "The call could not be made."),
        ((), "pending", "", ""),
        (
            ({"result": "busy"},),
            "cancelled",
            "Annulé avant l'envoi.",
            "Cancelled before it went through.",
        ),
        (
            ({"result": "busy"},),
            "pending",
            "Le numéro était occupé. Un autre essai suivra.",
            "The number was busy. Another attempt will be made.",
        ),
        (
            (FAILED_FAX,),
            "failed",
            "Le télécopieur qui a répondu n'a pas reçu toute la télécopie. 1 page est passée.",
            "The fax machine that answered did not take the whole fax. 1 page went through.",
        ),
        (
            ({"result": "failed", "detail": "no fax exchange"},),
            "failed",
            "On a répondu à l'appel, mais pas un télécopieur.",
            "The call was answered, but not by a fax machine.",
        ),
        (
            ({"result": "failed", "detail": "486 Busy Here"},),
            "failed",
            "L'appel a échoué.",
            "The call failed.",
        ),
    ],
)
def test_a_fax_send_says_why_in_both_languages(
    results: tuple[dict[str, Any], ...], state: str, fr: str, en: str
) -> None:
    assert _fax_reason(job(*results), state, "fr") == fr
    assert _fax_reason(job(*results), state, "en") == en
