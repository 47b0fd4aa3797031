"""Decides whether a POST comes from an allowed site, by its Origin header or else its Referer."""

from urllib.parse import urlsplit

from formmail.errors import Forbidden

DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(url):
    """(host, port) of a web address; the port is None when it is its scheme's default, so
    that http:// and https:// pages of one host are the same site (an HTTPS upgrade)."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or scheme not in DEFAULT_PORTS:
        return None
    return parts.hostname.lower(), None if port in (None, DEFAULT_PORTS[scheme]) else port


def own_site(environ):
    """(host, port) of this request as the client addressed it."""
    scheme = "https" if environ.get("HTTPS", "").lower() in ("on", "1") else environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    return _host_port(f"{scheme}://{host}")


def check_origin(environ, allowed, allow_missing):
    """Raise Forbidden unless the post's Origin (else Referer) is this site or in `allowed`.

    `allowed` holds origins such as https://www.example.jp; the request's own host (any scheme)
    is always allowed. A post with neither header passes only when `allow_missing` is true.
    """
    source = environ.get("HTTP_ORIGIN")
    header = "Origin"
    if not source:
        source, header = environ.get("HTTP_REFERER"), "Referer"
    if not source:
        if allow_missing:
            return
        raise Forbidden("a post without Origin or Referer")
    if source.strip().lower() == "null":
        raise Forbidden("Origin: null (a sandboxed or privacy-stripped page)")
    site = _host_port(source)
    if site is None:
        raise Forbidden(f"{header} {source[:80]!r} is not a web address")
    if site == own_site(environ) or site in {_host_port(a) for a in allowed}:
        return
    raise Forbidden(f"{header} {source[:80]!r} is not an allowed site")
