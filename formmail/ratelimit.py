"""Counts posts per client and in all, in a small locked file, and refuses floods cheaply."""

import hashlib
import hmac
import ipaddress

from formmail import statefile
from formmail.errors import TooManyRequests

STATE_NAME = ".ratelimit"
LOCK_NAME = ".ratelimit.lock"
HOUR = 3600


def client_key(secret, address):
    """A keyed hash of the client's address (an IPv6 client by its /64): no address is stored."""
    try:
        ip = ipaddress.ip_address(address)
        if ip.version == 6:
            ip = ipaddress.ip_network(f"{ip}/64", strict=False).network_address
        text = str(ip)
    except ValueError:
        text = address or "unknown"
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()[:20]


def admit(log, key, now, per_client, window, per_hour):
    """Record one post from `key` at `now` (seconds), or raise TooManyRequests recording nothing.

    At most `per_client` posts per client in `window` seconds and `per_hour` posts in all.
    """
    path = log.dir / STATE_NAME
    with log.locked(LOCK_NAME):
        entries = [(t, f[0]) for t, f in statefile.read(path, now - max(window, HOUR)) if f]
        mine = sorted(t for t, k in entries if k == key and t > now - window)
        if per_client and len(mine) >= per_client:
            raise TooManyRequests(f"{len(mine)} posts from this client in {window} s",
                                  mine[-per_client] + window - now)
        last_hour = sorted(t for t, _ in entries if t > now - HOUR)
        if per_hour and len(last_hour) >= per_hour:
            raise TooManyRequests(f"{len(last_hour)} posts in the last hour",
                                  last_hour[-per_hour] + HOUR - now)
        entries.append((now, key))
        statefile.write(log, path, [(t, [k]) for t, k in entries])
