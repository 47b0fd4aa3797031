"""Sends again the submissions whose mail did not go out, and records each new outcome."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from formmail.app import log_error
from formmail.errors import RequestError
from formmail.spamlog import SPAM_FORM
from formmail.store import (
    FAILED, MAINTENANCE_LOCK_NAME, PENDING, SENT, Entry, data_rows, is_formmail_log,
    leading_cells, log_files, parse_record, read_header, submission_from_row,
)

# A pending row younger than this may still be in the hands of the request that wrote it
# (an MTA can take up to mail_timeout), so resend leaves it for a later run.
IN_FLIGHT = timedelta(minutes=15)


@dataclass
class ResendSummary:
    sent: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    waiting: list = field(default_factory=list)  # pending, possibly still in flight
    orphaned: list = field(default_factory=list)  # rows of forms no longer in the config

    @property
    def still_pending(self):
        return bool(self.failed or self.waiting or self.orphaned)

    def lines(self):
        yield (f"resent {len(self.sent)}, still failing {len(self.failed)}, "
               f"too recent to resend {len(self.waiting)}, form no longer configured {len(self.orphaned)}")
        for label, ids in (("sent", self.sent), ("failed again", self.failed),
                           ("too recent", self.waiting), ("no form", self.orphaned)):
            for ref in ids:
                yield f"  {label}: {ref}"


def unsent_rows(path):
    """(offset, header, cells) of every row in a log file whose mail status is not `sent`."""
    header = read_header(path)
    for offset, record in data_rows(path):
        status = leading_cells(record, 3)[2].strip().decode("ascii", "replace")
        if status != SENT:
            yield offset, header, parse_record(record)


def resend(app, now, wait=60.0):
    """Resend every failed mail, and every pending one older than IN_FLIGHT; never a sent one."""
    summary = ResendSummary()
    log = app.log
    with log.locked(MAINTENANCE_LOCK_NAME, timeout=wait):
        for log_file in log_files(log.dir):
            if log_file.form == SPAM_FORM or not is_formmail_log(log_file.path):
                continue
            form = app.config.forms.get(log_file.form)
            for offset, header, cells in unsent_rows(log_file.path):
                ref = f"{log_file.path.name} {cells[1] if len(cells) > 1 else '?'}"
                if form is None:
                    summary.orphaned.append(ref)
                    continue
                if not _due(cells, now):
                    summary.waiting.append(ref)
                    continue
                prefix = f"{cells[0]},{cells[1]},".encode("ascii")
                try:
                    submission = submission_from_row(form, header, cells)
                    msg = app.compose(form, submission)
                except (RequestError, ValueError, KeyError) as e:
                    log_error(f"cannot rebuild {ref} for resending: {e}")
                    summary.failed.append(ref)
                    continue
                ok = app.deliver(msg, Entry(log_file.path, offset, prefix), submission)
                (summary.sent if ok else summary.failed).append(ref)
    return summary


def _due(cells, now):
    status = cells[2].strip()
    if status == FAILED:
        return True
    if status != PENDING:
        return True  # an unknown status was not a success either
    try:
        return datetime.fromisoformat(cells[0]) <= now - IN_FLIGHT
    except ValueError:
        return True
