"""Writes one form's log entries over a date range as a single CSV for a spreadsheet."""

import csv
import io
from dataclasses import dataclass

from formmail.store import BOM, data_rows, header_for, is_formmail_log, log_files, parse_record, read_header

ENCODINGS = ("utf-8", "cp932")
# What Japanese software has long printed for a character it cannot show (the geta mark).
CP932_REPLACEMENT = "〓"


@dataclass
class ExportResult:
    rows: int = 0
    replaced: int = 0  # characters cp932 could not hold


def export(config, form_name, out, start=None, end=None, encoding="utf-8"):
    """Write the rows of `form_name` received from `start` to `end` (ISO dates, inclusive) to
    the binary stream `out`. Cells stay as logged (formula-looking ones keep their apostrophe)."""
    files = [f for f in log_files(config.log_dir)
             if f.form == form_name and is_formmail_log(f.path)
             and (not start or f.end_day.isoformat() > start)
             and (not end or f.first_day.isoformat() <= end)]
    headers = [read_header(f.path) for f in files]
    form = config.forms.get(form_name)
    columns = header_for(form) if form else []
    for header in headers:
        columns += [c for c in header if c not in columns]
    labels = {f.name: f.label for f in form.fields} if form else {}
    result = ExportResult()
    if encoding == "utf-8":
        out.write(BOM)
    _write(out, [labels.get(c, c) for c in columns], encoding, result)
    for log_file, header in zip(files, headers):
        for _, record in data_rows(log_file.path):
            cells = dict(zip(header, parse_record(record)))
            day = cells.get("received_at", "")[:10]
            if (start and day < start) or (end and day > end):
                continue
            _write(out, [cells.get(c, "") for c in columns], encoding, result)
            result.rows += 1
    return result


def _write(out, cells, encoding, result):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(cells)
    text = buf.getvalue()
    try:
        out.write(text.encode(encoding))
    except UnicodeEncodeError:
        chars = []
        for ch in text:
            try:
                chars.append(ch.encode(encoding))
            except UnicodeEncodeError:
                chars.append(CP932_REPLACEMENT.encode(encoding))
                result.replaced += 1
        out.write(b"".join(chars))
