"""routing.diversion: Diversion (RFC 5806) and History-Info (RFC 7044/4458) headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.diversion import (
    call_diversions,
    format_diversion,
    parse_diversion,
    parse_history_info,
    reason_from_cause,
)
from routing.model import Diversion, DiversionReason
from tests.unit.routing_strategies import allowed_numbers

R = DiversionReason


# ------------------------------------------------------------------------------------------------
# Diversion


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            "<sip:6135550100@pbx.example.com>;reason=no-answer;counter=1;privacy=off",
            (Diversion("6135550100", R.NO_ANSWER),),
            id="one value",
        ),
        pytest.param(
            "<sip:6135550111@pbx.example.com>;reason=user-busy;counter=1,"
            "<sip:6135550100@pbx.example.com>;reason=unconditional;counter=1",
            (Diversion("6135550111", R.USER_BUSY), Diversion("6135550100", R.UNCONDITIONAL)),
            id="two values, most recent first",
        ),
        pytest.param(
            [
                "<sip:6135550122@b.example.com>;reason=deflection",
                "<sip:6135550111@a.example.com>;reason=follow-me, "
                "<sip:6135550100@a.example.com>;reason=do-not-disturb",
            ],
            (
                Diversion("6135550122", R.DEFLECTION),
                Diversion("6135550111", R.FOLLOW_ME),
                Diversion("6135550100", R.DO_NOT_DISTURB),
            ),
            id="several headers, in message order",
        ),
        pytest.param(
            '"Smith, John" <sip:+16135550100@carrier.example.com;user=phone>'
            ";reason=unconditional;screen=no;privacy=off;counter=1",
            (Diversion("6135550100", R.UNCONDITIONAL),),
            id="display name with a comma, E.164 user, user=phone",
        ),
        pytest.param(
            "Reception <sip:6135550100@10.0.0.1:5060;transport=udp>;privacy=off;"
            "reason=no-answer;counter=1;screen=no",
            (Diversion("6135550100", R.NO_ANSWER),),
            id="token display name, parameters in another order",
        ),
        pytest.param(
            "<tel:+1-613-555-0100>;reason=user-busy",
            (Diversion("6135550100", R.USER_BUSY),),
            id="tel URI",
        ),
        pytest.param(
            '<sip:6135550100@h>;reason="no-answer"',
            (Diversion("6135550100", R.NO_ANSWER),),
            id="quoted reason",
        ),
        pytest.param(
            "<sip:6135550100@h>;REASON=User-Busy",
            (Diversion("6135550100", R.USER_BUSY),),
            id="case of names and values",
        ),
        pytest.param(
            "sip:6135550100@h;reason=user-busy;counter=1",
            (Diversion("6135550100", R.USER_BUSY),),
            id="URI without brackets: the parameters are the header's",
        ),
        pytest.param(
            "<sip:6135550100@h>;reason=no-answer;counter=3",
            (Diversion("6135550100", R.NO_ANSWER),) * 3,
            id="counter=3 counts three diversions",
        ),
        pytest.param(
            "<sip:6135550100@h>;reason=time-of-day, <sip:6135550111@h>;reason=away,"
            "<sip:6135550122@h>;reason=vacation, <sip:6135550133@h>",
            (
                Diversion("6135550100", R.UNKNOWN),
                Diversion("6135550111", R.UNKNOWN),
                Diversion("6135550122", R.UNKNOWN),
                Diversion("6135550133", R.UNKNOWN),
            ),
            id="reasons relais has no member for, and no reason",
        ),
        pytest.param(
            "<sip:6135550100@h>;reason=out-of-service",
            (Diversion("6135550100", R.UNAVAILABLE),),
            id="out-of-service is unavailable",
        ),
        pytest.param(
            "<sip:alice@Example.COM>;reason=deflection",
            (Diversion("alice@example.com", R.DEFLECTION),),
            id="a URI without a number",
        ),
        pytest.param([], (), id="no header"),
    ],
)
def test_parse_diversion(headers: str | list[str], expected: tuple[Diversion, ...]) -> None:
    assert parse_diversion(headers) == expected


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "empty Diversion header"),
        ("  ", "empty Diversion header"),
        (
            "<sip:6135550100@h>;reason=no-answer,,<sip:6135550111@h>",
            "empty value in Diversion header "
            "'<sip:6135550100@h>;reason=no-answer,,<sip:6135550111@h>'",
        ),
        (
            "<sip:6135550100@h;reason=no-answer",
            "unbalanced '<' in Diversion header '<sip:6135550100@h;reason=no-answer'",
        ),
        (
            "sip:6135550100@h>;reason=no-answer",
            "unbalanced '>' in Diversion header 'sip:6135550100@h>;reason=no-answer'",
        ),
        (
            '"Smith <sip:6135550100@h>;reason=no-answer',
            "unterminated quoted string in Diversion header "
            "'\"Smith <sip:6135550100@h>;reason=no-answer'",
        ),
        ("<>;reason=no-answer", "no URI in Diversion value '<>;reason=no-answer'"),
        (
            "<http://example.com/6135550100>;reason=no-answer",
            "unsupported URI 'http://example.com/6135550100' in Diversion value: "
            "expected sip:, sips: or tel:",
        ),
        (
            "6135550100;reason=no-answer",
            "unsupported URI '6135550100' in Diversion value: expected sip:, sips: or tel:",
        ),
        (
            "<sip:6135550100@h> junk;reason=no-answer",
            "unexpected text after the URI in Diversion value "
            "'<sip:6135550100@h> junk;reason=no-answer'",
        ),
        (
            "Bad;Name <sip:6135550100@h>",
            "invalid display name in Diversion value 'Bad;Name <sip:6135550100@h>'",
        ),
        ("<sip:6135550100@h>;=x", "invalid parameter '=x' in Diversion header"),
        ("<sip:6135550100@h>;reason=", "invalid parameter 'reason=' in Diversion header"),
        ("<sip:6135550100@h>;counter=0", "invalid Diversion counter '0': expected 1 to 99"),
        ("<sip:6135550100@h>;counter=100", "invalid Diversion counter '100': expected 1 to 99"),
        ("<sip:6135550100@h>;counter=two", "invalid Diversion counter 'two': expected 1 to 99"),
    ],
)
def test_parse_diversion_refuses_garbage(header: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_diversion(header)
    assert str(info.value) == message


def test_format_diversion() -> None:
    d = Diversion("6135550100", R.NO_ANSWER)
    assert (
        format_diversion(d, "relais.example.com", 1)
        == "<sip:6135550100@relais.example.com>;reason=no-answer;counter=1;privacy=off"
    )
    assert format_diversion(Diversion("6135550100", R.FOLLOW_ME), "10.0.0.5:5070") == (
        "<sip:6135550100@10.0.0.5:5070>;reason=follow-me;counter=1;privacy=off"
    )


@pytest.mark.parametrize(
    ("diversion", "host", "counter", "message"),
    [
        (Diversion("alice@example.com"), "h", 1, "'alice@example.com' is not a line number"),
        (Diversion("6135550100"), "", 1, "invalid host ''"),
        (Diversion("6135550100"), "a b", 1, "invalid host 'a b'"),
        (Diversion("6135550100"), "h>;x", 1, "invalid host 'h>;x'"),
        (Diversion("6135550100"), "h", 0, "Diversion counter 0 is outside 1..99"),
        (Diversion("6135550100"), "h", 100, "Diversion counter 100 is outside 1..99"),
    ],
)
def test_format_diversion_refuses(
    diversion: Diversion, host: str, counter: int, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        format_diversion(diversion, host, counter)
    assert str(info.value) == message


@given(allowed_numbers, st.sampled_from(DiversionReason), st.integers(1, 99))
def test_format_then_parse_gives_the_diversion_back(
    line: str, reason: DiversionReason, counter: int
) -> None:
    header = format_diversion(Diversion(line, reason), "relais.example.com", counter)
    assert parse_diversion(header) == (Diversion(line, reason),) * counter


# ------------------------------------------------------------------------------------------------
# History-Info


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            "<sip:6135550100@pbx.example.com?Reason=SIP%3Bcause%3D486%3Btext%3D%22Busy%20Here%22>"
            ";index=1, <sip:*98@vm.example.com>;index=1.1;rc=1",
            (Diversion("6135550100", R.USER_BUSY),),
            id="escaped Reason in the diverting entry (RFC 7044)",
        ),
        pytest.param(
            "<sip:6135550100@pbx.example.com>;index=1,"
            "<sip:*98@vm.example.com;cause=408>;index=1.1;mp=1",
            (Diversion("6135550100", R.NO_ANSWER),),
            id="cause parameter in the new target (RFC 4458)",
        ),
        pytest.param(
            [
                "<sip:+16135550100@carrier.example.com;user=phone?Reason=SIP%3Bcause%3D408>"
                ";index=1",
                "<sip:*98@vm.example.com;cause=408>;index=1.1;mp=1",
            ],
            (Diversion("6135550100", R.NO_ANSWER),),
            id="both forms for one diversion, in two headers",
        ),
        pytest.param(
            "<sip:6135550100@pbx?Reason=SIP%3Bcause%3D487>;index=1,"
            "<sip:*98@vm;cause=408>;index=1.1;mp=1",
            (Diversion("6135550100", R.NO_ANSWER),),
            id="the cause parameter wins over the Reason",
        ),
        pytest.param(
            "<sip:6135550100@a.example.com>;index=1,"
            "<sip:6135550111@a.example.com;cause=302>;index=1.1;rc=1,"
            "<sip:*98@vm.example.com;cause=408>;index=1.1.1;rc=1.1",
            (Diversion("6135550111", R.NO_ANSWER), Diversion("6135550100", R.UNCONDITIONAL)),
            id="forwarded, then not answered: most recent first",
        ),
        pytest.param(
            "<sip:*98@vm.example.com;cause=408>;index=1.1.1;rc=1.1,"
            "<sip:6135550100@a.example.com>;index=1,"
            "<sip:6135550111@a.example.com;cause=302>;index=1.1;rc=1",
            (Diversion("6135550111", R.NO_ANSWER), Diversion("6135550100", R.UNCONDITIONAL)),
            id="entries out of order are sorted by index",
        ),
        pytest.param(
            "<sip:6135550100@a>;index=1,<sip:6135550100@10.0.0.7?Reason=SIP%3Bcause%3D408>"
            ";index=1.1;rc=1,<sip:*98@vm;cause=408>;index=1.2;mp=1",
            (Diversion("6135550100", R.NO_ANSWER),),
            id="the line and its contact diverting for one reason: one diversion",
        ),
        pytest.param(
            "<sip:6135550100@a>;index=1,<sip:*98@vm;cause=408>;index=2",
            (Diversion("6135550100", R.NO_ANSWER),),
            id="no rc/mp and no parent index: the entry before",
        ),
        pytest.param(
            "<sip:6135550100@pbx?Reason=Q.850%3Bcause%3D17>;index=1,<sip:*98@vm>;index=1.1",
            (Diversion("6135550100", R.USER_BUSY),),
            id="Q.850 cause 17 is user busy",
        ),
        pytest.param(
            "<sip:6135550100@pbx?Reason=SIP%3Bcause%3D480%2CQ.850%3Bcause%3D20>;index=1,"
            "<sip:*98@vm>;index=1.1",
            (Diversion("6135550100", R.DEFLECTION),),
            id="a SIP cause wins over a Q.850 one",
        ),
        pytest.param(
            "<sip:voicemail@vm.example.com;target=sip:%2B16135550100%40pbx.example.com"
            ";user=phone;cause=486>;index=1",
            (Diversion("6135550100", R.USER_BUSY),),
            id="RFC 4458 target parameter names the diverting line",
        ),
        pytest.param(
            "<tel:+16135550100>;index=1,<sip:*98@vm;cause=503>;index=1.1;mp=1",
            (Diversion("6135550100", R.UNAVAILABLE),),
            id="tel URI",
        ),
        pytest.param(
            "<sip:6135550100@a>;index=1,<sip:*98@vm>;index=1.1;rc=1",
            (),
            id="retargeted without a cause: no diversion",
        ),
        pytest.param(
            "<sip:*98@vm;cause=408>;index=1",
            (),
            id="a cause with nobody before it",
        ),
        pytest.param(
            "<sip:6135550100@pbx?Reason=SIP%3Btext%3D%22gone%22>;index=1,<sip:*98@vm>;index=1.1",
            (),
            id="a Reason without a cause",
        ),
        pytest.param(
            "<sip:alice@corp.example.com>;index=1,<sip:*98@vm;cause=486>;index=1.1;mp=1",
            (Diversion("alice@corp.example.com", R.USER_BUSY),),
            id="a diverting URI without a number",
        ),
    ],
)
def test_parse_history_info(headers: str | list[str], expected: tuple[Diversion, ...]) -> None:
    assert parse_history_info(headers) == expected


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "empty History-Info header"),
        (
            "<sip:6135550100@a>;index=1.a",
            "invalid History-Info index '1.a'",
        ),
        (
            "<sip:6135550100@a>;index=1,<sip:*98@vm;cause=busy>;index=1.1",
            "invalid cause 'busy' in History-Info",
        ),
        (
            "<sip:6135550100@a;index=1",
            "unbalanced '<' in History-Info header '<sip:6135550100@a;index=1'",
        ),
        (
            "<mailto:a@b>;index=1",
            "unsupported URI 'mailto:a@b' in History-Info value: expected sip:, sips: or tel:",
        ),
    ],
)
def test_parse_history_info_refuses_garbage(header: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_history_info(header)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (404, R.UNKNOWN),  # unknown / not available
        (486, R.USER_BUSY),  # user busy
        (408, R.NO_ANSWER),  # no reply
        (302, R.UNCONDITIONAL),  # unconditional
        (487, R.DEFLECTION),  # deflection during alerting
        (480, R.DEFLECTION),  # deflection immediate response
        (503, R.UNAVAILABLE),  # mobile subscriber not reachable
        (600, R.UNKNOWN),
        (500, R.UNKNOWN),
    ],
)
def test_rfc_4458_causes(cause: int, reason: DiversionReason) -> None:
    assert reason_from_cause(cause) is reason
    header = f"<sip:6135550100@a>;index=1,<sip:*98@vm;cause={cause}>;index=1.1;mp=1"
    assert parse_history_info(header) == (Diversion("6135550100", reason),)


HISTORY = "<sip:6135550100@a>;index=1,<sip:*98@vm;cause=486>;index=1.1;mp=1"


def test_call_diversions_prefers_the_diversion_header() -> None:
    diversion = "<sip:6135550111@h>;reason=no-answer"
    assert call_diversions(diversion, HISTORY) == (Diversion("6135550111", R.NO_ANSWER),)
    assert call_diversions([], HISTORY) == (Diversion("6135550100", R.USER_BUSY),)
    assert call_diversions([], []) == ()
