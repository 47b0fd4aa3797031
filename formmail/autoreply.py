"""Sends the visitor's automatic reply (自動返信), at most once per address per period."""

import hashlib
import hmac

from formmail.errors import FormmailError
from formmail.message import AUTOREPLY_HEADERS, check_headers, compose_autoreply, serialize
from formmail import statefile

STATE_NAME = ".autoreply"
LOCK_NAME = ".autoreply.lock"


def _key(secret, address):
    return hmac.new(secret, address.lower().encode("utf-8"), hashlib.sha256).hexdigest()[:20]


def claim(log, secret, address, now, interval):
    """True if `address` may get an auto-reply at `now` (and record it); False if it had one
    within `interval` seconds. A flood of posts naming a victim gives the victim one mail."""
    path = log.dir / STATE_NAME
    key = _key(secret, address)
    with log.locked(LOCK_NAME):
        entries = {f[0]: t for t, f in statefile.read(path, now - interval) if f}
        if key in entries:
            return False
        entries[key] = now
        statefile.write(log, path, [(t, [k]) for k, t in entries.items()])
    return True


def send_autoreply(app, form, submission, now):
    """Compose, check and send the auto-reply; failures go to the error log only."""
    from formmail.app import log_error

    try:
        if not claim(app.log, app.secret, submission.reply_to, now.timestamp(),
                     form.autoreply_interval_minutes * 60):
            return False
        body = app.templates.render(form.autoreply_template, submission=submission, form=form)
        msg = compose_autoreply(app.config, form, submission, body)
        check_headers(serialize(msg), [submission.reply_to], form.recipients[0], AUTOREPLY_HEADERS)
        app.transport.send(msg, app.config.envelope_sender, [submission.reply_to])
        return True
    except (FormmailError, OSError) as e:
        log_error(f"auto-reply for submission {submission.id} not sent: {e}")
        return False
