"""bundle: a folder that runs as uploaded, with no pip on the server; check catches upload mistakes."""

import os
import stat
import subprocess
import zipfile

import pytest

from formmail.bundle import bundle
from formmail.cli import main

SYSTEM_PYTHON = "/usr/bin/python3"


def test_contents_and_modes(tmp_path):
    out = bundle(tmp_path / "site", make_zip=True)
    cgi = (out / "formmail.cgi").read_bytes()
    assert cgi.startswith(b"#!/usr/bin/env python3\n") and b"\r\n" not in cgi
    assert stat.S_IMODE((out / "formmail.cgi").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "config.ini").stat().st_mode) == 0o600
    for path in ("formmail/app.py", "templates/thanks.html", "form.html", "README.txt", ".htaccess",
                 "lib/werkzeug/__init__.py", "lib/jinja2/__init__.py", "lib/markupsafe/_native.py",
                 "lib/dns/resolver.py", "lib/.htaccess", "formmail/.htaccess", "templates/.htaccess"):
        assert (out / path).is_file(), path
    assert not list(out.rglob("*.so")) and not list(out.rglob("__pycache__"))
    assert len(list((out / "lib" / "LICENSES").iterdir())) >= 4
    assert "Require all denied" in (out / "lib" / ".htaccess").read_text()
    assert "config" in (out / ".htaccess").read_text() and "日本語" in (out / "README.txt").read_text()
    with zipfile.ZipFile(out.with_suffix(".zip")) as z:
        info = z.getinfo("site/formmail.cgi")
        assert (info.external_attr >> 16) & 0o777 == 0o755
        assert "site/lib/werkzeug/__init__.py" in z.namelist()


def test_refuses_a_folder_with_files(tmp_path, capsys):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("mine")
    assert main(["bundle", str(tmp_path / "site")]) == 2
    assert (tmp_path / "site" / "index.html").read_text() == "mine"


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason="no system python3 at /usr/bin")
def test_runs_on_a_bare_system_python(tmp_path):
    """The host's own python3 with nothing installed: lib/ supplies werkzeug, jinja2, dnspython."""
    out = bundle(tmp_path / "site")
    env = {"PATH": "/usr/bin:/bin"}
    check = subprocess.run([str(out / "formmail.cgi"), "check"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stderr
    assert "the config is valid" in check.stdout
    body = b"_form=contact&name=x&email=a%40example.jp&message=hello"
    cgi_env = {**env, "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "POST", "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/x-www-form-urlencoded",
               "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "192.0.2.1"}
    config = (out / "config.ini").read_text().replace("transport = sendmail", "transport = maildir")
    (out / "config.ini").write_text(config)
    post = subprocess.run([str(out / "formmail.cgi")], input=body, env=cgi_env, capture_output=True, timeout=60)
    assert b"Status: 200" in post.stdout, post.stderr[-500:]
    assert len(list((out / "outbox" / "new").iterdir())) == 1


def test_check_warns_about_crlf_and_missing_run_bit(tmp_path, capsys):
    out = bundle(tmp_path / "site")
    cgi = out / "formmail.cgi"
    cgi.write_bytes(cgi.read_bytes().replace(b"\n", b"\r\n"))
    cgi.chmod(0o644)
    assert main(["-c", str(out / "config.ini"), "check"]) == 0
    text = capsys.readouterr().out
    assert "Windows (CRLF) line ends" in text and "permission 755" in text
