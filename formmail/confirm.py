"""The confirmation step (確認画面) without a server-side session: the checked values travel in a
hidden field, signed (HMAC-SHA256 with the site secret) and dated, and come back to be sent."""

import base64
import hashlib
import hmac
import json

from formmail.errors import RequestError

PAYLOAD_FIELD = "_payload"
BACK_SCRIPT = 'document.getElementById("formmail-back").onclick = function () { history.back(); };'
BACK_SCRIPT_HASH = base64.b64encode(hashlib.sha256(BACK_SCRIPT.encode()).digest()).decode()


class ConfirmationExpired(RequestError):
    """The signed values were altered, or the confirmation page is too old."""

    code = "confirm_expired"


def _mac(secret, data):
    return base64.urlsafe_b64encode(hmac.new(secret, data, hashlib.sha256).digest()).decode("ascii").rstrip("=")


def seal(secret, form, pairs, now):
    """The hidden field's value: the form's fields and the time, signed."""
    data = json.dumps({"f": form, "t": int(now), "p": pairs}, ensure_ascii=False, separators=(",", ":"))
    raw = base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{raw}.{_mac(secret, raw.encode('ascii'))}"


def unseal(secret, form, payload, now, max_age):
    """The fields sealed for `form`, or ConfirmationExpired if altered, foreign or too old."""
    raw, _, mac = (payload or "").strip().partition(".")
    if not raw or not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(secret, raw.encode("ascii", "replace")).encode()):
        raise ConfirmationExpired("the confirmation payload was altered")
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-8"))
        pairs = [(str(n), str(v)) for n, v in data["p"]]
        issued = int(data["t"])
    except (ValueError, KeyError, TypeError):
        raise ConfirmationExpired("the confirmation payload cannot be read") from None
    if data.get("f") != form or not -60 <= now - issued <= max_age:
        raise ConfirmationExpired("the confirmation page is too old or for another form")
    return pairs
