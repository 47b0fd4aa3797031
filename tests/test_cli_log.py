"""The log commands as cron runs them: formmail.cgi prune / resend / status / export, with the
clock set from outside by faketime (Debian's libfaketime), not patched inside formmail."""

import csv
import io
import re
import os
import subprocess
import sys

import pytest

from cgirun import CGI
from conftest import log_rows, write_config
from formmail.config import load_config
from formmail.store import FAILED, SENT
from logdata import add_rows, at


def cron(config_path, *args, faketime=None, when=None):
    """Run formmail.cgi as a cron job would: no CGI variables, the config beside it or named."""
    env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "FORMMAIL_CONFIG": str(config_path),
           "TZ": "UTC", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    argv = [str(CGI), *args]
    if faketime:  # the clock starts at `when` (a frozen clock upset process spawning in CI)
        argv = [faketime, "-f", f"@{when}", *argv]
    return subprocess.run(argv, env=env, capture_output=True, timeout=120)


@pytest.fixture
def cfg_path(tmp_path):
    return write_config(tmp_path, formmail={"retention_days": "30"})


def test_prune_from_cron_at_a_faked_time(cfg_path, faketime):
    config = load_config(cfg_path)
    keep = add_rows(config, [at("2027-01-01T09:00:00+09:00")])
    add_rows(config, [at("2026-12-01T09:00:00+09:00"), at("2026-12-16T20:59:59+09:00")])
    add_rows(config, [at("2026-10-01T09:00:00+09:00")])
    dry = cron(cfg_path, "prune", "--dry-run", faketime=faketime, when="2027-01-15 12:00:00")
    assert dry.returncode == 0 and b"would remove 3 entries in all" in dry.stdout
    assert len(log_rows(config.log_dir)) == 4
    proc = cron(cfg_path, "prune", faketime=faketime, when="2027-01-15 12:00:00")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    # The clock runs from the faked start, so a slow start may add a second or two.
    assert re.search(r"removing entries received before 2026-12-16T21:00:0\d\+09:00 \(30 days\)", out), out
    assert "contact-2026-10.csv: delete the file (1 entries, all expired)" in out
    assert "contact-2026-12.csv: delete the file (2 entries, all expired)" in out
    assert "contact-2027-01.csv: nothing to remove" in out
    assert [r["id"] for r in log_rows(config.log_dir)] == [keep[0].id]


def test_prune_exit_status_when_it_cannot_work(tmp_path):
    path = write_config(tmp_path, formmail={"log_dir": "/proc/formmail-log"})
    assert cron(path, "prune").returncode == 1
    bad = write_config(tmp_path, formmail={"rotation": "weekly"})
    proc = cron(bad, "prune")
    assert proc.returncode == 2 and b"[formmail] rotation" in proc.stderr


def test_resend_status_and_exit_codes(tmp_path, faketime):
    fake = tmp_path / "sendmail"
    fake.write_text("#!/bin/sh\ncat > /dev/null\nexit 75\n")
    fake.chmod(0o755)
    path = write_config(tmp_path, formmail={"transport": "sendmail", "sendmail_path": str(fake)})
    config = load_config(path)
    failed = add_rows(config, [at("2027-01-10T09:00:00+09:00")], status=FAILED)
    add_rows(config, [at("2027-01-11T09:00:00+09:00")], status=SENT)
    proc = cron(path, "resend", faketime=faketime, when="2027-01-15 12:00:00")
    assert proc.returncode == 1 and b"still failing 1" in proc.stdout  # MTA still refuses
    status = cron(path, "status", faketime=faketime, when="2027-01-15 12:00:00")
    assert b"mail sent 1, failed 1, pending 0" in status.stdout
    fake.write_text("#!/bin/sh\ncat > /dev/null\nexit 0\n")
    proc = cron(path, "resend", faketime=faketime, when="2027-01-15 12:00:00")
    assert proc.returncode == 0 and b"resent 1, still failing 0" in proc.stdout
    assert {r["id"]: r["mail"].strip() for r in log_rows(config.log_dir)}[failed[0].id] == "sent"
    assert cron(path, "resend").returncode == 0  # nothing left, nothing sent twice


def test_export_to_file_in_cp932(cfg_path, tmp_path):
    config = load_config(cfg_path)
    add_rows(config, [at("2027-01-10T09:00:00+09:00")], message="①🍣")
    out = tmp_path / "export.csv"
    proc = cron(cfg_path, "export", "--from", "2027-01-01", "--encoding", "cp932", "-o", str(out))
    assert proc.returncode == 0
    assert b"exported 1 entries" in proc.stderr and b"1 characters cannot be written in cp932" in proc.stderr
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("cp932"), newline="")))
    assert rows[1][rows[0].index("お問い合わせ内容")] == "①〓"


def test_export_to_stdout_and_bad_dates(cfg_path):
    config = load_config(cfg_path)
    add_rows(config, [at("2027-01-10T09:00:00+09:00")])
    proc = cron(cfg_path, "export")
    assert proc.returncode == 0 and proc.stdout.startswith(b"\xef\xbb\xbfreceived_at,")
    bad = cron(cfg_path, "export", "--from", "yesterday")
    assert bad.returncode == 2 and b"--from takes a date" in bad.stderr
