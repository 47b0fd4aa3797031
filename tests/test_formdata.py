"""Body parsing and charset decoding: urlencoded and multipart, UTF-8, Shift_JIS, EUC-JP."""

from urllib.parse import quote_from_bytes

import pytest

from formmail.errors import (
    MalformedBody, TooManyFields, UnknownCharset, UnsupportedMediaType, ValidationFailed,
)
from formmail.formdata import RawForm, charset_of, decode_pairs, parse_body, parse_multipart, parse_urlencoded


def urlencode(pairs, charset):
    return "&".join(f"{quote_from_bytes(k.encode(charset))}={quote_from_bytes(v.encode(charset))}"
                    for k, v in pairs).encode("ascii")


def multipart(parts, boundary="XyZ123"):
    out = b""
    for name, value, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


JAPANESE = "山田 太郎 ①㈱ ～ 髙橋"  # ① ㈱ 髙 are cp932 (Windows-31J) extensions


@pytest.mark.parametrize("label, codec", [
    ("utf-8", "utf-8"), ("Shift_JIS", "cp932"), ("windows-31j", "cp932"), ("EUC-JP", "euc_jp"),
])
def test_urlencoded_in_each_charset(label, codec):
    text = JAPANESE if codec != "euc_jp" else "山田 太郎 東京都"
    body = urlencode([("_charset_", label), ("name", text), ("msg", "a+b & c=d")], codec)
    raw = parse_body("application/x-www-form-urlencoded", {}, body, max_fields=10)
    assert decode_pairs(raw, charset_of(raw, None)) == [
        ("_charset_", label), ("name", text), ("msg", "a+b & c=d")]


def test_plus_is_space_and_empty_pieces_skipped():
    assert parse_urlencoded(b"a=1+2&&b=&c", max_fields=10) == [(b"a", b"1 2"), (b"b", b""), (b"c", b"")]


def test_request_charset_used_when_no_charset_field():
    raw = RawForm([(b"name", "髙橋".encode("cp932"))])
    assert charset_of(raw, "shift_jis") == "cp932"
    assert decode_pairs(raw, "cp932") == [("name", "髙橋")]


def test_unknown_charset_refused():
    with pytest.raises(UnknownCharset):
        charset_of(RawForm([(b"_charset_", b"koi8-r")]), None)


def test_invalid_bytes_name_the_field():
    raw = RawForm([(b"name", b"ok"), (b"message", b"\xff\xfe broken")])
    with pytest.raises(ValidationFailed) as info:
        decode_pairs(raw, "utf-8")
    assert [(e.field, e.code) for e in info.value.errors] == [("message", "bad_encoding")]


def test_invalid_shift_jis_bytes():
    with pytest.raises(ValidationFailed):
        decode_pairs(RawForm([(b"name", b"\x81")]), "cp932")  # a lead byte with no trail


def test_too_many_fields():
    with pytest.raises(TooManyFields):
        parse_urlencoded(b"&".join(b"f%d=1" % i for i in range(11)), max_fields=10)


def test_multipart_fields_in_order():
    body = multipart([("name", "山田".encode(), None), ("message", b"line1\r\nline2", None)])
    raw = parse_body("multipart/form-data", {"boundary": "XyZ123"}, body, max_fields=10)
    assert raw.pairs == [(b"name", "山田".encode()), (b"message", b"line1\r\nline2")]
    assert raw.files == []


def test_multipart_file_parts_are_kept_apart_from_fields():
    body = multipart([("name", b"x", None), ("cv", b"%PDF-1.4 ...", "cv.pdf"), ("empty", b"", " ")])
    raw = parse_multipart(body, b"XyZ123", max_fields=10)
    assert raw.pairs == [(b"name", b"x")]
    assert [(u.field, u.filename, u.data) for u in raw.files] == [("cv", "cv.pdf", b"%PDF-1.4 ..."),
                                                                   ("empty", " ", b"")]


@pytest.mark.parametrize("body", [
    b"--XyZ123\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
    b"--XyZ123\r\nX-Nothing: 1\r\n\r\nvalue\r\n--XyZ123--\r\n",
    b"garbage without boundary",
])
def test_malformed_multipart(body):
    with pytest.raises(MalformedBody):
        parse_body("multipart/form-data", {"boundary": "XyZ123"}, body, max_fields=10)


def test_multipart_part_limit():
    body = multipart([(f"f{i}", b"1", None) for i in range(5)])
    with pytest.raises(TooManyFields):
        parse_multipart(body, b"XyZ123", max_fields=4)


def test_multipart_needs_boundary():
    with pytest.raises(MalformedBody):
        parse_body("multipart/form-data", {}, b"", max_fields=10)
    with pytest.raises(MalformedBody):
        parse_body("multipart/form-data", {"boundary": "b" * 201}, b"", max_fields=10)


def test_long_boundary_accepted():
    boundary = "-" * 15 + "WerkzeugFormPart_1796320266.4231093" + "0.71046401013078521"  # 71 characters
    body = multipart([("name", b"x", None)], boundary=boundary)
    assert parse_body("multipart/form-data", {"boundary": boundary}, body, max_fields=10).pairs == [(b"name", b"x")]


def test_other_media_types_refused():
    with pytest.raises(UnsupportedMediaType):
        parse_body("application/json", {}, b"{}", max_fields=10)
