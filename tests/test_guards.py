"""The guards in front of the mailer: origin, rate limits, honeypot, time token, content limits,
duplicate suppression, and the spam log that counts what they refused."""

from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.test import Client

from conftest import RecordingTransport, log_rows, spam_rows, write_config
from formmail.app import FormMail
from formmail.config import load_config
from formmail.origin import check_origin
from formmail.errors import Forbidden

GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "message": "お問い合わせです。"}
JST = timezone(timedelta(hours=9))


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 3, 10, 0, tzinfo=JST)

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += timedelta(**kw)


def make(tmp_path, **settings):
    config = load_config(write_config(tmp_path, formmail=settings))
    clock, transport = Clock(), RecordingTransport()
    return Client(FormMail(config, transport=transport, clock=clock)), transport, clock, config


# -- origin -----------------------------------------------------------------------------------

def env(**headers):
    e = {"HTTP_HOST": "www.example.jp", "wsgi.url_scheme": "https"}
    e.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return e


@pytest.mark.parametrize("headers, allowed, missing_ok, ok", [
    ({"origin": "https://www.example.jp"}, (), True, True),
    ({"origin": "http://www.example.jp"}, (), True, True),               # same host, other scheme
    ({"origin": "https://www.example.jp:443"}, (), True, True),
    ({"origin": "https://www.example.jp:8443"}, (), True, False),        # another port
    ({"origin": "https://evil.test"}, (), True, False),
    ({"origin": "https://www.example.jp.evil.test"}, (), True, False),
    ({"origin": "null"}, (), True, False),                              # sandboxed page
    ({"origin": "https://lp.example.jp"}, ("https://lp.example.jp",), True, True),
    ({"referer": "https://www.example.jp/contact.html"}, (), True, True),
    ({"referer": "https://evil.test/www.example.jp/"}, (), True, False),
    ({"referer": "javascript:alert(1)"}, (), True, False),
    ({"origin": "https://evil.test", "referer": "https://www.example.jp/"}, (), True, False),
    ({}, (), True, True),
    ({}, (), False, False),
])
def test_check_origin(headers, allowed, missing_ok, ok):
    if ok:
        check_origin(env(**headers), allowed, missing_ok)
    else:
        with pytest.raises(Forbidden):
            check_origin(env(**headers), allowed, missing_ok)


def test_cross_site_post_is_403_and_counted(tmp_path):
    client, transport, _, config = make(tmp_path)
    r = client.post("/", data=GOOD, headers={"Origin": "https://evil.test", "Accept-Language": "ja"})
    assert r.status_code == 403 and "設置されているサイト" in r.get_data(as_text=True)
    assert transport.sent == [] and log_rows(config.log_dir) == []
    assert [row["reason"] for row in spam_rows(config.log_dir)] == ["origin_refused"]


# -- rate limits ----------------------------------------------------------------------------------

