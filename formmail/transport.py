"""Hands a finished message to the host's MTA (sendmail binary or SMTP) or to a Maildir folder."""

import os
import secrets
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

from formmail.errors import MailError
from formmail.message import serialize
from formmail.store import DIR_MODE, FILE_MODE, fsync_dir

EX_TEMPFAIL = 75
STDERR_SHOWN = 500  # characters of an MTA's complaint kept for the server log


class SendmailTransport:
    """Pipes the message to a sendmail-compatible binary; recipients and sender go in argv."""

    def __init__(self, path, timeout):
        self.path = path
        self.timeout = timeout

    def send(self, msg, sender, recipients):
        # -i: a line holding one dot does not end the message; "--": no recipient is an option.
        argv = [self.path, "-i", "-f", sender, "--", *recipients]
        try:
            proc = subprocess.run(argv, input=serialize(msg), capture_output=True,
                                  timeout=self.timeout, close_fds=True)
        except subprocess.TimeoutExpired:
            raise MailError(f"{self.path} did not finish within {self.timeout} s") from None
        except OSError as e:
            raise MailError(f"cannot run {self.path}: {e.strerror or e}") from None
        if proc.returncode != 0:
            why = proc.stderr.decode("utf-8", "replace").strip()[:STDERR_SHOWN]
            kind = " (temporary failure)" if proc.returncode == EX_TEMPFAIL else ""
            raise MailError(f"{self.path} exited with status {proc.returncode}{kind}: {why}")


class SMTPTransport:
    """Speaks SMTP to the host's MTA, normally on localhost:25, with optional STARTTLS and login."""

    def __init__(self, host, port, timeout, starttls=False, user="", password=""):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.starttls = starttls
        self.user = user
        self.password = password

    def send(self, msg, sender, recipients):
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self.password)
                refused = smtp.send_message(msg, from_addr=sender, to_addrs=list(recipients))
        except smtplib.SMTPServerDisconnected as e:
            raise MailError(f"SMTP {self.host}:{self.port} closed the connection or did not answer "
                            f"within {self.timeout} s: {e}") from None
        except smtplib.SMTPException as e:
            raise MailError(f"SMTP {self.host}:{self.port} refused the mail: {_smtp_reason(e)}") from None
        except OSError as e:
            raise MailError(f"SMTP {self.host}:{self.port} is unreachable: {e}") from None
        if refused:
            raise MailError(f"SMTP {self.host}:{self.port} refused recipients: {sorted(refused)}")


def _smtp_reason(e):
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r}: {c} {m.decode('utf-8', 'replace')}" for r, (c, m) in e.recipients.items())
    code = getattr(e, "smtp_code", None)
    text = getattr(e, "smtp_error", b"")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip() if code else str(e)


class MaildirTransport:
    """Writes each message as one file into `outbox/new`, atomically (tmp, fsync, rename)."""

    def __init__(self, outbox):
        self.outbox = Path(outbox)

    def send(self, msg, sender, recipients):
        try:
            for sub in ("", "tmp", "new", "cur"):
                d = self.outbox / sub
                if not d.is_dir():
                    os.makedirs(d, mode=DIR_MODE, exist_ok=True)
            name = f"{time.time_ns()}.P{os.getpid()}R{secrets.token_hex(4)}.{socket.gethostname()}"
            tmp, new = self.outbox / "tmp" / name, self.outbox / "new" / name
            # Return-Path records the envelope sender, as a delivering MTA would.
            data = f"Return-Path: <{sender}>\n".encode("ascii") + serialize(msg)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, new)
            fsync_dir(self.outbox / "new")
        except OSError as e:
            raise MailError(f"cannot write to the outbox {self.outbox}: {e}") from None
        return new


def make_transport(config):
    """The transport the config names."""
    if config.transport == "sendmail":
        return SendmailTransport(config.sendmail_path, config.mail_timeout)
    if config.transport == "smtp":
        return SMTPTransport(config.smtp_host, config.smtp_port, config.mail_timeout,
                             config.smtp_starttls, config.smtp_user, config.smtp_password)
    return MaildirTransport(config.outbox)
