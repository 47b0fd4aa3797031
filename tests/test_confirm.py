"""The confirmation page: values shown, a signed and dated payload, nothing sent until step two."""

from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.test import Client

from conftest import RecordingTransport, log_rows, write_config
from formmail.app import FormMail
from formmail.config import load_config
from formmail.confirm import ConfirmationExpired, seal, unseal

GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "message": "確認画面のテスト\n二行目", "company": "ACME"}
SECRET = b"k" * 32


class Clock:
    now = datetime(2026, 12, 3, 10, 0, tzinfo=timezone(timedelta(hours=9)))

    def __call__(self):
        return self.now


@pytest.fixture
def site(tmp_path):
    config = load_config(write_config(tmp_path, form={"confirm": "yes"}))
    transport, clock = RecordingTransport(), Clock()
    return Client(FormMail(config, transport=transport, clock=clock)), transport, clock, config


def payload_of(page):
    return page.split('name="_payload" value="')[1].split('"')[0]


def test_two_steps(site):
    client, transport, clock, config = site
    first = client.post("/", data=GOOD, headers={"Accept-Language": "ja"})
    page = first.get_data(as_text=True)
    assert first.status_code == 200 and "入力内容の確認" in page and "確認画面のテスト\n二行目" in page
    assert "script-src 'sha256-" in first.headers["Content-Security-Policy"]
    assert transport.sent == [] and log_rows(config.log_dir) == []
    clock.now += timedelta(minutes=5)
    second = client.post("/", data={"_form": "contact", "_payload": payload_of(page)}, headers={"Accept-Language": "ja"})
    assert second.status_code == 200 and "送信完了" in second.get_data(as_text=True)
    row, = log_rows(config.log_dir)
    assert row["message"] == "確認画面のテスト\n二行目" and row["other_fields"] == "company: ACME"
    assert len(transport.sent) == 1


def test_invalid_input_never_reaches_the_confirmation(site):
    client, transport, _, _ = site
    r = client.post("/", data={**GOOD, "email": "nope"})
    assert r.status_code == 400 and "_payload" not in r.get_data(as_text=True)


@pytest.mark.parametrize("mangle", [
    lambda p: p[:-2] + ("AA" if not p.endswith("AA") else "BB"),                  # signature altered
    lambda p: seal(b"other secret key!!", "contact", [("name", "x")], 0),        # another site's key
    lambda p: "",
    lambda p: "garbage.more",
])
def test_tampered_payload_is_refused(site, mangle):
    client, transport, _, _ = site
    payload = payload_of(client.post("/", data=GOOD).get_data(as_text=True))
    r = client.post("/", data={"_payload": mangle(payload)}, headers={"Accept-Language": "en"})
    assert r.status_code == 400 and "has expired or was changed" in r.get_data(as_text=True)
    assert transport.sent == []


def test_changed_values_inside_the_payload_are_refused():
    payload = seal(SECRET, "contact", [("name", "x"), ("email", "a@example.jp")], 1000)
    raw, mac = payload.split(".")
    import base64
    import json

    data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    data["p"].append(["bcc", "victim@evil.test"])
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=") + "." + mac
    with pytest.raises(ConfirmationExpired):
        unseal(SECRET, "contact", forged, 1000, 3600)


def test_expired_and_foreign_payloads():
    payload = seal(SECRET, "contact", [("name", "x")], 1000)
    assert unseal(SECRET, "contact", payload, 1000 + 3600, 3600) == [("name", "x")]
    for form, now in (("contact", 1000 + 3601), ("order", 1001), ("contact", 900)):
        with pytest.raises(ConfirmationExpired):
            unseal(SECRET, form, payload, now, 3600)


def test_a_payload_cannot_skip_a_form_without_confirmation(tmp_path):
    config = load_config(write_config(tmp_path))
    transport = RecordingTransport()
    client = Client(FormMail(config, transport=transport))
    payload = seal(client.application.secret, "contact", list(GOOD.items()), datetime.now().timestamp())
    r = client.post("/", data={"_payload": payload, "_website": "bot"})
    assert r.status_code == 200 and transport.sent == []  # the honeypot still decides
