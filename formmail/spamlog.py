"""A brief record of refused posts, without any field value: when, why, which form, from where.

It lives beside the submission log as `_spam-YYYY-MM.csv` and is pruned with it.
"""

from formmail.store import SPAM_HEADER, encode_row, file_name

SPAM_FORM = "_spam"


def record(log, when, reason, form, address, user_agent):
    """Append one refusal; errors are swallowed (a refusal must never become a 500)."""
    try:
        row = encode_row([when.isoformat(timespec="seconds"), reason, form or "",
                          (address or "")[:64], (user_agent or "")[:200]])
        with log.locked():
            log.append_rows(log.dir / file_name(SPAM_FORM, when), encode_row(list(SPAM_HEADER)), row)
    except Exception as e:  # noqa: BLE001 - the spam log is best effort by design
        from formmail.app import log_error

        log_error(f"could not record a refused post in the spam log: {e}")
