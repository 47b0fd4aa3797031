"""The auto-reply: to the visitor only, on-domain, marked, repeating no free text, once per period."""

from datetime import datetime, timedelta, timezone

from werkzeug.test import Client

from conftest import RecordingTransport, write_config
from formmail.app import FormMail
from formmail.config import load_config

GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "message": "Buy cheap pills at http://spam.test"}


class Clock:
    now = datetime(2026, 12, 3, 10, 0, tzinfo=timezone(timedelta(hours=9)))

    def __call__(self):
        return self.now


def site(tmp_path, **form):
    config = load_config(write_config(tmp_path, form={"autoreply": "yes", **form}))
    transport, clock = RecordingTransport(), Clock()
    return Client(FormMail(config, transport=transport, clock=clock)), transport, clock


def test_visitor_gets_one_marked_reply(tmp_path):
    client, transport, _ = site(tmp_path)
    assert client.post("/", data=GOOD).status_code == 200
    (owner, _, to_owner), (reply, sender, to_visitor) = transport.sent
    assert to_owner == ("owner@formmail.test",) and to_visitor == ("taro@example.jp",)
    assert sender == "form@formmail.test"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["From"].addresses[0].addr_spec == "form@formmail.test"
    assert reply["Reply-To"] == "owner@formmail.test" and reply["To"] == "taro@example.jp"
    body = reply.get_content()
    assert owner["X-Formmail-Id"] in body
    assert "spam.test" not in body and "山田" not in body  # no free text goes back out


def test_once_per_address_per_period(tmp_path):
    client, transport, clock = site(tmp_path, autoreply_interval_minutes="60")
    for i in range(3):
        client.post("/", data={**GOOD, "message": f"post {i}"})
        clock.now += timedelta(minutes=10)
    replies = [m for m, _, r in transport.sent if r == ("taro@example.jp",)]
    assert len(replies) == 1 and len(transport.sent) == 4
    clock.now += timedelta(minutes=40)
    client.post("/", data={**GOOD, "message": "later"})
    assert len([m for m, _, r in transport.sent if r == ("taro@example.jp",)]) == 2


def test_no_reply_for_bots_or_refused_posts(tmp_path):
    client, transport, _ = site(tmp_path)
    client.post("/", data={**GOOD, "_website": "http://spam.test"})          # honeypot
    client.post("/", data={**GOOD, "email": "victim@evil.test, x@evil.test"})  # refused
    client.post("/", data=GOOD, headers={"Origin": "https://evil.test"})      # foreign site
    assert transport.sent == []


def test_autoreply_needs_reply_to(tmp_path):
    import pytest

    from formmail.errors import ConfigInvalid

    with pytest.raises(ConfigInvalid, match="autoreply: needs reply_to"):
        load_config(write_config(tmp_path, form={"autoreply": "yes", "reply_to": None, "reply_to_name": None}))
