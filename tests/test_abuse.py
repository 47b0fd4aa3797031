"""Form-mailer abuse, old and new: relaying, header injection, address smuggling. Each attack
goes through the WSGI app; the assertions are about what reached the MTA (nothing extra)."""

from email import message_from_bytes, policy

import pytest
from werkzeug.test import Client

from conftest import RecordingTransport, log_rows, write_config
from formmail.app import FormMail
from formmail.config import load_config
from formmail.message import COMPOSED_HEADERS, serialize

GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "message": "普通のお問い合わせです。"}
RECIPIENTS = ("owner@formmail.test",)
ALLOWED = {h.lower() for h in COMPOSED_HEADERS}


@pytest.fixture
def site(tmp_path):
    config = load_config(write_config(tmp_path, formmail={"max_posts_per_client": "0",
                                                          "duplicate_window_minutes": "0"}))
    transport = RecordingTransport()
    return Client(FormMail(config, transport=transport)), transport, config


def assert_nothing_smuggled(transport):
    """Every message handed to the MTA has only formmail's headers and recipients."""
    for msg, sender, recipients in transport.sent:
        assert recipients == RECIPIENTS and sender == "form@formmail.test"
        parsed = message_from_bytes(serialize(msg), policy=policy.default)
        assert {k.lower() for k in parsed.keys()} <= ALLOWED, parsed.keys()
        assert [a.addr_spec for a in parsed["To"].addresses] == list(RECIPIENTS)
        reply = parsed["Reply-To"]
        assert reply is None or [a.addr_spec for a in reply.addresses] == ["taro@example.jp"]
        head = serialize(msg).partition(b"\n\n")[0]
        assert b"\nbcc:" not in head.lower() and b"\ncc:" not in head.lower()


# -- historical exploits ------------------------------------------------------------------

@pytest.mark.parametrize("field", ["recipient", "recipients", "to", "cc", "bcc", "email_to", "_to",
                                   "mailto", "redirect", "_recipients", "print_config", "env_report"])
def test_cve_1999_0173_recipient_field_relays_nothing(site, field):
    """Matt Wright's FormMail sent mail to whatever `recipient` said."""
    client, transport, config = site
    r = client.post("/", data={**GOOD, field: "victim@evil.test"})
    assert r.status_code == 200
    assert_nothing_smuggled(transport)
    assert "victim@evil.test" not in "".join(f"{k}{v}" for k, v in transport.sent[0][0].items())


