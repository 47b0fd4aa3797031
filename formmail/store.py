"""The write-ahead submission log: one CSV file per form and month, appended durably under a lock."""

import csv
import errno
import fcntl
import io
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from formmail.errors import LogUnavailable

BOM = "\ufeff".encode("utf-8")
ROW_END = b"\r\n"
FIXED_COLUMNS = ("received_at", "id", "mail")
LOG_SIGNATURE = BOM + b"received_at,id,mail,"
TRAILING_COLUMNS = ("other_fields", "client_address")
# The mail column is overwritten in place once the MTA has answered, so every status has
# the same width: a row never changes length and a crash can never tear it.
PENDING, SENT, FAILED = "pending", "sent", "failed"
STATUS_WIDTH = 7
LOCK_NAME = ".lock"
MAINTENANCE_LOCK_NAME = ".maintenance.lock"  # one prune or resend at a time
LOCK_TIMEOUT = 10.0
FILE_MODE = 0o600
DIR_MODE = 0o700
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection");
# "'" is in the set so that neutralising stays reversible.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
HTACCESS = (
    "# Written by formmail: this folder holds personal data and must never be served.\n"
    "<IfModule mod_authz_core.c>\n    Require all denied\n</IfModule>\n"
    "<IfModule !mod_authz_core.c>\n    Order deny,allow\n    Deny from all\n</IfModule>\n"
)


def neutralize(cell):
    """Prefix a cell that a spreadsheet would run as a formula with an apostrophe."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def restore(cell):
    """Undo neutralize()."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_START) else cell


def status_cell(status):
    return status.ljust(STATUS_WIDTH)


def header_for(form):
    return [*FIXED_COLUMNS, *(f.name for f in form.fields), *TRAILING_COLUMNS]


def row_for(form, submission, status=PENDING):
    extras = "\n".join(f"{name}: {value}" for name, value in submission.extras)
    return [
        submission.received_iso, submission.id, status_cell(status),
        *(submission.values.get(f.name, "") for f in form.fields),
        extras, submission.remote_addr,
    ]


_EXTRA_LINE = re.compile(r"([^:\n]{1,64}): (.*)\Z")


def parse_extras(cell):
    """Undo the `name: value` lines of the other_fields cell (continuation lines rejoin)."""
    pairs = []
    for line in cell.split("\n") if cell else ():
        m = _EXTRA_LINE.match(line)
        if m or not pairs:
            pairs.append(list(m.groups()) if m else ["other", line])
        else:
            pairs[-1][1] += "\n" + line
    return [tuple(p) for p in pairs]


def submission_from_row(form, header, cells):
    """The Submission a logged row records, for `form` as configured now.

    Columns of fields the form no longer lists come back as extras: nothing is dropped.
    """
    from formmail.submission import Submission

    row = dict(zip(header, (restore(c) for c in cells)))
    values = {f.name: row.get(f.name, "") for f in form.fields}
    known = {*FIXED_COLUMNS, *TRAILING_COLUMNS, *values}
    extras = [(n, row[n]) for n in header if n not in known and row.get(n)]
    extras += parse_extras(row.get("other_fields", ""))
    return Submission(
        id=row["id"], received_at=datetime.fromisoformat(row["received_at"]), form=form.name,
        values=values, extras=tuple(extras),
        reply_to=values.get(form.reply_to) or None if form.reply_to else None,
        reply_name=values.get(form.reply_to_name) or None if form.reply_to_name else None,
        remote_addr=row.get("client_address", ""),
    )


