"""Reads a request body within its size limit, and drains what a refused request still sent."""

from formmail.errors import LengthRequired, MalformedBody, PayloadTooLarge

CHUNK = 64 * 1024
# How much of an unwanted body is read and thrown away before the answer. mod_cgid gives the
# client an empty reply when a CGI exits without reading its input, so a refusal must drain;
# past this bound a client sending more is not worth the server's time.
DRAIN_LIMIT = 16 * 1024 * 1024
_READ_KEY = "formmail.body_read"


def content_length(environ):
    raw = environ.get("CONTENT_LENGTH", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise MalformedBody(f"Content-Length {raw[:20]!r}")
    return int(raw)


def read_body(environ, limit):
    """The whole body, at most `limit` bytes; 413 is decided from Content-Length before reading."""
    length = content_length(environ)
    stream = environ["wsgi.input"]
    if length is None:
        if not environ.get("wsgi.input_terminated"):
            raise LengthRequired("POST without Content-Length")
        data = _read(environ, stream, limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"body over {limit}", limit=limit)
        return data
    if length > limit:
        raise PayloadTooLarge(f"body of {length} bytes over {limit}", limit=limit)
    data = _read(environ, stream, length)
    if len(data) < length:
        raise MalformedBody(f"body ended after {len(data)} of {length} bytes")
    return data


def _read(environ, stream, n):
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(min(CHUNK, n - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
        environ[_READ_KEY] = environ.get(_READ_KEY, 0) + len(chunk)
    return b"".join(chunks)


def drain(environ):
    """Read and discard what is left of a declared body, up to DRAIN_LIMIT bytes."""
    try:
        length = content_length(environ)
    except MalformedBody:
        return
    if length is None:
        return
    left = min(length - environ.get(_READ_KEY, 0), DRAIN_LIMIT)
    stream = environ["wsgi.input"]
    try:
        while left > 0:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
    except OSError:
        pass  # the client went away; nothing left to protect
