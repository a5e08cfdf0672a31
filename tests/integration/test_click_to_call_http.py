"""Click to call over real sockets: the confirm page places nothing, only its same-origin POST calls (fake AMI)."""

import http.client
import logging
import re
from urllib.parse import urlencode

import pytest

from agent_screen_harness import Screen
from fake_ami import FakeAMI
from itflow_bridge.calls.originate import Originator, originate_headers
from itflow_bridge.screen.click_to_call import ClickToCall, call_url
from itflow_bridge.screen.rate_limit import RateLimit

DIAL_USER = "itflow-bridge-dial"
DIAL_SECRET = "dial-secret-that-must-not-leak-0123456789"


@pytest.fixture
def ami():
    server = FakeAMI(secret=DIAL_SECRET, user=DIAL_USER)
    yield server
    server.close()


@pytest.fixture
def screen(tmp_path, ami):
    originator = Originator("127.0.0.1", ami.port, DIAL_USER, DIAL_SECRET)
    made = Screen(tmp_path, click=ClickToCall(originator.call, limit=RateLimit(limit=2)))
    yield made
    made.close()


def originates(ami):
    with ami.lock:
        return [action for action in ami.received if action.get("Action") == "Originate"]


def request(screen, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", screen.port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data.decode("utf-8")


def confirm(screen, token, number="tel:+1-555-123-4567"):
    """The confirm page's form: (path it posts to, its fields)."""
    response, page = request(screen, "GET", call_url("/agent/%s" % token, number.replace("tel:", "", 1))
                             if number.startswith("tel:") else "/agent/%s/call?number=%s" % (token, number))
    assert response.status == 200
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    assert re.search(r'<form id="confirm" method="post" action="call"', page)
    return "/agent/%s/call" % token, fields


def same_origin(screen, extra=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://127.0.0.1:%d" % screen.port,
               "Sec-Fetch-Site": "same-origin"}
    headers.update(extra or {})
    return headers


def test_the_get_asks_and_places_nothing(screen, ami):
    token = screen.links.issue("201")
    response, page = request(screen, "GET", "/agent/%s/call?number=tel%%3A%%2B1-555-123-4567%%3Bext%%3D12" % token)
    assert response.status == 200 and response.getheader("Cache-Control") == "no-store"
    assert "Call <strong>+15551234567</strong> from extension <strong>201</strong>?" in page
    assert "form-action 'self'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Frame-Options") == "DENY"
    assert request(screen, "HEAD", "/agent/%s/call" % token)[0].status == 400  # the page's check: on
    assert originates(ami) == [] and ami.logins == 0


@pytest.mark.parametrize("number", ["1234%40evil", "%24%7BSHELL%7D", "12", "123%0D%0AAction%3A%20Command"])
def test_the_get_refuses_what_is_no_phone_number(screen, ami, number):
    token = screen.links.issue("201")
    response, page = request(screen, "GET", "/agent/%s/call?number=%s" % (token, number))
    assert response.status == 400 and "<form" not in page
    assert originates(ami) == []


def test_the_confirm_post_calls_the_links_own_extension_once(screen, ami):
    token = screen.links.issue("201")
    screen.links.issue("305")
    path, fields = confirm(screen, token)
    assert fields["number"] == "+15551234567"
    response, page = request(screen, "POST", path, urlencode(fields), same_origin(screen))
    assert response.status == 200 and "rings now" in page
    [originate] = originates(ami)
    assert [pair for pair in originate.pairs if pair[0] not in ("Action", "ActionID")] == originate_headers(
        "201", "+15551234567")
    assert ami.logins == 1


def test_the_post_dials_the_number_it_carries_cleaned_again(screen, ami):
    token = screen.links.issue("201")
    path, fields = confirm(screen, token)
    fields["number"] = "0123 456"
    assert request(screen, "POST", path, urlencode(fields), same_origin(screen))[0].status == 200
    fields["number"] = "0123,456"
    assert request(screen, "POST", path, urlencode(fields), same_origin(screen))[0].status == 400
    assert [action.get("Exten") for action in originates(ami)] == ["0123456"]


@pytest.mark.parametrize("change", [
    {"headers": {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}},
    {"headers": {"Origin": "https://evil.example", "Sec-Fetch-Site": None}},
    {"headers": {"Origin": None, "Sec-Fetch-Site": None}},
    {"headers": {"Sec-Fetch-Site": "same-site"}},
    {"csrf": ""},
    {"csrf": "A" * 43},
    {"csrf": None},
])
def test_a_post_not_from_the_page_is_refused(screen, ami, change):
    token = screen.links.issue("201")
    path, fields = confirm(screen, token)
    headers = same_origin(screen)
    for name, value in change.get("headers", {}).items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    if "csrf" in change:
        if change["csrf"] is None:
            del fields["csrf"]
        else:
            fields["csrf"] = change["csrf"]
    response, _ = request(screen, "POST", path, urlencode(fields), headers)
    assert response.status == 403
    assert originates(ami) == [] and ami.logins == 0


