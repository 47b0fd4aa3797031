"""Prunes the log at most once a day from ordinary requests, for hosts without cron."""

import sys
import traceback

from formmail.errors import LogUnavailable
from formmail.retention import cutoff_for, prune_locked
from formmail.store import MAINTENANCE_LOCK_NAME

STAMP_NAME = ".last-prune"
INTERVAL_SECONDS = 24 * 3600


def last_prune(log):
    """When the last automatic prune started (seconds since the epoch), or None."""
    try:
        return (log.dir / STAMP_NAME).stat().st_mtime
    except OSError:
        return None


def prune_if_due(config, log, now):
    """Prune if auto_prune is on and a day has passed since the last one; never raises.

    Takes the maintenance lock without waiting: if a prune or resend is running, this request
    simply leaves the work to it. Returns the outcomes, or None when nothing ran.
    """
    if not config.auto_prune or not log.dir.is_dir():
        return None
    moment = now.timestamp()
    last = last_prune(log)
    if last is not None and moment - last < INTERVAL_SECONDS:
        return None
    try:
        with log.locked(MAINTENANCE_LOCK_NAME, timeout=0):
            last = last_prune(log)  # another process may have pruned while we looked
            if last is not None and moment - last < INTERVAL_SECONDS:
                return None
            _stamp(log, moment)
            return prune_locked(log, cutoff_for(now, config.retention_days))
    except LogUnavailable:
        return None
    except Exception:
        print("formmail: automatic prune failed:\n" + traceback.format_exc(), file=sys.stderr)
        return None


def _stamp(log, moment):
    import os

    path = log.dir / STAMP_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, log.file_mode)
    os.close(fd)
    os.utime(path, (moment, moment))
