"""Transports: Maildir files, the sendmail program's argv and exit status, SMTP failures."""

import os
import stat
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from formmail.errors import MailError
from formmail.transport import MaildirTransport, SendmailTransport, SMTPTransport, make_transport
from smtppeer import ScriptedSMTP


def message():
    msg = EmailMessage()
    msg["From"] = "form@formmail.test"
    msg["To"] = "owner@formmail.test"
    msg["Subject"] = "テスト"
    msg.set_content("本文\n.\nafter a lone dot\n")
    return msg


def fake_sendmail(tmp_path, script):
    path = tmp_path / "sendmail"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def test_maildir_writes_one_private_file(tmp_path):
    os.umask(0o022)
    path = MaildirTransport(tmp_path / "outbox").send(message(), "bounce@formmail.test", ["owner@formmail.test"])
    assert path.parent == tmp_path / "outbox" / "new"
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Return-Path"] == "<bounce@formmail.test>" and str(parsed["Subject"]) == "テスト"


def test_maildir_unwritable_is_mail_error():
    with pytest.raises(MailError, match="outbox"):
        MaildirTransport("/proc/formmail-outbox").send(message(), "a@formmail.test", ["b@formmail.test"])


def test_sendmail_argv_and_input(tmp_path):
    script = f'printf "%s\\n" "$@" > {tmp_path}/argv; cat > {tmp_path}/stdin\n'
    SendmailTransport(fake_sendmail(tmp_path, script), 5).send(
        message(), "bounce@formmail.test", ["owner@formmail.test", "-x@formmail.test"])
    assert (tmp_path / "argv").read_text().split("\n")[:-1] == [
        "-i", "-f", "bounce@formmail.test", "--", "owner@formmail.test", "-x@formmail.test"]
    data = (tmp_path / "stdin").read_bytes()
    assert b"\r\n" not in data  # local line ends for a local program
    assert message_from_bytes(data, policy=policy.default)["To"] == "owner@formmail.test"


def test_sendmail_tempfail_exit_75(tmp_path):
    path = fake_sendmail(tmp_path, 'cat >/dev/null; echo "queue file write error" >&2; exit 75\n')
    with pytest.raises(MailError, match=r"exited with status 75 \(temporary failure\): queue file write error"):
        SendmailTransport(path, 5).send(message(), "a@formmail.test", ["b@formmail.test"])


def test_sendmail_hang_times_out(tmp_path):
    path = fake_sendmail(tmp_path, "exec sleep 60\n")
    start = time.monotonic()
    with pytest.raises(MailError, match="did not finish within 1 s"):
        SendmailTransport(path, 1).send(message(), "a@formmail.test", ["b@formmail.test"])
    assert time.monotonic() - start < 10


def test_sendmail_missing_program(tmp_path):
    with pytest.raises(MailError, match="cannot run"):
        SendmailTransport(str(tmp_path / "nope"), 5).send(message(), "a@formmail.test", ["b@formmail.test"])


@pytest.fixture
def peer(request):
    server = ScriptedSMTP(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("peer", ["refuse"], indirect=True)
def test_smtp_refusal(peer):
    with pytest.raises(MailError, match="Relay access denied"):
        SMTPTransport("127.0.0.1", peer.port, 5).send(message(), "a@formmail.test", ["b@formmail.test"])


@pytest.mark.parametrize("peer", ["hang"], indirect=True)
def test_smtp_hang_times_out(peer):
    start = time.monotonic()
    with pytest.raises(MailError, match="did not answer within 1 s"):
        SMTPTransport("127.0.0.1", peer.port, 1).send(message(), "a@formmail.test", ["b@formmail.test"])
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("peer", ["drop"], indirect=True)
def test_smtp_dropped_connection(peer):
    with pytest.raises(MailError):
        SMTPTransport("127.0.0.1", peer.port, 5).send(message(), "a@formmail.test", ["b@formmail.test"])


def test_smtp_nothing_listening():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(MailError, match="unreachable"):
        SMTPTransport("127.0.0.1", port, 2).send(message(), "a@formmail.test", ["b@formmail.test"])


def test_make_transport_follows_config(config):
    from dataclasses import replace

    assert isinstance(make_transport(config), MaildirTransport)
    assert isinstance(make_transport(replace(config, transport="sendmail")), SendmailTransport)
    smtp = make_transport(replace(config, transport="smtp"))
    assert isinstance(smtp, SMTPTransport) and (smtp.host, smtp.port, smtp.starttls) == ("localhost", 25, False)