def encode_row(cells):
    """One CSV row in UTF-8, formula cells neutralised, CRLF-terminated; values hold LF only."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(
        [neutralize(c.replace("\r\n", "\n").replace("\r", "\n")) for c in cells])
    return buf.getvalue().encode("utf-8")


ROTATIONS = {"daily": "%Y-%m-%d", "monthly": "%Y-%m", "yearly": "%Y"}
_LOG_NAME = re.compile(
    r"(?P<form>_spam|[A-Za-z0-9][A-Za-z0-9_-]{0,31})-(?P<year>\d{4})(?:-(?P<month>\d{2}))?"
    r"(?:-(?P<day>\d{2}))?(?:_part(?P<part>\d{1,4}))?\.csv\Z")


def file_name(form_name, when, part=1, rotation="monthly"):
    """`contact-2026-12.csv`: the form and the period at a glance; `_part2` after a field change."""
    suffix = "" if part == 1 else f"_part{part}"
    return f"{form_name}-{when.strftime(ROTATIONS[rotation])}{suffix}.csv"


@dataclass(frozen=True)
class LogFile:
    """A file in log_dir whose name is one formmail gives: its form and the dates it covers."""

    path: Path
    form: str
    first_day: date
    end_day: date  # the day after the period

    @classmethod
    def parse(cls, path):
        """The LogFile for `path`, or None for a name formmail does not write."""
        m = _LOG_NAME.match(Path(path).name)
        if not m:
            return None
        year, month, day = int(m["year"]), m["month"], m["day"]
        try:
            if day:
                first = date(year, int(month), int(day))
                end = first + timedelta(days=1)
            elif month:
                first = date(year, int(month), 1)
                end = date(year + (first.month == 12), first.month % 12 + 1, 1)
            else:
                first, end = date(year, 1, 1), date(year + 1, 1, 1)
        except ValueError:
            return None
        return cls(Path(path), m["form"], first, end)


def log_files(log_dir):
    """Every file in `log_dir` named as formmail names its logs, oldest period first."""
    try:
        names = os.listdir(log_dir)
    except FileNotFoundError:
        return []
    found = [LogFile.parse(Path(log_dir) / n) for n in names]
    return sorted((f for f in found if f), key=lambda f: (f.first_day, f.path.name))


# The spam log (refused posts, see spamlog.py) shares the log's folder, format and pruning.
SPAM_HEADER = ("received_at", "reason", "form", "client_address", "user_agent")
SPAM_SIGNATURE = BOM + ",".join(SPAM_HEADER[:2]).encode("ascii") + b","


def is_formmail_log(path):
    """True if the file starts as formmail's logs (or its spam log) do, or is empty."""
    try:
        with open(path, "rb") as f:
            start = f.read(len(LOG_SIGNATURE))
    except OSError:
        return False
    return start == b"" or start == LOG_SIGNATURE or start.startswith(SPAM_SIGNATURE)


def iter_records(path, chunk=1 << 20):
    """Stream (offset, record bytes without CRLF) through a log file, header first.

    Every row ends in CRLF and no cell holds a CR (values keep LF only), so splitting on CRLF
    is exact. A torn last record without CRLF is not yielded.
    """
    with open(path, "rb") as f:
        offset, carry = 0, b""
        while True:
            block = f.read(chunk)
            if not block:
                return
            data = carry + block
            start = 0
            while True:
                end = data.find(ROW_END, start)
                if end < 0:
                    break
                yield offset + start, data[start:end]
                start = end + 2
            offset += start
            carry = data[start:]


def read_header(path):
    """The column names of a log file ([] for an empty file)."""
    first = next(iter_records(path), None)
    return parse_record(first[1]) if first else []


def data_rows(path):
    """(offset, record bytes) of every row after the header."""
    records = iter_records(path)
    next(records, None)
    return records


def parse_record(record):
    """The cells of one record, decoded (the BOM of a header record dropped)."""
    text = record.decode("utf-8", "replace")
    return next(csv.reader([text.lstrip("\ufeff")]), [])


def leading_cells(record, n):
    """The first n cells of a record, fast: formmail's first cells are never quoted."""
    return record.split(b",", n)[:n]


@dataclass(frozen=True)
class Entry:
    """Where one appended row lies, so its mail status can be updated."""

    path: Path
    offset: int
    prefix: bytes


def ensure_private_dir(path, mode=DIR_MODE):
    """Create `path` (and a deny-all .htaccess in it: Apache must never serve the log, wherever
    the folder is) with a private mode if it is missing."""
    path = Path(path)
    if not path.is_dir():
        os.makedirs(path, mode=mode, exist_ok=True)
        os.chmod(path, mode)
    htaccess = path / ".htaccess"
    if not htaccess.exists():
        _write_new(htaccess, HTACCESS.encode("ascii"), FILE_MODE)


def web_root_containing(path):
    """The web folder that holds `path` ($DOCUMENT_ROOT, or the folder of formmail.cgi), or None."""
    roots = [Path(__file__).resolve().parent.parent]
    if os.environ.get("DOCUMENT_ROOT"):
        roots.append(Path(os.environ["DOCUMENT_ROOT"]).resolve())
    target = Path(path).resolve()
    for root in roots:
        if target == root or root in target.parents:
            return root
    return None


