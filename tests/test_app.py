"""The WSGI application: one submission end to end, every refusal, MTA and log failures."""

import io
import json
from urllib.parse import quote, urlencode

import pytest
from werkzeug.test import Client, EnvironBuilder

from conftest import RecordingTransport, log_rows, write_config
from formmail.app import FormMail, create_app
from formmail.body import DRAIN_LIMIT
from formmail.config import load_config

GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "phone": "03-1234-5678",
        "message": "見積もりをお願いします。\r\n二行目です。"}


def post(client, data=None, headers=None, **kw):
    return client.post("/", data=GOOD if data is None else data, headers=headers or {}, **kw)


def test_get_shows_installed_page_that_reveals_nothing(client, config):
    r = client.get("/")
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "formmail" in text
    for secret in (config.sender, "owner@formmail.test", str(config.log_dir), "0.1.0"):
        assert secret not in text


def test_successful_submission(client, transport, config):
    r = post(client, headers={"Accept-Language": "ja,en;q=0.5"})
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "送信完了" in text
    rows = log_rows(config.log_dir)
    assert len(rows) == 1 and rows[0]["mail"].strip() == "sent"
    assert rows[0]["id"] in text  # the reference shown is the one logged
    assert rows[0]["message"] == "見積もりをお願いします。\n二行目です。"
    assert rows[0]["received_at"].endswith("+09:00")
    (msg, sender, recipients), = transport.sent
    assert sender == "form@formmail.test" and recipients == ("owner@formmail.test",)
    assert msg["Reply-To"].addresses[0].addr_spec == "taro@example.jp"
    assert msg["X-Formmail-Id"] == rows[0]["id"]


def test_security_headers(client):
    r = post(client)
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"


def test_json_success(client):
    r = post(client, headers={"Accept": "application/json"})
    body = r.get_json()
    assert r.status_code == 200 and body["ok"] is True and len(body["id"]) == 15


def test_validation_error_page_names_fields_in_visitor_language(client, transport, config):
    r = post(client, {"name": "", "email": "taro@", "message": "残してほしい本文"},
             headers={"Accept-Language": "ja"})
    text = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "お名前：入力してください。" in text and "メールアドレス：メールアドレスを1件" in text
    assert "残してほしい本文" in text  # the visitor's input stays in view
    assert "<dt>お問い合わせ内容</dt>" in text  # under its label
    assert transport.sent == [] and log_rows(config.log_dir) == []


def test_validation_error_in_english(client):
    r = post(client, {"name": "", "email": "taro@example.jp", "message": "x"},
             headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert r.status_code == 400 and "お名前: please fill this in." in r.get_data(as_text=True)


def test_validation_error_json(client, transport):
    r = post(client, {"name": "x", "email": "a@b", "message": "x"}, headers={"Accept": "application/json"})
    body = r.get_json()
    assert r.status_code == 400 and body["ok"] is False
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("email", "bad_email")]
    assert transport.sent == []


def test_error_page_escapes_input(client):
    r = post(client, {"name": "<script>alert(1)</script>", "email": "bad", "message": "x"})
    text = r.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_405(client, method, transport):
    r = client.open("/", method=method, data=GOOD)
    assert r.status_code == 405 and transport.sent == []


def test_head_is_like_get(client):
    r = client.head("/")
    assert r.status_code == 200 and r.get_data() == b""


def run(app, environ):
    """Call the app directly with a hand-made environ; return (status, headers, body)."""
    out = {}

    def start_response(status, headers, exc_info=None):
        out["status"], out["headers"] = status, headers

    body = b"".join(app(environ, start_response))
    return int(out["status"].split()[0]), dict(out["headers"]), body


class CountingStream:
    """A request body of `size` bytes that counts how much of it was read."""

    def __init__(self, size):
        self.left = size
        self.read_bytes = 0

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        self.read_bytes += n
        return b"a" * n


def environ(method="POST", length=None, stream=None, content_type="application/x-www-form-urlencoded", **extra):
    env = EnvironBuilder(method=method).get_environ()
    env["wsgi.input"] = stream or io.BytesIO(b"")
    env["CONTENT_TYPE"] = content_type
    env["CONTENT_LENGTH"] = "" if length is None else str(length)
    env.update(extra)
    return env


def test_413_decided_before_reading_and_body_drained(app, transport):
    stream = CountingStream(2_000_000)
    status, _, body = run(app, environ(length=2_000_000, stream=stream))
    assert status == 413 and transport.sent == []
    assert stream.read_bytes == 2_000_000  # drained, as mod_cgid needs, but never parsed


def test_huge_body_drained_only_up_to_bound(app):
    stream = CountingStream(DRAIN_LIMIT * 3)
    status, _, _ = run(app, environ(length=DRAIN_LIMIT * 3, stream=stream))
    assert status == 413 and stream.read_bytes == DRAIN_LIMIT


def test_405_drains_body(app):
    stream = CountingStream(5000)
    status, _, _ = run(app, environ(method="PUT", length=5000, stream=stream))
    assert status == 405 and stream.read_bytes == 5000


def test_411_without_length(app):
    status, _, _ = run(app, environ(length=None, stream=CountingStream(10)))
    assert status == 411


def test_short_body_is_400(app, transport):
    stream = io.BytesIO(b"name=x")
    status, _, _ = run(app, environ(length=100, stream=stream))
    assert status == 400 and transport.sent == []


def test_415_for_json_body(client):
    r = client.post("/", data=json.dumps(GOOD), content_type="application/json")
    assert r.status_code == 415