def test_per_client_limit_with_retry_after(tmp_path):
    client, transport, clock, config = make(tmp_path, max_posts_per_client="3", client_window_minutes="10")
    for i in range(3):
        assert client.post("/", data={**GOOD, "message": f"m{i}"}).status_code == 200
        clock.advance(minutes=1)
    r = client.post("/", data={**GOOD, "message": "m3"}, headers={"Accept-Language": "en"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "420"  # the first post ages out at 10 min
    assert "try again in 7 minutes" in r.get_data(as_text=True)
    assert len(transport.sent) == 3
    other = client.post("/", data={**GOOD, "message": "m4"}, environ_overrides={"REMOTE_ADDR": "192.0.2.8"})
    assert other.status_code == 200
    clock.advance(minutes=7)
    assert client.post("/", data={**GOOD, "message": "m5"}).status_code == 200


def test_ipv6_clients_are_counted_by_their_64(tmp_path):
    client, _, _, _ = make(tmp_path, max_posts_per_client="2")
    for i, addr in enumerate(["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"]):
        assert client.post("/", data={**GOOD, "message": f"{i}"}, environ_overrides={"REMOTE_ADDR": addr}).status_code == 200
    r = client.post("/", data={**GOOD, "message": "x"}, environ_overrides={"REMOTE_ADDR": "2001:db8:1:2::77"})
    assert r.status_code == 429
    r = client.post("/", data={**GOOD, "message": "y"}, environ_overrides={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert r.status_code == 200


def test_global_cap_per_hour(tmp_path):
    client, transport, clock, _ = make(tmp_path, max_posts_per_client="0", max_posts_per_hour="4")
    for i in range(4):
        r = client.post("/", data={**GOOD, "message": f"{i}"}, environ_overrides={"REMOTE_ADDR": f"192.0.2.{i}"})
        assert r.status_code == 200
    r = client.post("/", data={**GOOD, "message": "x"}, environ_overrides={"REMOTE_ADDR": "192.0.2.50"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 3600
    clock.advance(hours=1, seconds=1)
    assert client.post("/", data={**GOOD, "message": "y"}).status_code == 200


def test_rate_limit_decided_before_the_body_is_read(tmp_path):
    from test_app import CountingStream, environ, run

    client, transport, _, config = make(tmp_path, max_posts_per_client="1")
    app = client.application
    assert client.post("/", data=GOOD, environ_overrides={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    stream = CountingStream(500_000)
    status, headers, _ = run(app, environ(length=500_000, stream=stream, REMOTE_ADDR="127.0.0.1"))
    assert status == 429 and "Retry-After" in headers
    assert stream.read_bytes == 500_000  # drained for mod_cgid, but never parsed
    assert len(transport.sent) == 1


def test_no_address_stored_in_rate_state(tmp_path):
    client, _, _, config = make(tmp_path)
    client.post("/", data=GOOD, environ_overrides={"REMOTE_ADDR": "198.51.100.77"})
    assert "198.51.100.77" not in (config.log_dir / ".ratelimit").read_text()


# -- honeypot, token, content ------------------------------------------------------------------------

def test_honeypot_bot_sees_success_nothing_sent(tmp_path):
    client, transport, _, config = make(tmp_path)
    r = client.post("/", data={**GOOD, "_website": "http://spam.test"}, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.get_json()["ok"] is True
    assert transport.sent == [] and log_rows(config.log_dir) == []
    assert [row["reason"] for row in spam_rows(config.log_dir)] == ["honeypot"]
    assert client.post("/", data={**GOOD, "_website": ""}).status_code == 200 and len(transport.sent) == 1


def test_honeypot_can_be_renamed_or_off(tmp_path):
    client, transport, _, _ = make(tmp_path, honeypot="")
    assert client.post("/", data={**GOOD, "_website": "x"}).status_code == 200 and len(transport.sent) == 1


def token_for(client, form="contact"):
    r = client.get(f"/token?form={form}")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    return r.get_json()["token"]


def test_time_token(tmp_path):
    client, transport, clock, config = make(tmp_path, token="yes", min_seconds="3", max_form_age="3600")
    token = token_for(client)
    clock.advance(seconds=1)
    r = client.post("/", data={**GOOD, "_token": token}, headers={"Accept": "application/json"})
    assert r.status_code == 200 and transport.sent == []           # too fast: a bot
    assert spam_rows(config.log_dir)[-1]["reason"] == "too_fast"
    clock.advance(seconds=5)
    assert client.post("/", data={**GOOD, "_token": token}).status_code == 200 and len(transport.sent) == 1
    clock.advance(hours=2)
    r = client.post("/", data={**GOOD, "message": "later", "_token": token}, headers={"Accept-Language": "en"})
    assert r.status_code == 400 and "reload the page" in r.get_data(as_text=True)
    for bad in ("", "123", f"{token}x", token.replace(".", ".A", 1)):
        r = client.post("/", data={**GOOD, "message": bad, "_token": bad}, headers={"Accept": "application/json"})
        assert r.status_code == 400 and r.get_json()["error"] == "form_expired"
    assert len(transport.sent) == 1


def test_token_is_bound_to_its_form(tmp_path):
    client, transport, clock, _ = make(tmp_path, token="yes")
    assert client.get("/token?form=nope").status_code == 404
    token = token_for(client)
    from formmail.token import verify
    from formmail.errors import FormExpired

    with pytest.raises(FormExpired):
        verify(client.application.secret, "order", token, clock().timestamp() + 10, 3, 3600)


def test_link_limit(tmp_path):
    client, transport, _, config = make(tmp_path, max_links="2")
    spam = "Buy now http://a.test http://b.test www.c.test"
    assert client.post("/", data={**GOOD, "message": spam}).status_code == 200
    assert transport.sent == [] and spam_rows(config.log_dir)[-1]["reason"] == "links"
    assert client.post("/", data={**GOOD, "message": "see https://www.example.jp"}).status_code == 200
    assert len(transport.sent) == 1


def test_nontext_share(tmp_path):
    client, transport, _, _ = make(tmp_path, max_nontext_share="50%")
    assert client.post("/", data={**GOOD, "message": "$$$ 1000000 !!! ### %%% 9999 @@@"}).status_code == 200
    assert transport.sent == []
    assert client.post("/", data={**GOOD, "message": "見積もりをお願いします。電話は03-1234-5678です。"}).status_code == 200
    assert len(transport.sent) == 1


# -- duplicates ------------------------------------------------------------------------------------

def test_double_click_is_mailed_and_logged_once(tmp_path):
    client, transport, clock, config = make(tmp_path)
    first = client.post("/", data=GOOD, headers={"Accept": "application/json"}).get_json()["id"]
    clock.advance(seconds=2)
    again = client.post("/", data=GOOD, headers={"Accept": "application/json"}).get_json()["id"]
    assert first == again and len(transport.sent) == 1 and len(log_rows(config.log_dir)) == 1
    clock.advance(minutes=11)
    later = client.post("/", data=GOOD, headers={"Accept": "application/json"}).get_json()["id"]
    assert later != first and len(transport.sent) == 2


def test_a_failed_record_does_not_block_the_retry(tmp_path):
    client, transport, _, config = make(tmp_path)
    app = client.application
    real = app.log.append

    def broken(*a):
        from formmail.errors import LogUnavailable

        raise LogUnavailable("disk full")

    app.log.append = broken
    assert client.post("/", data=GOOD).status_code == 503
    app.log.append = real
    assert client.post("/", data=GOOD).status_code == 200 and len(transport.sent) == 1


# -- the spam log ----------------------------------------------------------------------------------

def test_spam_log_holds_no_field_values_and_is_pruned(tmp_path):
    from formmail.logstatus import report
    from formmail.retention import prune
    from formmail.store import SubmissionLog

    client, _, clock, config = make(tmp_path, retention_days="30")
    client.post("/", data={**GOOD, "_website": "spam", "message": "secret body 12345"})
    client.post("/", data={**GOOD, "email": "bad"})
    client.post("/", data=GOOD, headers={"Origin": "https://evil.test"})
    rows = spam_rows(config.log_dir)
    assert [r["reason"] for r in rows] == ["honeypot", "invalid_fields", "origin_refused"]
    raw = b"".join(p.read_bytes() for p in config.log_dir.glob("_spam-*.csv"))
    assert b"secret body" not in raw and "山田".encode() not in raw
    text = "\n".join(report(config, SubmissionLog.for_config(config), clock()))
    assert "refused posts (not mailed, not logged): 3" in text and "honeypot 1" in text
    outcomes = prune(SubmissionLog.for_config(config), 30, clock() + timedelta(days=31))
    assert any(o.name.startswith("_spam-") and o.action == "deleted" for o in outcomes)
    assert spam_rows(config.log_dir) == []


def test_resend_ignores_the_spam_log(tmp_path):
    from formmail.resend import resend

    client, transport, clock, config = make(tmp_path)
    client.post("/", data={**GOOD, "_website": "spam"})
    summary = resend(client.application, clock())
    assert not summary.still_pending and summary.orphaned == []
