"""End to end through real parts: the upload bundle in Apache's web root, formmail.cgi run by
mod_cgid as www-data under Debian's own python3 (dependencies from lib/), mail through Postfix."""

import os
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from conftest import log_rows, require_service
from formmail.config import load_config
from test_postfix import delivered, postfix_running

WEBROOT = Path(os.environ.get("FORMMAIL_TEST_WEBROOT", "/var/www/formmail-test"))
PORT = int(os.environ.get("FORMMAIL_TEST_HTTP_PORT", "8089"))
BASE = f"http://127.0.0.1:{PORT}"


def apache_running():
    try:
        urllib.request.urlopen(BASE + "/", timeout=3)
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False
    return True


def upload(prefix, edits):
    """A fresh bundle uploaded (copied) into the web root with `edits` made to its config.ini
    (each (old, new) must be found), owned by www-data as after an FTP upload; yields
    (folder name, path) and removes it afterwards."""
    require_service(apache_running(), f"Apache is not serving {BASE} (run tests/services/apache.sh as root)")
    require_service(postfix_running(), "Postfix is not running (run tests/services/postfix.sh as root)")
    from formmail.bundle import bundle

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    folder = bundle(WEBROOT / name)
    config = (folder / "config.ini").read_text(encoding="utf-8")
    for old, new in (("sender = form@example.com", "sender = form@formmail.test"),
                     ("recipients = info@example.com", "recipients = owner@formmail.test"),
                     ("timezone =", "timezone = Asia/Tokyo"), *edits):
        assert old in config, old
        config = config.replace(old, new, 1)
    (folder / "config.ini").write_text(config, encoding="utf-8")
    load_config(folder / "config.ini")  # a broken edit fails here, not as a time-out later
    subprocess.run(["chown", "-R", "www-data:www-data", str(folder)], check=True)
    yield name, folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def site():
    yield from upload("contact", [("sender_name = Example Web Form", "sender_name = テスト商店 お問い合わせ")])


def request(path, data=None, headers=None):
    req = urllib.request.Request(BASE + path, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


def test_submission_arrives_through_apache_and_postfix(site):
    name, folder = site
    form = {"_form": "contact", "name": "山田 太郎", "email": "taro@example.jp", "phone": "03-1234-5678",
            "message": "Apache 経由の\nお問い合わせです。"}
    status, headers, page = request(f"/{name}/formmail.cgi", urlencode(form).encode(),
                                    {"Accept-Language": "ja", "Origin": BASE})
    assert status == 200, page
    assert "送信完了" in page and headers["Content-Security-Policy"].startswith("default-src 'none'")
    row, = log_rows(folder / "data")
    assert row["mail"].strip() == "sent" and row["client_address"] == "127.0.0.1"
    assert row["id"] in page
    msg = delivered(row["id"])
    assert msg["Return-Path"] == "<form@formmail.test>"
    assert msg["From"].addresses[0].display_name == "テスト商店 お問い合わせ"
    assert msg["Reply-To"].addresses[0].addr_spec == "taro@example.jp"
    assert str(msg["Subject"]) == "お問い合わせ: 山田 太郎 様"
    assert "Apache 経由の\nお問い合わせです。" in msg.get_body(("plain",)).get_content()
    assert oct((folder / "data").stat().st_mode & 0o777) == "0o700"
    assert (folder / "data").stat().st_uid == int(subprocess.check_output(["id", "-u", "www-data"]))


def test_validation_error_page(site):
    name, _ = site
    status, _, page = request(f"/{name}/formmail.cgi", urlencode({"name": "", "email": "x"}).encode(),
                              {"Accept-Language": "en"})
    assert status == 400 and "please fill this in" in page


def test_413_reaches_the_client_through_mod_cgid(site):
    """A refusal before reading must still drain the body, or mod_cgid sends an empty reply."""
    name, _ = site
    status, _, page = request(f"/{name}/formmail.cgi", b"message=" + b"x" * 1_500_000)
    assert status == 413 and "too large" in page


def test_sample_form_and_installed_page(site):
    name, _ = site
    status, _, page = request(f"/{name}/")
    assert status == 200 and 'action="formmail.cgi"' in page
    status, _, page = request(f"/{name}/formmail.cgi")
    assert status == 200 and "formmail" in page


@pytest.mark.parametrize("path", [
    "config.ini", "config.example.ini", "README.txt", ".htaccess", "lib/", "lib/werkzeug/__init__.py",
    "lib/LICENSES/", "formmail/", "formmail/config.py", "templates/", "templates/mail.txt", "data/",
    "data/.secret", "data/.htaccess",
])
def test_private_files_are_not_served(site, path):
    name, folder = site
    request(f"/{name}/formmail.cgi", urlencode({"name": "x", "email": "a@example.jp", "message": "m"}).encode())
    status, _, body = request(f"/{name}/{path}")
    assert status in (403, 404), (path, status)
    assert "sender" not in body and "import" not in body


def test_log_files_are_not_served(site):
    name, folder = site
    request(f"/{name}/formmail.cgi", urlencode({"name": "x", "email": "b@example.jp", "message": "n"}).encode())
    for csv_file in (folder / "data").glob("*.csv"):
        status, _, body = request(f"/{name}/data/{csv_file.name}")
        assert status in (403, 404) and "received_at" not in body