def test_unknown_form_with_two_forms(tmp_path):
    path = write_config(tmp_path, extra="""
        [form:order]
        recipients = sales@formmail.test
        fields = item
        """)
    sent = RecordingTransport()
    client = Client(FormMail(load_config(path), transport=sent))
    assert client.post("/", data=GOOD).status_code == 400
    assert client.post("/", data={**GOOD, "_form": "nope"}).status_code == 400
    assert client.post("/", data={"_form": "order", "item": "pen"}).status_code == 200
    assert [s[2] for s in sent.sent] == [("sales@formmail.test",)]


@pytest.mark.parametrize("field", ["recipient", "to", "cc", "bcc", "email_to", "_to", "_recipients"])
def test_request_cannot_choose_recipients(client, transport, field):
    r = post(client, {**GOOD, field: "victim@evil.test"})
    assert r.status_code == 200
    (msg, _, recipients), = transport.sent
    assert recipients == ("owner@formmail.test",)
    assert "victim@evil.test" not in "".join(f"{k}: {v}" for k, v in msg.items())


def test_shift_jis_form(client, config):
    body = "&".join(f"{k}={quote(v.encode('cp932'))}" for k, v in
                    {**GOOD, "_charset_": "Shift_JIS", "name": "髙橋 ①"}.items())
    r = client.post("/", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200 and log_rows(config.log_dir)[0]["name"] == "髙橋 ①"


def test_euc_jp_from_request_charset(client, config):
    body = urlencode({**GOOD, "name": "東京 太郎"}, encoding="euc_jp")
    r = client.post("/", data=body, content_type="application/x-www-form-urlencoded; charset=EUC-JP")
    assert r.status_code == 200 and log_rows(config.log_dir)[0]["name"] == "東京 太郎"


def test_invalid_utf8_is_400_naming_field(client, transport):
    r = client.post("/", data=b"name=%FF%FE&email=a%40example.jp&message=x",
                    content_type="application/x-www-form-urlencoded", headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.get_json()["errors"][0] == {
        "field": "name", "code": "bad_encoding", "message": r.get_json()["errors"][0]["message"]}
    assert transport.sent == []


def test_multipart_submission(client, config):
    r = client.post("/", data=GOOD, content_type="multipart/form-data")
    assert r.status_code == 200 and log_rows(config.log_dir)[0]["name"] == "山田 太郎"


def test_file_upload_refused(client, transport, config):
    r = client.post("/", data={**GOOD, "cv": (io.BytesIO(b"%PDF"), "cv.pdf")},
                    content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.get_json()["errors"][0]["code"] == "upload_refused"
    assert transport.sent == [] and log_rows(config.log_dir) == []


def test_too_many_fields(client):
    data = {f"f{i}": "x" for i in range(60)}
    assert post(client, data).status_code == 413


def test_thanks_url_redirect(tmp_path):
    path = write_config(tmp_path, form={"thanks_url": "https://www.example.jp/thanks.html"})
    client = Client(FormMail(load_config(path), transport=RecordingTransport()))
    r = post(client)
    assert r.status_code == 303 and r.headers["Location"] == "https://www.example.jp/thanks.html"


def test_mail_failure_still_thanks_and_logged_as_failed(config, capsys):
    client = Client(FormMail(config, transport=RecordingTransport(fail="sendmail exited with status 75")))
    r = post(client)
    assert r.status_code == 200
    rows = log_rows(config.log_dir)
    assert rows[0]["mail"].strip() == "failed" and rows[0]["name"] == "山田 太郎"
    err = capsys.readouterr().err
    assert rows[0]["id"] in err and "status 75" in err


def test_log_unavailable_is_503_and_nothing_mailed(tmp_path, transport):
    path = write_config(tmp_path, formmail={"log_dir": "/proc/formmail-data"})
    client = Client(FormMail(load_config(path), transport=transport))
    r = post(client, headers={"Accept-Language": "en"})
    assert r.status_code == 503 and "could not be saved" in r.get_data(as_text=True)
    assert transport.sent == []


def test_unexpected_error_is_plain_500_without_traceback(config, capsys):
    class Exploding:
        def send(self, *a):
            raise ZeroDivisionError("secret detail")

    r = post(Client(FormMail(config, transport=Exploding())))
    text = r.get_data(as_text=True)
    assert r.status_code == 500 and "Traceback" not in text and "secret detail" not in text
    assert "ZeroDivisionError: secret detail" in capsys.readouterr().err


def test_broken_config_is_plain_500(tmp_path, capsys):
    path = write_config(tmp_path, formmail={"transport": "pigeon", "smtp_password": "hunter2"})
    app = create_app(str(path))
    r = Client(app).post("/", data=GOOD)
    text = r.get_data(as_text=True)
    assert r.status_code == 500 and "pigeon" not in text and "hunter2" not in text
    assert "[formmail] transport" in capsys.readouterr().err


def test_lazy_application_reads_env(tmp_path, monkeypatch):
    from formmail.app import _LazyApplication

    monkeypatch.setenv("FORMMAIL_CONFIG", str(write_config(tmp_path)))
    r = Client(_LazyApplication()).get("/")
    assert r.status_code == 200


def test_header_injection_through_name_refused(client, transport, config):
    r = post(client, {**GOOD, "name": "=?utf-8?q?a=0D=0ABcc:_v@evil.test?="}, headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "name"
    assert transport.sent == [] and log_rows(config.log_dir) == []
