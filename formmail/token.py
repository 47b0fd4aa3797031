"""Signs and checks the hidden time token that tells a person's post from a bot's."""

import base64
import hashlib
import hmac

from formmail.errors import FormExpired, SpamDetected

TOKEN_FIELD = "_token"


def _signature(secret, issued, form):
    digest = hmac.new(secret, f"{issued}.{form}".encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def issue(secret, form, now):
    """A token for `form` issued at `now` (seconds since the epoch)."""
    issued = int(now)
    return f"{issued}.{_signature(secret, issued, form)}"


def verify(secret, form, token, now, min_seconds, max_age):
    """Accept a token issued for `form` between `max_age` and `min_seconds` seconds ago.

    Missing, forged or old: FormExpired (a person reloads the page). Sent sooner than a person
    can fill in a form: SpamDetected.
    """
    issued_text, _, signature = (token or "").partition(".")
    if not issued_text.isdigit() or not hmac.compare_digest(
            signature.encode("ascii", "replace"), _signature(secret, int(issued_text), form).encode("ascii")):
        raise FormExpired("missing or forged time token")
    age = now - int(issued_text)
    if age > max_age or age < -60:
        raise FormExpired(f"time token {int(age)} s old")
    if age < min_seconds:
        raise SpamDetected("too_fast", f"sent {age:.0f} s after the form was loaded")
