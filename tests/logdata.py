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
