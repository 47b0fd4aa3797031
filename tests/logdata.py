"""Writes log rows with chosen times through the real SubmissionLog, for the log's tests."""

from datetime import datetime, timedelta, timezone

from formmail.store import SubmissionLog
from formmail.submission import Submission

JST = timezone(timedelta(hours=9))
_counter = [0]


def make_submission(when, ref=None, **values):
    _counter[0] += 1
    ref = ref or f"{when:%Y%m%d}-T{_counter[0]:05d}"
    values = {"name": "山田 太郎", "email": "taro@example.jp", "phone": "",
              "message": "お問い合わせ本文\n二行目", **values}
    return Submission(ref, when, "contact", values, (), values["email"], values["name"], "192.0.2.1")


def add_rows(config, times, status=None, **values):
    """Append one row per datetime in `times`; return the submissions. `status` marks them."""
    log = SubmissionLog.for_config(config)
    form = config.form("contact")
    subs = []
    for when in times:
        sub = make_submission(when, **values)
        entry = log.append(form, sub)
        if status:
            log.mark(entry, status)
        subs.append(sub)
    return subs


def at(text):
    return datetime.fromisoformat(text)


def plant_rows(config, when, count, tag="OLD"):
    """Append `count` rows dated `when` to the file of `when`'s period in one write, under the
    writers' lock (as fast as a prune test needs: one append per row would take minutes)."""
    from formmail.store import encode_row, header_for, row_for

    log = SubmissionLog.for_config(config)
    form = config.form("contact")
    header = encode_row(header_for(form))
    rows = b"".join(encode_row(row_for(form, make_submission(when, ref=f"{when:%Y%m%d}-{tag}{i:05d}")))
                    for i in range(count))
    with log.locked():
        path = log._file_for(form.name, when, header)
        log.append_rows(path, header, rows)
    return path


def period_start(when):
    """The first instant of `when`'s month, in its own time zone."""
    return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