def test_another_links_form_token_does_not_call(screen, ami):
    token = screen.links.issue("201")
    other = screen.links.issue("305")
    _, fields = confirm(screen, other)
    response, _ = request(screen, "POST", "/agent/%s/call" % token, urlencode(fields), same_origin(screen))
    assert response.status == 403 and originates(ami) == []


def test_a_revoked_link_gets_404_for_the_page_and_the_post(screen, ami):
    token = screen.links.issue("201")
    path, fields = confirm(screen, token)
    screen.links.revoke("201")
    assert request(screen, "GET", "/agent/%s/call?number=123456" % token)[0].status == 404
    assert request(screen, "POST", path, urlencode(fields), same_origin(screen))[0].status == 404
    assert request(screen, "POST", "/agent/%s" % ("A" * 43), "", same_origin(screen))[0].status == 404
    assert originates(ami) == []


def test_over_the_limit_is_429_per_link(screen, ami):
    token = screen.links.issue("201")
    path, fields = confirm(screen, token)
    statuses = [request(screen, "POST", path, urlencode(fields), same_origin(screen))[0].status for _ in range(3)]
    assert statuses == [200, 200, 429]
    response, _ = request(screen, "POST", path, urlencode(fields), same_origin(screen))
    assert response.status == 429 and 1 <= int(response.getheader("Retry-After")) <= 60
    other = screen.links.issue("305")
    other_path, other_fields = confirm(screen, other)
    assert request(screen, "POST", other_path, urlencode(other_fields), same_origin(screen))[0].status == 200
    assert [action.get("Channel") for action in originates(ami)] == ["Local/201@originate-skipvm"] * 2 + [
        "Local/305@originate-skipvm"]


def test_asterisk_refusing_the_login_is_502_and_the_secret_stays_out(tmp_path, ami, caplog):
    caplog.set_level(logging.DEBUG)
    originator = Originator("127.0.0.1", ami.port, DIAL_USER, "wrong-secret-0123456789")
    screen = Screen(tmp_path, click=ClickToCall(originator.call))
    try:
        token = screen.links.issue("201")
        path, fields = confirm(screen, token)
        response, page = request(screen, "POST", path, urlencode(fields), same_origin(screen))
        assert response.status == 502 and "wrong-secret" not in page
        assert ami.refused_logins == 1 and originates(ami) == []
        assert "wrong-secret" not in caplog.text and token not in caplog.text
    finally:
        screen.close()


def test_without_click_to_call_the_route_is_not_found(tmp_path, ami):
    screen = Screen(tmp_path)
    try:
        token = screen.links.issue("201")
        assert request(screen, "GET", "/agent/%s/call?number=123456" % token)[0].status == 404
        assert request(screen, "HEAD", "/agent/%s/call" % token)[0].status == 404
        assert request(screen, "POST", "/agent/%s/call" % token, "", same_origin(screen))[0].status == 404
        assert request(screen, "POST", "/cnam", "", same_origin(screen))[0].status == 501
    finally:
        screen.close()


def test_the_allow_list_applies_to_the_post(tmp_path, ami):
    originator = Originator("127.0.0.1", ami.port, DIAL_USER, DIAL_SECRET)
    screen = Screen(tmp_path, allow=("192.0.2.0/24",), click=ClickToCall(originator.call))
    try:
        token = screen.links.issue("201")
        assert request(screen, "GET", "/agent/%s/call?number=123456" % token)[0].status == 403
        assert request(screen, "POST", "/agent/%s/call" % token, "number=123456", same_origin(screen))[0].status == 403
        assert originates(ami) == []
    finally:
        screen.close()


def test_the_token_is_never_logged(screen, ami, caplog):
    caplog.set_level(logging.DEBUG)
    token = screen.links.issue("201")
    path, fields = confirm(screen, token)
    assert request(screen, "POST", path, urlencode(fields), same_origin(screen))[0].status == 200
    fields["csrf"] = "forged"
    assert request(screen, "POST", path, urlencode(fields), same_origin(screen))[0].status == 403
    assert "extension 201 rings, then dials +15551234567" in caplog.text
    assert "POST /agent/<token>/call" in caplog.text
    assert token not in caplog.text and DIAL_SECRET not in caplog.text


def test_auto_confirm_still_places_nothing_on_the_get(tmp_path, ami):
    originator = Originator("127.0.0.1", ami.port, DIAL_USER, DIAL_SECRET)
    screen = Screen(tmp_path, click=ClickToCall(originator.call, auto_confirm=True))
    try:
        token = screen.links.issue("201")
        response, page = request(screen, "GET", "/agent/%s/call?number=123456" % token)
        assert response.status == 200 and 'data-auto-confirm="1"' in page and "/agent/static/confirm.js" in page
        assert request(screen, "GET", "/agent/static/confirm.js")[0].status == 200
        assert originates(ami) == []
    finally:
        screen.close()
