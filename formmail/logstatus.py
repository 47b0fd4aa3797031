"""Counts what the log holds: submissions and mail status per form, oldest entry, next prune."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from formmail.housekeeping import INTERVAL_SECONDS, last_prune
from formmail.retention import cutoff_for
from formmail.spamlog import SPAM_FORM
from formmail.store import data_rows, is_formmail_log, leading_cells, log_files


@dataclass
class FormCounts:
    files: int = 0
    entries: int = 0
    mail: Counter = field(default_factory=Counter)
    oldest: str = ""


def summarize(config, log):
    """Per-form counts, refused posts by reason, and files in log_dir that look like logs but
    are not."""
    forms, foreign, refused = {}, [], Counter()
    for log_file in log_files(log.dir):
        if not is_formmail_log(log_file.path):
            foreign.append(log_file.path.name)
            continue
        if log_file.form == SPAM_FORM:
            refused.update(leading_cells(r, 2)[1].decode("ascii", "replace") for _, r in data_rows(log_file.path))
            continue
        counts = forms.setdefault(log_file.form, FormCounts())
        counts.files += 1
        for _, record in data_rows(log_file.path):
            received, _, status = (c.decode("ascii", "replace") for c in leading_cells(record, 3))
            counts.entries += 1
            counts.mail[status.strip()] += 1
            if not counts.oldest or received < counts.oldest:
                counts.oldest = received
    return forms, foreign, refused


def report(config, log, now):
    """The lines `status` prints."""
    forms, foreign, refused = summarize(config, log)
    yield f"log folder: {log.dir}"
    if not forms:
        yield "  no submissions recorded"
    for name, c in sorted(forms.items()):
        note = "" if name in config.forms else " (form no longer in the config)"
        yield (f"  form {name}{note}: {c.entries} submissions in {c.files} files; mail sent "
               f"{c.mail['sent']}, failed {c.mail['failed']}, pending {c.mail['pending']}; "
               f"oldest {c.oldest or '-'}")
    for name in foreign:
        yield f"  {name}: not a formmail log (left alone by prune)"
    if refused:
        reasons = ", ".join(f"{reason} {n}" for reason, n in refused.most_common())
        yield f"refused posts (not mailed, not logged): {sum(refused.values())}: {reasons}"
    cutoff = cutoff_for(now, config.retention_days)
    yield f"retention: {config.retention_days} days; entries before {cutoff.isoformat(timespec='seconds')} are due for removal"
    if config.auto_prune:
        last = last_prune(log)
        if last is None:
            yield "next automatic prune: with the next request"
        else:
            due = datetime.fromtimestamp(last, now.tzinfo) + timedelta(seconds=INTERVAL_SECONDS)
            yield f"next automatic prune: with the first request after {due.isoformat(timespec='seconds')}"
    else:
        yield "automatic prune: off (auto_prune = no); run `formmail.cgi prune` from cron"
    pending = sum(c.mail["failed"] + c.mail["pending"] for c in forms.values())
    if pending:
        yield f"{pending} mails not sent: run `formmail.cgi resend`"
