"""formmail.cgi as Apache runs it, and as cron runs it (the CLI when there is no GATEWAY_INTERFACE)."""

import json
import os
import stat
import subprocess
import sys
from urllib.parse import urlencode

from cgirun import CGI, run_cgi
from conftest import log_rows, write_config

GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "message": "CGI から送信\n二行目"}


def body(data):
    return urlencode(data).encode("ascii")


def test_file_is_an_executable_python3_script_with_lf_endings():
    data = CGI.read_bytes()
    assert data.startswith(b"#!/usr/bin/env python3\n") and b"\r\n" not in data
    assert os.stat(CGI).st_mode & stat.S_IXUSR


def test_success(tmp_path, config_path):
    status, headers, page, err = run_cgi(config_path, body(GOOD), accept_language="ja")
    assert status == 200, err
    assert headers["content-type"].startswith("text/html")
    rows = log_rows(tmp_path / "data")
    assert len(rows) == 1 and rows[0]["mail"].strip() == "sent"
    assert rows[0]["id"] in page.decode() and rows[0]["client_address"] == "198.51.100.7"
    mails = list((tmp_path / "outbox" / "new").iterdir())
    assert len(mails) == 1 and rows[0]["id"].encode() in mails[0].read_bytes()


def test_validation_error(tmp_path, config_path):
    status, _, page, _ = run_cgi(config_path, body({**GOOD, "email": "nope"}), accept_language="en")
    assert status == 400 and "please enter one e-mail address" in page.decode()
    assert not (tmp_path / "outbox").exists() and log_rows(tmp_path / "data") == []


def test_json_variant(tmp_path, config_path):
    status, headers, page, _ = run_cgi(config_path, body({**GOOD, "name": ""}), accept="application/json")
    assert status == 400 and headers["content-type"].startswith("application/json")
    assert json.loads(page)["errors"][0]["field"] == "name"
    status, _, page, _ = run_cgi(config_path, body(GOOD), accept="application/json")
    assert status == 200 and json.loads(page)["ok"] is True


def test_405(tmp_path, config_path):
    status, _, _, _ = run_cgi(config_path, body(GOOD), method="PUT")
    assert status == 405 and log_rows(tmp_path / "data") == []


def test_get_is_installed_page(config_path):
    status, _, page, _ = run_cgi(config_path, method="GET")
    assert status == 200 and "formmail" in page.decode()


def test_413_consumes_the_body(tmp_path, config_path):
    big = b"message=" + b"x" * 1_200_000
    status, _, _, err = run_cgi(config_path, big)
    # The whole body was read from stdin (a CGI that leaves it unread breaks mod_cgid's reply).
    assert status == 413, err
    assert log_rows(tmp_path / "data") == []


def test_broken_config_is_500_with_reason_in_stderr_only(tmp_path):
    path = write_config(tmp_path, formmail={"transport": "pigeon"})
    status, _, page, err = run_cgi(path, body(GOOD))
    assert status == 500 and "pigeon" not in page.decode() and "[formmail] transport" in err


def test_missing_config(tmp_path):
    status, _, page, err = run_cgi(tmp_path / "absent.ini", body(GOOD))
    assert status == 500 and "does not exist" in err and "absent" not in page.decode()


def test_shell_run_is_the_cli(tmp_path, config_path):
    env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "FORMMAIL_CONFIG": str(config_path)}
    proc = subprocess.run([str(CGI), "check"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "the config is valid" in proc.stdout


def test_config_beside_the_script_is_found(tmp_path):
    """With no FORMMAIL_CONFIG, a copy of formmail.cgi reads config.ini from its own folder."""
    import shutil

    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(CGI, site / "formmail.cgi")
    os.symlink(CGI.parent / "formmail", site / "formmail")
    write_config(site)
    env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin"}
    proc = subprocess.run([str(site / "formmail.cgi"), "check"], env=env, capture_output=True,
                          text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert str(site / "config.ini") in proc.stdout


def _fake_sendmail(tmp_path, script):
    path = tmp_path / "fake-sendmail"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def _assert_kept_as_failed(tmp_path, status, err, reason):
    assert status == 200, err  # the visitor sees thanks: the submission is safe
    row, = log_rows(tmp_path / "data")
    assert row["mail"].strip() == "failed" and row["name"] == GOOD["name"]
    assert reason in err and row["id"] in err


def test_sendmail_exit_75(tmp_path):
    fake = _fake_sendmail(tmp_path, "cat >/dev/null; echo 'mail queue full' >&2; exit 75\n")
    path = write_config(tmp_path, formmail={"transport": "sendmail", "sendmail_path": str(fake)})
    status, _, _, err = run_cgi(path, body(GOOD))
    _assert_kept_as_failed(tmp_path, status, err, "status 75 (temporary failure): mail queue full")


def test_sendmail_hangs(tmp_path):
    fake = _fake_sendmail(tmp_path, "exec sleep 120\n")
    path = write_config(tmp_path, formmail={"transport": "sendmail", "sendmail_path": str(fake),
                                            "mail_timeout": "1"})
    status, _, _, err = run_cgi(path, body(GOOD), timeout=30)
    _assert_kept_as_failed(tmp_path, status, err, "did not finish within 1 s")


def test_smtp_hangs(tmp_path):
    from smtppeer import ScriptedSMTP

    peer = ScriptedSMTP("hang")
    try:
        path = write_config(tmp_path, formmail={"transport": "smtp", "smtp_host": "127.0.0.1",
                                                "smtp_port": str(peer.port), "mail_timeout": "1"})
        status, _, _, err = run_cgi(path, body(GOOD), timeout=30)
    finally:
        peer.close()
    _assert_kept_as_failed(tmp_path, status, err, "did not answer within 1 s")


def test_full_disk_is_503_and_nothing_mailed(tmp_path, small_disk):
    """The log's file system is full: the visitor is told to retry, no mail goes out unrecorded."""
    path = write_config(tmp_path, formmail={"log_dir": str(small_disk / "data")})
    assert run_cgi(path, body(GOOD))[0] == 200
    before = {p.name: p.read_bytes() for p in (small_disk / "data").glob("*.csv")}
    with open(small_disk / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    status, _, page, err = run_cgi(path, body({**GOOD, "message": "x" * 9000}), accept_language="en")
    assert status == 503 and "could not be saved" in page.decode() and "Traceback" not in page.decode()
    assert "cannot write" in err
    assert {p.name: p.read_bytes() for p in (small_disk / "data").glob("*.csv")} == before
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 1  # only the first one


def test_read_only_log_folder_is_503_and_nothing_mailed(tmp_path, small_disk):
    import subprocess

    path = write_config(tmp_path, formmail={"log_dir": str(small_disk / "data")})
    assert run_cgi(path, body(GOOD))[0] == 200
    before = {p.name: p.read_bytes() for p in (small_disk / "data").glob("*.csv")}
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    status, _, page, _ = run_cgi(path, body(GOOD), accept_language="ja")
    assert status == 503 and "保存できない" in page.decode()
    assert {p.name: p.read_bytes() for p in (small_disk / "data").glob("*.csv")} == before
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 1