def _write_new(path, data, mode):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class SubmissionLog:
    """Appends rows to the CSV files in `log_dir`; every writer holds `log_dir/.lock`."""

    def __init__(self, log_dir, file_mode=FILE_MODE, dir_mode=DIR_MODE, lock_timeout=LOCK_TIMEOUT,
                 rotation="monthly"):
        self.dir = Path(log_dir)
        self.file_mode = file_mode
        self.dir_mode = dir_mode
        self.lock_timeout = lock_timeout
        self.rotation = rotation

    @classmethod
    def for_config(cls, config):
        return cls(config.log_dir, config.file_mode, config.dir_mode, rotation=config.rotation)

    def locked(self, name=LOCK_NAME, timeout=None):
        """Hold the named exclusive lock in the log folder (writers' lock by default);
        LogUnavailable if it cannot be had within `timeout` seconds (0: do not wait)."""
        return _flock(self, name, self.lock_timeout if timeout is None else timeout)

    def append(self, form, submission):
        """Write the submission's row, fsynced, before anything is mailed; return its Entry."""
        header = encode_row(header_for(form))
        row = encode_row(row_for(form, submission))
        prefix = f"{submission.received_iso},{submission.id},".encode("ascii")
        with self.locked():
            path = self._file_for(form.name, submission.received_at, header)
            try:
                return Entry(path, self.append_rows(path, header, row), prefix)
            except OSError as e:
                raise LogUnavailable(f"cannot write {path}: {e}") from None

    def _file_for(self, form_name, when, header):
        """The period's file whose header matches; a changed field list starts _part2, _part3..."""
        part = 1
        while True:
            path = self.dir / file_name(form_name, when, part, self.rotation)
            try:
                with open(path, "rb") as f:
                    first = f.read(len(BOM) + len(header))
            except FileNotFoundError:
                return path
            except OSError as e:
                raise LogUnavailable(f"cannot read {path}: {e}") from None
            if first in (b"", BOM + header):
                return path
            part += 1

    def append_rows(self, path, header, rows):
        """Append encoded rows to `path` in one write (the header first in a new file), fsynced;
        a torn tail is cut first, and a failed write is truncated away. The caller holds the
        writers' lock. Returns the offset of the first row."""
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, self.file_mode)
        try:
            size = os.fstat(fd).st_size
            if size:
                size = _drop_torn_tail(fd, size, path)
            created = size == 0
            data = (BOM + header + rows) if created else rows
            offset = size + (len(BOM) + len(header) if created else 0)
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # leave no partial row behind
                raise
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.dir)
        return offset

    def mark(self, entry, status):
        """Overwrite the row's mail status in place (same width), fsynced."""
        cell = status_cell(status).encode("ascii")
        with self.locked():
            try:
                fd = os.open(entry.path, os.O_RDWR)
            except FileNotFoundError:
                return False  # pruned meanwhile: nothing left to mark
            try:
                offset = entry.offset
                if os.pread(fd, len(entry.prefix), offset) != entry.prefix:
                    offset = _find_row(fd, entry.prefix)  # the file was rewritten (prune)
                    if offset is None:
                        return False
                os.pwrite(fd, cell, offset + len(entry.prefix))
                os.fsync(fd)
                return True
            finally:
                os.close(fd)


@contextmanager
def _flock(log, name, timeout):
    try:
        ensure_private_dir(log.dir, log.dir_mode)
        fd = os.open(log.dir / name, os.O_RDWR | os.O_CREAT, log.file_mode)
    except OSError as e:
        raise LogUnavailable(f"cannot open the log folder {log.dir}: {e}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LogUnavailable(f"{name} in {log.dir} stayed locked too long") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def _drop_torn_tail(fd, size, path):
    """Cut a row left unfinished by a power loss, so the next row starts on a line of its own."""
    if size >= 2 and os.pread(fd, 2, size - 2) == ROW_END:
        return size
    tail_start = max(0, size - 1_000_000)
    tail = os.pread(fd, size - tail_start, tail_start)
    cut = tail.rfind(ROW_END)
    keep = tail_start + cut + 2 if cut >= 0 else 0
    print(f"formmail: {path}: removed {size - keep} bytes of an unfinished row", file=sys.stderr)
    os.ftruncate(fd, keep)
    return keep


def _find_row(fd, prefix, chunk=1 << 20):
    """Offset of the row starting with `prefix`, streaming the file; None if it is gone."""
    needle = ROW_END + prefix
    pos, carry = 0, b""
    while True:
        block = os.pread(fd, chunk, pos)
        if not block:
            return None
        data = carry + block
        i = data.find(needle)
        if i >= 0:
            return pos - len(carry) + i + len(ROW_END)
        carry = data[-len(needle):]
        pos += len(block)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
