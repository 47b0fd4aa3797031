"""Parses a bounded request body into decoded (name, value) pairs, in UTF-8, Shift_JIS or EUC-JP."""

from urllib.parse import unquote_to_bytes

from formmail.errors import (
    FieldError, MalformedBody, PayloadTooLarge, TooManyFields, UnknownCharset,
    UnsupportedMediaType, ValidationFailed,
)

# Labels a browser may send (WHATWG Encoding Standard names and common aliases), mapped to
# the Python codec that decodes what browsers really send: "Shift_JIS" forms carry the
# Windows-31J (cp932) extensions such as ① and ㈱, so cp932 is the right decoder for them.
CHARSETS = {
    "utf-8": "utf-8", "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ms_kanji": "cp932", "csshiftjis": "cp932", "windows-31j": "cp932", "cp932": "cp932",
    "ms932": "cp932",
    "euc-jp": "euc_jp", "x-euc-jp": "euc_jp", "cseucpkdfmtjapanese": "euc_jp", "eucjp": "euc_jp",
}
CHARSET_FIELD = "_charset_"
# RFC 2046 allows 70 characters; some clients (werkzeug's test client among them) send longer
# ones, which cost nothing to accept.
MAX_BOUNDARY = 200


class Upload:
    """One file part of a multipart body: its field, the browser's file name and the bytes."""

    __slots__ = ("field", "filename", "data")

    def __init__(self, field, filename, data):
        self.field, self.filename, self.data = field, filename, data


class RawForm:
    """Undecoded form pairs, plus the files a multipart body carried (empty file inputs dropped)."""

    def __init__(self, pairs, files=()):
        self.pairs = pairs
        self.files = list(files)


def parse_body(content_type, params, body, *, max_fields):
    """Split `body` by its media type into RawForm; raise a RequestError when it cannot be."""
    if content_type == "application/x-www-form-urlencoded":
        return RawForm(parse_urlencoded(body, max_fields=max_fields))
    if content_type == "multipart/form-data":
        boundary = params.get("boundary", "")
        if not boundary or len(boundary) > MAX_BOUNDARY:
            raise MalformedBody("multipart body without a valid boundary")
        return parse_multipart(body, boundary.encode("latin-1"), max_fields=max_fields)
    raise UnsupportedMediaType(f"media type {content_type!r}")


def parse_urlencoded(body, *, max_fields):
    """Split an application/x-www-form-urlencoded body into raw (name, value) byte pairs."""
    pairs = []
    for piece in body.split(b"&"):
        if not piece:
            continue
        if len(pairs) >= max_fields:
            raise TooManyFields(f"more than {max_fields} fields", limit=max_fields)
        name, _, value = piece.partition(b"=")
        pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _unquote(raw):
    return unquote_to_bytes(raw.replace(b"+", b" "))


def parse_multipart(body, boundary, *, max_fields):
    """Split a multipart/form-data body into raw pairs; file parts are noted, not kept."""
    # Imported here: werkzeug is only needed for this rarer kind of body.
    from werkzeug.exceptions import RequestEntityTooLarge
    from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

    decoder = MultipartDecoder(boundary, max_form_memory_size=len(body) + 1, max_parts=max_fields)
    pairs, files = [], []
    current, chunks, upload = None, [], None
    try:
        decoder.receive_data(body)
        decoder.receive_data(None)
        while True:
            event = decoder.next_event()
            if isinstance(event, (Epilogue, NeedData)):
                break
            if isinstance(event, File):
                current, chunks, upload = None, [], Upload(event.name or "", event.filename or "", b"")
            elif isinstance(event, Field):
                if event.name is None:
                    raise MalformedBody("a multipart part has no field name")
                current, chunks, upload = event.name, [], None
            elif isinstance(event, Data) and upload is not None:
                chunks.append(event.data)
                if not event.more_data:
                    upload.data = b"".join(chunks)
                    if upload.filename or upload.data:  # an empty file input sends an empty part
                        files.append(upload)
                    upload, chunks = None, []
            elif isinstance(event, Data) and current is not None:
                chunks.append(event.data)
                if not event.more_data:
                    # werkzeug decoded the part's headers as UTF-8; give the name back as bytes.
                    pairs.append((current.encode("utf-8"), b"".join(chunks)))
                    current = None
        if not isinstance(event, Epilogue):
            raise MalformedBody("the multipart body ends early")
    except RequestEntityTooLarge:
        raise TooManyFields(f"more than {max_fields} parts", limit=max_fields) from None
    except ValueError as e:
        raise MalformedBody(f"malformed multipart body: {e}") from None
    return RawForm(pairs, files)


def charset_of(raw_form, request_charset):
    """The codec for the form: its `_charset_` field, else the request's charset, else UTF-8."""
    label = None
    for name, value in raw_form.pairs:
        if name == CHARSET_FIELD.encode():
            label = value.decode("ascii", "replace")
            break
    label = (label or request_charset or "utf-8").strip().lower()
    codec = CHARSETS.get(label)
    if codec is None:
        raise UnknownCharset(f"character encoding {label[:40]!r}", charset=label[:40])
    return codec


def decode_pairs(raw_form, codec):
    """Decode names and values strictly; a field whose bytes are invalid is named in the error."""
    decoded, errors = [], []
    for name, value in raw_form.pairs:
        try:
            text_name = name.decode(codec)
        except UnicodeDecodeError:
            errors.append(FieldError("(field name)", "bad_encoding", charset=codec))
            continue
        try:
            decoded.append((text_name, value.decode(codec)))
        except UnicodeDecodeError:
            errors.append(FieldError(text_name, "bad_encoding", charset=codec))
            decoded.append((text_name, value.decode(codec, "replace")))
    if errors:
        raise ValidationFailed(errors, decoded)
    return decoded


def check_length(content_length, limit):
    """Refuse a declared body length over `limit` before a byte is read."""
    if content_length is not None and content_length > limit:
        raise PayloadTooLarge(f"body of {content_length} bytes over {limit}", limit=limit)
