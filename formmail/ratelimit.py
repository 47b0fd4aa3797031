"""Counts posts per client and in all, in a small locked file, and refuses floods cheaply."""

import hashlib
import hmac
import ipaddress
import os

from formmail.errors import LogUnavailable, TooManyRequests

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


def _read(path):
    entries = []
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                stamp, _, key = line.strip().partition(" ")
                try:
                    entries.append((float(stamp), key))
                except ValueError:
                    continue  # a torn line from a crash: ignore it
    except FileNotFoundError:
        pass
    return entries


def admit(log, key, now, per_client, window, per_hour):
    """Record one post from `key` at `now` (seconds), or raise TooManyRequests recording nothing.

    At most `per_client` posts per client in `window` seconds and `per_hour` posts in all.
    """
    path = log.dir / STATE_NAME
    with log.locked(LOCK_NAME):
        horizon = now - max(window, HOUR)
        entries = [(t, k) for t, k in _read(path) if t > horizon]
        mine = sorted(t for t, k in entries if k == key and t > now - window)
        if per_client and len(mine) >= per_client:
            raise TooManyRequests(f"{len(mine)} posts from this client in {window} s",
                                  mine[-per_client] + window - now)
        last_hour = sorted(t for t, _ in entries if t > now - HOUR)
        if per_hour and len(last_hour) >= per_hour:
            raise TooManyRequests(f"{len(last_hour)} posts in the last hour",
                                  last_hour[-per_hour] + HOUR - now)
        entries.append((now, key))
        write_state(log, path, "".join(f"{t:.3f} {k}\n" for t, k in entries))


def write_state(log, path, text):
    """Replace a small state file whole (temp file, then rename); LogUnavailable if it cannot be."""
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, log.file_mode)
        try:
            data = text.encode("ascii")
            if os.write(fd, data) != len(data):
                raise OSError("short write")
        finally:
            os.close(fd)
        os.rename(temp, path)
    except OSError as e:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise LogUnavailable(f"cannot write {path}: {e}") from None
