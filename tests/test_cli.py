"""The command line: check's exit status and words, help for every command, and the README."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_config
from formmail.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def test_check_valid(config_path, capsys):
    assert main(["-c", str(config_path), "check"]) == 0
    out = capsys.readouterr().out
    assert "the config is valid" in out and "owner@formmail.test" in out


def test_check_errors_exit_2_and_name_key(tmp_path, capsys):
    path = write_config(tmp_path, formmail={"transport": "pigeon", "sender": None})
    assert main(["-c", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert "[formmail] transport: must be one of" in err and "[formmail] sender: is required" in err


def test_check_warns_about_missing_sendmail(tmp_path, capsys):
    path = write_config(tmp_path, formmail={"transport": "sendmail", "sendmail_path": str(tmp_path / "no")})
    assert main(["-c", str(path), "check"]) == 0
    assert "sendmail_path" in capsys.readouterr().out


def test_check_without_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FORMMAIL_CONFIG", raising=False)
    assert main(["check"]) == 2
    assert "no config found" in capsys.readouterr().err


def test_send_test_maildir(config_path, tmp_path, capsys):
    assert main(["-c", str(config_path), "send-test"]) == 0
    files = list((tmp_path / "outbox" / "new").iterdir())
    assert len(files) == 1 and b"formmail test (contact)" in files[0].read_bytes()


def test_send_test_failure_exit_1(tmp_path, capsys):
    path = write_config(tmp_path, formmail={"transport": "sendmail", "sendmail_path": str(tmp_path / "no")})
    assert main(["-c", str(path), "send-test"]) == 1
    assert "NOT sent" in capsys.readouterr().err


def test_send_test_unknown_form(config_path, capsys):
    assert main(["-c", str(config_path), "send-test", "--form", "nope"]) == 2


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command):
    proc = subprocess.run([sys.executable, "-m", "formmail", command, "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and COMMANDS[command][1] in proc.stdout


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert re.search(rf"`[^`]*formmail[^`]* {re.escape(command)}\b", readme), command


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:1500]
    assert "python3 -m formmail serve" in head and "python3 -m pytest" in head


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"^([^#\n]*python3 -m pytest[^\n]*)$", readme, re.M).group(1)
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_serve_demo_answers(tmp_path):
    """`serve` with no config: the demo form, and a post that lands in the demo outbox."""
    import socket
    import time
    import urllib.request
    from urllib.parse import urlencode

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([sys.executable, "-m", "formmail", "serve", "--port", str(port)],
                            cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(100):
            try:
                page = urllib.request.urlopen(url, timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("serve did not start")
        assert 'action="formmail.cgi"' in page and 'name="_form"' in page
        assert 'name="_website"' in page and 'name="_token"' in page  # honeypot and time token wired
        token = urllib.request.urlopen(url + "formmail.cgi/token?form=contact", timeout=10).read()
        assert b'"token"' in token
        data = urlencode({"_form": "contact", "name": "デモ", "email": "d@example.jp",
                          "message": "hello"}).encode()
        reply = urllib.request.urlopen(url + "formmail.cgi", data=data, timeout=10).read().decode()
        assert "Thank you" in reply or "送信完了" in reply
        assert len(list((tmp_path / "formmail-demo" / "outbox" / "new").iterdir())) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_parser_lists_every_command():
    text = build_parser().format_help()
    assert all(c in text for c in COMMANDS)


def test_check_warns_when_log_is_in_the_web_root(tmp_path, monkeypatch, capsys):
    site = tmp_path / "public_html"
    site.mkdir()
    path = write_config(site)  # log_dir = data, beside the config, inside the web root
    monkeypatch.setenv("DOCUMENT_ROOT", str(site))
    assert main(["-c", str(path), "check"]) == 0
    assert f"is inside the web folder {site}" in capsys.readouterr().out
    outside = write_config(site, formmail={"log_dir": str(tmp_path / "private")})
    assert main(["-c", str(outside), "check"]) == 0
    assert "inside the web folder" not in capsys.readouterr().out


def test_configured_modes_are_honoured(tmp_path):
    import os
    import stat

    from formmail.config import load_config
    from logdata import add_rows, at

    config = load_config(write_config(tmp_path, formmail={"file_mode": "0640", "dir_mode": "0750"}))
    add_rows(config, [at("2026-06-01T09:00:00+09:00")])
    assert stat.S_IMODE(os.stat(config.log_dir).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(config.log_dir / "contact-2026-06.csv").st_mode) == 0o640


@pytest.mark.parametrize("key, value", [("file_mode", "0777"), ("file_mode", "0400"), ("dir_mode", "0600"),
                                        ("dir_mode", "rwx")])
def test_unsafe_modes_refused(tmp_path, key, value, capsys):
    path = write_config(tmp_path, formmail={key: value})
    assert main(["-c", str(path), "check"]) == 2
    assert f"[formmail] {key}: must be an octal mode" in capsys.readouterr().err
