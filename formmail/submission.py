"""The record of one accepted submission: its reference id, time, form, values and client."""

import secrets
from dataclasses import dataclass
from datetime import datetime

# Crockford's base32 alphabet: no I, L, O or U, so a reference read over the phone is unambiguous.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_RANDOM_CHARS = 6


def new_reference(when):
    """A reference id such as 20261203-7K3QF9: the local date, then 30 random bits."""
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(REFERENCE_RANDOM_CHARS))
    return f"{when:%Y%m%d}-{tail}"


@dataclass(frozen=True)
class Submission:
    """What is logged and mailed for one valid post."""

    id: str
    received_at: datetime
    form: str
    values: dict
    extras: tuple = ()
    reply_to: str = None
    reply_name: str = None
    remote_addr: str = ""

    @property
    def received_iso(self):
        """ISO 8601 with the UTC offset, to the second."""
        return self.received_at.isoformat(timespec="seconds")
