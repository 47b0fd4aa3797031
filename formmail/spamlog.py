"""A brief record of refused posts, without any field value: when, why, which form, from where.

It lives beside the submission log as `_spam-YYYY-MM.csv` and is pruned with it.
"""

import os

from formmail.store import BOM, SPAM_SIGNATURE, encode_row, file_name, fsync_dir

SPAM_FORM = "_spam"
HEADER = ("received_at", "reason", "form", "client_address", "user_agent")
assert SPAM_SIGNATURE == BOM + ",".join(HEADER[:2]).encode() + b","


def record(log, when, reason, form, address, user_agent):
    """Append one refusal; errors are swallowed (a refusal must never become a 500)."""
    try:
        row = encode_row([when.isoformat(timespec="seconds"), reason, form or "",
                          (address or "")[:64], (user_agent or "")[:200]])
        with log.locked():
            path = log.dir / file_name(SPAM_FORM, when)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, log.file_mode)
            try:
                created = os.fstat(fd).st_size == 0
                os.write(fd, (BOM + encode_row(list(HEADER)) + row) if created else row)
            finally:
                os.close(fd)
            if created:
                fsync_dir(log.dir)
    except Exception as e:  # noqa: BLE001 - the spam log is best effort by design
        from formmail.app import log_error

        log_error(f"could not record a refused post in the spam log: {e}")
