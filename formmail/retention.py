"""Removes log entries older than the retention period, streaming, under the writers' lock."""

import itertools
import os
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from formmail.errors import LogUnavailable
from formmail.store import (
    MAINTENANCE_LOCK_NAME, ROW_END, fsync_dir, is_formmail_log, iter_records,
    leading_cells, log_files,
)

TEMP_SUFFIX = ".prune.tmp"
_TEMP_NAME = re.compile(r"\..+\.prune\.tmp\Z")
# A file is judged by the dates in its name alone only when no time zone can put one of its
# rows on the other side of the cutoff: local dates differ from UTC by at most 14 hours.
ZONE_SLACK = timedelta(hours=14)
MAINTENANCE_WAIT = 60.0
WRITE_BATCH = 1024  # rows copied per write() while rewriting


@dataclass
class FileOutcome:
    """What prune did (or, in a dry run, would do) to one file."""

    name: str
    action: str  # deleted | rewritten | unchanged | not-expired | foreign | error
    removed: int = 0
    kept: int = 0
    undated: int = 0
    detail: str = ""

    def describe(self, dry_run=False):
        would = "would " if dry_run else ""
        if self.action == "deleted":
            return f"{self.name}: {would}delete the file ({self.removed} entries, all expired)"
        if self.action == "rewritten":
            extra = f"; {self.undated} undated rows kept" if self.undated else ""
            return f"{self.name}: {would}remove {self.removed} of {self.removed + self.kept} entries{extra}"
        if self.action == "foreign":
            return f"{self.name}: left alone (not a formmail log)"
        if self.action == "error":
            return f"{self.name}: NOT pruned: {self.detail}"
        return f"{self.name}: nothing to remove"


def cutoff_for(now, retention_days):
    """Entries received before this instant are expired: `retention_days` × 24 hours before now."""
    return now - timedelta(days=retention_days)


def prune(log, retention_days, now, dry_run=False, wait=MAINTENANCE_WAIT):
    """Prune every log file in `log`'s folder; return a FileOutcome per file.

    Holds the maintenance lock for the run (one prune or resend at a time) and the writers'
    lock while each file is examined and replaced, so a submission is never lost.
    """
    with log.locked(MAINTENANCE_LOCK_NAME, timeout=wait):
        return prune_locked(log, cutoff_for(now, retention_days), dry_run)


def prune_locked(log, cutoff, dry_run=False):
    """prune() for a caller that already holds the maintenance lock."""
    if not dry_run:
        remove_stale_temps(log.dir)
    outcomes = []
    for log_file in log_files(log.dir):
        try:
            outcomes.append(_prune_file(log, log_file, cutoff, dry_run))
        except (OSError, LogUnavailable) as e:
            outcomes.append(FileOutcome(log_file.path.name, "error", detail=str(e)))
    return outcomes


def remove_stale_temps(folder):
    """Delete temporary files a killed prune left (no prune runs: the caller holds its lock)."""
    for name in os.listdir(folder):
        if _TEMP_NAME.match(name):
            os.unlink(os.path.join(folder, name))


def _period_bounds(log_file):
    """The earliest and latest instants a row of this file can hold, whatever the time zone."""
    start = datetime.combine(log_file.first_day, time(), timezone.utc) - ZONE_SLACK
    end = datetime.combine(log_file.end_day, time(), timezone.utc) + ZONE_SLACK
    return start, end


def _prune_file(log, log_file, cutoff, dry_run):
    path, name = log_file.path, log_file.path.name
    if not is_formmail_log(path):
        return FileOutcome(name, "foreign")
    start, end = _period_bounds(log_file)
    if start >= cutoff:
        return FileOutcome(name, "not-expired")
    with log.locked():
        if end <= cutoff:
            removed = _count_rows(path)
            if not dry_run:
                os.unlink(path)
                fsync_dir(log.dir)
            return FileOutcome(name, "deleted", removed=removed)
        return _rewrite(log, path, cutoff, dry_run)


def _count_rows(path, chunk=1 << 20):
    """Data rows in a log file: CRLFs, less the header's."""
    count = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            count += block.count(ROW_END)
    return max(count - 1, 0)


def _expired(record, cutoff):
    """True/False for a dated row; None for a row whose date cannot be read (it is kept)."""
    cell = leading_cells(record, 1)[0]
    try:
        received = datetime.fromisoformat(cell.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    if received.tzinfo is None:
        return None
    return received < cutoff


def _rewrite(log, path, cutoff, dry_run):
    """Stream the file into a temporary copy without its expired rows, then rename it over."""
    name = path.name
    removed = kept = undated = 0
    temp = path.with_name(f".{name}{TEMP_SUFFIX}")
    out = None if dry_run else os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, log.file_mode)
    try:
        records = iter_records(path)
        batch = [header + ROW_END for _, header in itertools.islice(records, 1)]
        for _, record in records:
            verdict = _expired(record, cutoff)
            if verdict:
                removed += 1
                continue
            kept += 1
            undated += verdict is None
            batch.append(record + ROW_END)
            if len(batch) >= WRITE_BATCH:
                _write_batch(out, batch)
        _write_batch(out, batch)
        if out is not None:
            os.fsync(out)
            os.close(out)
            out = None
            if removed and not kept:  # nothing left: no empty shell (a writer recreates it)
                os.unlink(temp)
                os.unlink(path)
                fsync_dir(path.parent)
            elif removed:
                os.rename(temp, path)
                fsync_dir(path.parent)
            else:
                os.unlink(temp)
    except BaseException:
        if out is not None:
            os.close(out)
            os.unlink(temp)
        raise
    action = "deleted" if removed and not kept else "rewritten" if removed else "unchanged"
    return FileOutcome(name, action, removed, kept, undated)


def _write_batch(fd, batch):
    if fd is not None and batch:
        data = b"".join(batch)
        if os.write(fd, data) != len(data):
            raise OSError("short write to the temporary file")
    batch.clear()
