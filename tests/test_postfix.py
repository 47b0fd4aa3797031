"""Mail through a real Postfix (started by .ci/run): it arrives with the right headers and envelope."""

import os
import subprocess
import time
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlencode

import pytest

from cgirun import run_cgi
from conftest import log_rows, require_service, write_config

MAILBOX = Path(os.environ.get("FORMMAIL_TEST_MAILBASE", "/var/mail/formmail-test")) / "inbox"
GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "message": "ポストフィックス経由\n二行目"}


def postfix_running():
    try:
        ok = subprocess.run(["postfix", "status"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    return ok and MAILBOX.parent.is_dir()


@pytest.fixture
def postfix():
    require_service(postfix_running(), "Postfix is not running (run tests/services/postfix.sh as root)")


def delivered(reference, timeout=20, to="owner@formmail.test"):
    """The message holding `reference` delivered to `to`, parsed; waits for Postfix."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in (MAILBOX / "new").glob("*") if (MAILBOX / "new").is_dir() else ():
            data = path.read_bytes()
            if reference.encode() in data:
                msg = message_from_bytes(data, policy=policy.default)
                if msg["Delivered-To"] == to:
                    return msg
        time.sleep(0.1)
    raise AssertionError(f"no mail with {reference} for {to} arrived in {MAILBOX} within {timeout} s")


def configure(tmp_path, transport):
    return write_config(tmp_path, formmail={
        "transport": transport, "envelope_sender": "bounce@formmail.test",
        "smtp_host": "127.0.0.1", "smtp_port": "25"})


@pytest.mark.parametrize("transport", ["sendmail", "smtp"])
def test_submission_arrives(postfix, tmp_path, transport):
    path = configure(tmp_path, transport)
    status, _, page, err = run_cgi(path, urlencode(GOOD).encode(), accept_language="ja")
    assert status == 200, err
    row, = log_rows(tmp_path / "data")
    assert row["mail"].strip() == "sent"
    msg = delivered(row["id"])
    assert msg["Return-Path"] == "<bounce@formmail.test>"  # the envelope sender
    assert msg["From"].addresses[0].addr_spec == "form@formmail.test"
    assert msg["From"].addresses[0].display_name == "テスト株式会社 Web Form"
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["taro@example.jp"]
    assert msg["Reply-To"].addresses[0].display_name == "山田 太郎"
    assert [a.addr_spec for a in msg["To"].addresses] == ["owner@formmail.test"]
    assert msg["Delivered-To"] == "owner@formmail.test"
    assert str(msg["Subject"]) == "お問い合わせ: 山田 太郎 様"
    body = msg.get_body(("plain",)).get_content()
    assert "ポストフィックス経由\n二行目" in body and row["id"] in body and "お名前" in body


def test_smtp_refusal_by_postfix_keeps_submission(postfix, tmp_path):
    path = configure(tmp_path, "smtp")
    path.write_text(path.read_text().replace("recipients = owner@formmail.test",
                                             "recipients = rejected@formmail.test"))
    status, _, _, err = run_cgi(path, urlencode(GOOD).encode())
    assert status == 200  # the visitor's message is safe in the log
    row, = log_rows(tmp_path / "data")
    assert row["mail"].strip() == "failed" and row["message"] == GOOD["message"]
    assert "refuse this recipient" in err and row["id"] in err


def test_send_test_command(postfix, tmp_path):
    import sys

    path = configure(tmp_path, "sendmail")
    before = set((MAILBOX / "new").glob("*")) if (MAILBOX / "new").is_dir() else set()
    proc = subprocess.run([sys.executable, "-m", "formmail", "-c", str(path), "send-test"],
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent.parent)
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [p for p in (MAILBOX / "new").glob("*") if p not in before]
        found = [p for p in new if b"formmail test (contact)" in p.read_bytes()]
        if found:
            msg = message_from_bytes(found[0].read_bytes(), policy=policy.default)
            assert msg["Return-Path"] == "<bounce@formmail.test>"
            return
        time.sleep(0.1)
    raise AssertionError("the send-test mail did not arrive")


@pytest.mark.parametrize("message, charset", [
    ("ISO-2022-JP の往復テスト\n二行目：全角ＡＢＣ、カタカナ、〒100-0001", "iso-2022-jp"),
    ("ISO-2022-JP に入らない文字 ①㈱🍣ｶﾀｶﾅ は UTF-8 で送る", "utf-8"),
])
def test_iso_2022_jp_round_trip(postfix, tmp_path, message, charset):
    path = configure(tmp_path, "sendmail")
    path.write_text(path.read_text() + "charset = iso-2022-jp\n")
    status, _, _, err = run_cgi(path, urlencode({**GOOD, "message": message}).encode())
    assert status == 200, err
    row, = log_rows(tmp_path / "data")
    msg = delivered(row["id"])
    body = msg.get_body(("plain",))
    assert body.get_content_charset() == charset
    assert message in body.get_content() and str(msg["Subject"]) == "お問い合わせ: 山田 太郎 様"
    if charset == "utf-8":
        assert "mailed in UTF-8, not ISO-2022-JP" in err and "①" in err
