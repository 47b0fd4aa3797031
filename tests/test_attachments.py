"""File attachments: only on forms that allow them, of allowed types and sizes, to the owner's
mail only; the log keeps name, size and hash, never the bytes."""

import io
from email import message_from_bytes, policy

import pytest
from werkzeug.test import Client

from conftest import RecordingTransport, log_rows, write_config
from formmail.app import FormMail
from formmail.attachments import safe_filename
from formmail.config import load_config
from formmail.errors import ConfigInvalid
from formmail.message import serialize

GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "message": "履歴書を添付します。"}
PDF = b"%PDF-1.4\n" + b"x" * 2000


def site(tmp_path, **form):
    config = load_config(write_config(tmp_path, form={"attachments": "cv", "max_attachment_size": "10000", **form}))
    transport = RecordingTransport()
    return Client(FormMail(config, transport=transport)), transport, config


def post(client, filename, data, field="cv"):
    return client.post("/", data={**GOOD, field: (io.BytesIO(data), filename)},
                       content_type="multipart/form-data", headers={"Accept": "application/json"})


def test_attached_to_the_owner_mail_and_described_in_the_log(tmp_path):
    client, transport, config = site(tmp_path)
    r = post(client, "職務経歴書.pdf", PDF)
    assert r.status_code == 200, r.get_json()
    msg = message_from_bytes(serialize(transport.sent[0][0]), policy=policy.default)
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "職務経歴書.pdf" and part.get_content_type() == "application/pdf"
    assert part.get_content() == PDF
    row, = log_rows(config.log_dir)
    assert "attachment cv: 職務経歴書.pdf (2,009 bytes, sha256 " in row["other_fields"]
    assert b"xxxx" not in b"".join(p.read_bytes() for p in config.log_dir.glob("*.csv"))


def test_an_empty_file_input_is_no_attachment(tmp_path):
    client, transport, _ = site(tmp_path)
    assert post(client, "", b"").status_code == 200
    assert not list(transport.sent[0][0].iter_attachments())


@pytest.mark.parametrize("filename, data, code", [
    ("virus.exe", b"MZ\x90\x00", "upload_type"),
    ("fake.pdf", b"MZ\x90\x00 not a pdf", "upload_type"),   # the content must match the name
    ("big.pdf", b"%PDF-" + b"x" * 10_000, "upload_size"),
    ("noextension", b"%PDF-", "upload_type"),
])
def test_refused_files(tmp_path, filename, data, code):
    client, transport, config = site(tmp_path)
    r = post(client, filename, data)
    assert r.status_code == 400 and r.get_json()["errors"][0]["code"] == code
    assert transport.sent == [] and log_rows(config.log_dir) == []


def test_field_not_allowed(tmp_path):
    client, transport, _ = site(tmp_path)
    r = post(client, "a.pdf", PDF, field="photo")
    assert r.status_code == 400 and r.get_json()["errors"][0] == {
        "field": "photo", "code": "upload_refused", "message": r.get_json()["errors"][0]["message"]}


@pytest.mark.parametrize("raw, safe", [
    ("C:\\\\Users\\\\taro\\\\cv.pdf", "cv.pdf"), ("../../etc/passwd.pdf", "passwd.pdf"),
    ("a\r\nContent-Type: text/html.pdf", "html.pdf"), ("a\r\nBcc: x.pdf", "a__Bcc_ x.pdf"), ("", "file"),
    ("x" * 300 + ".pdf", "x" * 96 + ".pdf"), ('"quoted".pdf', "_quoted_.pdf"),
])
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_injection_through_a_filename_stays_in_its_part(tmp_path):
    client, transport, _ = site(tmp_path)
    r = post(client, "cv\r\nBcc: victim@evil.test.pdf", PDF)
    assert r.status_code == 200
    raw = serialize(transport.sent[0][0])
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None and transport.sent[0][2] == ("owner@formmail.test",)
    assert b"\nBcc:" not in raw


def test_attachments_and_confirm_do_not_mix(tmp_path):
    with pytest.raises(ConfigInvalid, match=r"attachments: cannot be combined with confirm"):
        load_config(write_config(tmp_path, form={"attachments": "cv", "confirm": "yes"}))
