"""Remembers recent submissions, so that a double click or a reload is mailed and logged once."""

import hashlib
import json

from formmail import statefile

STATE_NAME = ".recent"
LOCK_NAME = ".recent.lock"


def fingerprint(form_name, cleaned):
    """The same form with the same values gives the same fingerprint."""
    data = json.dumps([form_name, sorted(cleaned.values.items()), list(cleaned.extras)],
                      ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _entries(path, now, window):
    """{fingerprint: (time, reference)} of the claims younger than `window`."""
    return {f[0]: (t, f[1]) for t, f in statefile.read(path, now - window) if len(f) == 2}


def _write(log, path, entries):
    statefile.write(log, path, [(t, [fp, ref]) for fp, (t, ref) in entries.items()])


def claim(log, fp, reference, now, window):
    """The reference of the same submission seen within `window` seconds, or None after
    claiming `fp` for `reference` (atomically: of two identical posts at once, one wins)."""
    path = log.dir / STATE_NAME
    with log.locked(LOCK_NAME):
        entries = _entries(path, now, window)
        if fp in entries:
            return entries[fp][1]
        entries[fp] = (now, reference)
        _write(log, path, entries)
    return None


def release(log, fp, now, window):
    """Forget a claim whose submission could not be recorded, so that a retry is not a duplicate."""
    path = log.dir / STATE_NAME
    with log.locked(LOCK_NAME):
        entries = _entries(path, now, window)
        if entries.pop(fp, None) is not None:
            _write(log, path, entries)
