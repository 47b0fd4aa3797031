"""The write-ahead CSV log: format Excel opens, neutralised formulas, private modes, status marks."""

import csv
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest

from conftest import log_rows
from formmail.errors import LogUnavailable
from formmail.store import (
    BOM, FAILED, SENT, SubmissionLog, encode_row, file_name, neutralize, restore,
)
from formmail.submission import Submission

JST = timezone(timedelta(hours=9))


def sub(ref="20261203-AAAAAA", when=datetime(2026, 12, 3, 9, 0, tzinfo=JST), **values):
    values = {"name": "山田", "email": "t@example.jp", "phone": "", "message": "hi", **values}
    return Submission(ref, when, "contact", values, (), "t@example.jp", None, "192.0.2.1")


@pytest.mark.parametrize("cell, expected", [
    ("=1+1", "'=1+1"), ("+81-90-1234-5678", "'+81-90-1234-5678"), ("-5", "'-5"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("'quoted", "''quoted"),
    ("=HYPERLINK(\"http://evil.test\",\"x\")", "'=HYPERLINK(\"http://evil.test\",\"x\")"),
    ("plain", "plain"), ("", ""), ("a=b", "a=b"), ("山田", "山田"),
])
def test_neutralize_and_restore(cell, expected):
    assert neutralize(cell) == expected
    assert restore(neutralize(cell)) == cell


def test_encode_row_quotes_and_line_ends():
    row = encode_row(["a,b", 'say "hi"', "two\r\nlines", "=cmd"])
    assert row == b'"a,b","say ""hi""","two\nlines",\'=cmd\r\n'


def test_file_name_and_parse_back():
    from datetime import date

    from formmail.store import LogFile

    when = datetime(2026, 1, 31, tzinfo=JST)
    cases = [
        (file_name("contact", when), "contact-2026-01.csv", date(2026, 1, 1), date(2026, 2, 1)),
        (file_name("contact", when, 2), "contact-2026-01_part2.csv", date(2026, 1, 1), date(2026, 2, 1)),
        (file_name("order-2", when, rotation="daily"), "order-2-2026-01-31.csv",
         date(2026, 1, 31), date(2026, 2, 1)),
        (file_name("contact", datetime(2026, 12, 5), rotation="yearly"), "contact-2026.csv",
         date(2026, 1, 1), date(2027, 1, 1)),
        (file_name("shop-2025-11", datetime(2026, 12, 5)), "shop-2025-11-2026-12.csv",
         date(2026, 12, 1), date(2027, 1, 1)),
    ]
    for name, expected, first, end in cases:
        assert name == expected
        parsed = LogFile.parse(name)
        assert (parsed.first_day, parsed.end_day) == (first, end), name
    assert LogFile.parse("shop-2025-11-2026-12.csv").form == "shop-2025-11"
    for foreign in ("notes.csv", "contact-2026-13.csv", "contact-2026-02-30.csv", "contact-26.csv",
                    ".contact-2026-01.csv.prune.tmp", "contact-2026-01.csv.bak"):
        assert LogFile.parse(foreign) is None, foreign


def test_append_writes_header_bom_and_row(config, tmp_path):
    log = SubmissionLog(tmp_path / "data")
    entry = log.append(config.form("contact"), sub(message="=2+3\n二行目"))
    data = entry.path.read_bytes()
    assert data.startswith(BOM + b"received_at,id,mail,name,email,phone,message,other_fields,client_address\r\n")
    assert data.endswith(b"\r\n")
    with open(entry.path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[1] == ["2026-12-03T09:00:00+09:00", "20261203-AAAAAA", "pending", "山田",
                       "t@example.jp", "", "'=2+3\n二行目", "", "192.0.2.1"]


def test_private_modes_and_htaccess(config, tmp_path):
    os.umask(0o022)
    log = SubmissionLog(tmp_path / "data")
    entry = log.append(config.form("contact"), sub())
    assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(entry.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "data" / ".lock").st_mode) == 0o600
    assert "Require all denied" in (tmp_path / "data" / ".htaccess").read_text()
    assert "Deny from all" in (tmp_path / "data" / ".htaccess").read_text()


def test_mark_overwrites_status_in_place(config, tmp_path):
    log = SubmissionLog(tmp_path / "data")
    form = config.form("contact")
    first = log.append(form, sub("20261203-AAAAAA"))
    second = log.append(form, sub("20261203-BBBBBB"))
    size = first.path.stat().st_size
    assert log.mark(second, SENT) and log.mark(first, FAILED)
    assert first.path.stat().st_size == size
    assert [(r["id"], r["mail"].strip()) for r in log_rows(tmp_path / "data")] == [
        ("20261203-AAAAAA", "failed"), ("20261203-BBBBBB", "sent")]


def test_mark_finds_row_after_file_was_rewritten(config, tmp_path):
    log = SubmissionLog(tmp_path / "data")
    form = config.form("contact")
    log.append(form, sub("20261203-AAAAAA"))
    second = log.append(form, sub("20261203-BBBBBB"))
    # A prune removes the first row: the second one moves up.
    lines = second.path.read_bytes().split(b"\r\n")
    second.path.write_bytes(b"\r\n".join([lines[0]] + lines[2:]))
    assert log.mark(second, SENT)
    assert [(r["id"], r["mail"].strip()) for r in log_rows(tmp_path / "data")] == [("20261203-BBBBBB", "sent")]


def test_mark_of_pruned_row_or_file(config, tmp_path):
    log = SubmissionLog(tmp_path / "data")
    entry = log.append(config.form("contact"), sub())
    entry.path.write_bytes(entry.path.read_bytes().split(b"\r\n")[0] + b"\r\n")
    assert log.mark(entry, SENT) is False
    entry.path.unlink()
    assert log.mark(entry, SENT) is False


def test_months_go_to_separate_files(config, tmp_path):
    log = SubmissionLog(tmp_path / "data")
    form = config.form("contact")
    a = log.append(form, sub(when=datetime(2026, 11, 30, 23, 59, tzinfo=JST)))
    b = log.append(form, sub("20261201-BBBBBB", when=datetime(2026, 12, 1, 0, 0, tzinfo=JST)))
    assert (a.path.name, b.path.name) == ("contact-2026-11.csv", "contact-2026-12.csv")


def test_changed_field_list_starts_a_new_part(config, tmp_path):
    from dataclasses import replace

    log = SubmissionLog(tmp_path / "data")
    form = config.form("contact")
    log.append(form, sub())
    fewer = replace(form, fields=form.fields[:2])
    entry = log.append(fewer, sub("20261203-BBBBBB"))
    assert entry.path.name == "contact-2026-12_part2.csv"
    again = log.append(form, sub("20261203-CCCCCC"))
    assert again.path.name == "contact-2026-12.csv"


def test_torn_tail_is_cut_before_the_next_row(config, tmp_path, capsys):
    log = SubmissionLog(tmp_path / "data")
    form = config.form("contact")
    entry = log.append(form, sub("20261203-AAAAAA"))
    with open(entry.path, "ab") as f:
        f.write(b'2026-12-03T09:00:00+09:00,20261203-TORN00,pending,"unfinished')
    log.append(form, sub("20261203-BBBBBB"))
    assert [r["id"] for r in log_rows(tmp_path / "data")] == ["20261203-AAAAAA", "20261203-BBBBBB"]
    assert "unfinished row" in capsys.readouterr().err


def test_unwritable_folder_is_log_unavailable(config, tmp_path):
    if os.geteuid() == 0:
        target = "/proc/formmail-cannot-be-here"  # even root cannot create files in /proc
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        target = tmp_path / "ro" / "data"
    with pytest.raises(LogUnavailable):
        SubmissionLog(target).append(config.form("contact"), sub())


def test_disk_full_leaves_no_partial_row(config, small_disk):
    """A real full file system (a 64 KiB tmpfs): the append fails whole, nothing else changes."""
    log = SubmissionLog(small_disk / "data")
    form = config.form("contact")
    entry = log.append(form, sub(message="x" * 3000))
    before = entry.path.read_bytes()
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    with pytest.raises(LogUnavailable):
        log.append(form, sub("20261203-BBBBBB", message="y" * 9000))
    assert entry.path.read_bytes() == before
    filler.unlink()
    log.append(form, sub("20261203-CCCCCC"))
    assert [r["id"] for r in log_rows(small_disk / "data")] == ["20261203-AAAAAA", "20261203-CCCCCC"]


def test_lock_timeout_is_log_unavailable(config, tmp_path):
    import fcntl

    log = SubmissionLog(tmp_path / "data", lock_timeout=0.2)
    log.append(config.form("contact"), sub())
    fd = os.open(tmp_path / "data" / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(LogUnavailable, match="locked"):
            log.append(config.form("contact"), sub("20261203-BBBBBB"))
    finally:
        os.close(fd)
