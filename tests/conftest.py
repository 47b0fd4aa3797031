"""Shared fixtures: configs written to a temporary folder, the WSGI client, and real services."""

import os
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

BASE_CONFIG = """
[formmail]
sender = form@formmail.test
sender_name = テスト株式会社 Web Form
transport = maildir
outbox = outbox
log_dir = data
timezone = Asia/Tokyo

[form:contact]
recipients = owner@formmail.test
subject = お問い合わせ: {{ name }} 様
fields =
    name = お名前
    email = メールアドレス
    phone = 電話番号
    message = お問い合わせ内容
required = name, email, message
reply_to = email
reply_to_name = name
multiline = message
"""


def write_config(folder, formmail=None, form=None, extra="", text=None):
    """Write a config.ini into `folder`; return its path.

    The base config, with keys of [formmail] and [form:contact] set (or, with None, removed)
    by the `formmail` and `form` dicts and `extra` text appended; or `text` as it is.
    """
    body = textwrap.dedent(text) if text is not None else BASE_CONFIG
    if text is None:
        head, _, tail = body.partition("[form:contact]")
        head, tail = _set_keys(head, formmail or {}), _set_keys(tail, form or {})
        body = head + "[form:contact]" + tail + textwrap.dedent(extra)
    path = Path(folder) / "config.ini"
    path.write_text(body, encoding="utf-8")
    return path


def _set_keys(section, values):
    import re

    for key, value in values.items():
        pattern = re.compile(rf"^{re.escape(key)} =.*\n(?:[ \t]+.*\n)*", re.M)
        line = "" if value is None else f"{key} = {value}\n"
        section, found = pattern.subn(line.replace("\\", "\\\\"), section, count=1)
        if not found:
            section = section.rstrip("\n") + "\n" + line
    return section


def require_service(available, reason):
    """Skip a test that needs a real service, except in CI, where a missing service fails."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def faketime():
    """Debian's faketime, which sets the clock of a command from outside."""
    import shutil

    path = shutil.which("faketime")
    require_service(path, "faketime is not installed (apt-get install faketime)")
    return path


@pytest.fixture
def config_path(tmp_path):
    return write_config(tmp_path)


@pytest.fixture
def config(config_path):
    from formmail.config import load_config

    return load_config(config_path)


class RecordingTransport:
    """A transport that keeps what it was given (for app tests that are not about the MTA)."""

    def __init__(self, fail=None):
        self.sent = []
        self.fail = fail

    def send(self, msg, sender, recipients):
        if self.fail:
            from formmail.errors import MailError

            raise MailError(self.fail)
        self.sent.append((msg, sender, tuple(recipients)))


@pytest.fixture
def transport():
    return RecordingTransport()


@pytest.fixture
def app(config, transport):
    from formmail.app import FormMail

    return FormMail(config, transport=transport)


@pytest.fixture
def client(app):
    from werkzeug.test import Client

    return Client(app)


def log_rows(log_dir, pattern="[!_]*.csv"):
    """Every data row of every submission log in `log_dir`, as dicts (BOM and neutralising undone)."""
    import csv

    from formmail.store import restore

    rows = []
    for path in sorted(Path(log_dir).glob(pattern)):
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                rows.append({k: restore(v) for k, v in row.items()})
    return rows


def spam_rows(log_dir):
    """The rows of the spam log (refused posts)."""
    return log_rows(log_dir, "_spam-*.csv")


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs, so that a test can fill a real file system (needs root)."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    done = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount)],
        capture_output=True).returncode == 0
    require_service(done, "mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def host_dns():
    """A real DNS server on 127.0.0.1 serving the zones modelled on shared hosts."""
    from dnsserver import DNSServer
    from hostzones import ZONES

    server = DNSServer(ZONES)
    yield server
    server.close()