@pytest.mark.parametrize("field, value", [
    ("email", "taro@example.jp\nCc: victim@evil.test"),
    ("email", "taro@example.jp\r\nBcc: victim@evil.test"),
    ("name", "Taro\nBcc: victim@evil.test"),            # FormMail's `realname`
    ("name", "Taro\r\n\r\nforged body"),
])
def test_cve_2002_1771_email_and_realname_injection(site, field, value):
    client, transport, config = site
    r = client.post("/", data={**GOOD, field: value}, headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == field
    assert transport.sent == [] and log_rows(config.log_dir) == []


def test_cve_2002_2109_a_forged_referer_grants_nothing(site):
    """FormMail trusted Referer to decide who may use it; a forged one must not open a relay."""
    client, transport, _ = site
    r = client.post("/", data={**GOOD, "recipient": "victim@evil.test"},
                    headers={"Referer": "http://localhost/contact.html"})
    assert r.status_code == 200
    assert_nothing_smuggled(transport)
    r = client.post("/", data=GOOD, headers={"Referer": "http://evil.test/form.html"})
    assert r.status_code == 403 and len(transport.sent) == 1


@pytest.mark.parametrize("address", [
    "victim%evil.test@example.jp",             # the %-hack
    "victim%evil.test%example.jp@example.jp",
    "evil.test!victim@example.jp",             # bang path
    "@evil.test:victim@example.jp",            # source route
    '"victim@evil.test"@example.jp',           # quoted local part
    "victim@evil.test(@example.jp)",           # comment
    "victim@[192.0.2.66]",                     # address literal
    "victim@evil.test.",                       # accepted only as the same plain address
])
def test_creative_addressing(site, address):
    client, transport, _ = site
    r = client.post("/", data={**GOOD, "email": address}, headers={"Accept": "application/json"})
    if address == "victim@evil.test.":
        assert r.status_code == 200
        reply = transport.sent[0][0]["Reply-To"].addresses[0].addr_spec
        assert reply == "victim@evil.test" and transport.sent[0][2] == RECIPIENTS
        return
    assert r.status_code == 400 and r.get_json()["errors"][0] == {
        "field": "email", "code": "bad_email", "message": r.get_json()["errors"][0]["message"]}
    assert transport.sent == []


# -- a table of header-injection and address-smuggling inputs ---------------------------------

LONG = "x" * 900
INJECTIONS = [
    # (field, value, expected code or "accepted")
    ("email", "taro@example.jp\r\nBcc: v@evil.test", "one_line"),
    ("email", "taro@example.jp\nBcc: v@evil.test", "one_line"),
    ("email", "taro@example.jp\rBcc: v@evil.test", "one_line"),
    ("email", "taro@example.jp%0d%0aBcc: v@evil.test", "one_line"),       # encoded twice
    ("email", "taro@example.jp%0ABcc:v@evil.test", "one_line"),
    ("email", "taro@example.jp\u2028Bcc: v@evil.test", "one_line"),
    ("email", "=?utf-8?q?v=40evil.test?=", "encoded_word"),
    ("email", "victim@evil.test, taro@example.jp", "bad_email"),
    ("email", "taro@example.jp;victim@evil.test", "bad_email"),
    ("email", "taro@example.jp victim@evil.test", "bad_email"),
    ("email", "undisclosed: victim@evil.test;", "bad_email"),              # group syntax
    ("email", "Taro <taro@example.jp>", "bad_email"),
    ("email", "taro@example.jp (victim@evil.test)", "bad_email"),
    ("email", "taro@example.jp\tBcc: v@evil.test", "bad_email"),
    ("email", "a" * 300 + "@example.jp", "bad_email"),
    ("email", "taro@" + "a" * 1000 + ".jp", "too_long"),
    ("name", "Taro\r\nBcc: v@evil.test", "one_line"),
    ("name", "Taro\nCc: v@evil.test", "one_line"),
    ("name", "Taro\rBcc: v@evil.test", "one_line"),
    ("name", "Taro%0D%0ABcc: v@evil.test", "one_line"),
    ("name", "Taro%E2%80%A8Bcc: v@evil.test", "one_line"),
    ("name", "Taro\u2028Bcc: v@evil.test", "one_line"),
    ("name", "Taro\u2029Bcc: v@evil.test", "one_line"),
    ("name", "Taro\x85Bcc: v@evil.test", "control_char"),
    ("name", "Taro\x00Bcc: v@evil.test", "control_char"),
    ("name", "Taro\x0bBcc: v@evil.test", "control_char"),
    ("name", "Taro\x0cBcc: v@evil.test", "control_char"),
    ("name", "=?utf-8?q?Taro=0D=0ABcc:_v@evil.test?=", "encoded_word"),
    ("name", "=?utf-8?b?VGFybw0KQmNjOiB2QGV2aWwudGVzdA==?=", "encoded_word"),
    ("name", "=?ISO-2022-JP?B?GyRCOzNFRBsoQg0KQmNjOiB2QGV2aWwudGVzdA==?=", "encoded_word"),
    ("name", "x" * 1001, "too_long"),
    ("name", LONG, "accepted"),                                           # folded, never split
    ("name", '"Evil" <victim@evil.test>', "accepted"),                    # stays display-name text
    ("name", "Taro, victim@evil.test", "accepted"),
    ("name", "Taro; Bcc: victim@evil.test", "accepted"),
    ("name", "Taro <victim@evil.test>, Bob <b@evil.test>", "accepted"),
    ("name", "(comment) Taro", "accepted"),
    ("name", "\\\"Taro\\\" <v@evil.test>", "accepted"),
    ("phone", "03-1234\r\nBcc: v@evil.test", "one_line"),
    ("phone", "=?utf-8?q?=0D=0ABcc:v@evil.test?=", "encoded_word"),
]


def test_the_table_is_large_enough():
    assert len(INJECTIONS) >= 30


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
@pytest.mark.parametrize("field, value, expected", INJECTIONS)
def test_injection_table(site, field, value, expected, encoding):
    client, transport, config = site
    data = {**GOOD, field: value}
    kwargs = {"content_type": "multipart/form-data"} if encoding == "multipart" else {}
    r = client.post("/", data=data, headers={"Accept": "application/json"}, **kwargs)
    if expected == "accepted":
        assert r.status_code == 200, r.get_json()
        assert len(transport.sent) == 1
        msg = transport.sent[0][0]
        assert msg["Reply-To"].addresses[0].display_name == value
        assert "\n" not in str(msg["Subject"]) and len(str(msg["Subject"])) <= 200
    else:
        assert r.status_code == 400, r.get_json()
        assert [(e["field"], e["code"]) for e in r.get_json()["errors"]] == [(field, expected)], r.get_json()
        assert transport.sent == [] and log_rows(config.log_dir) == []
    assert_nothing_smuggled(transport)
