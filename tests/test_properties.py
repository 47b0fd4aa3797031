"""Property-based tests over the WSGI app (hypothesis): whatever the request, never a 5xx, never
a mail for a refused post, never a header line the input controls."""

import tempfile
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client, EnvironBuilder

from conftest import RecordingTransport, write_config
from formmail.address import normalize_address
from formmail.app import FormMail
from formmail.config import load_config
from formmail.message import COMPOSED_HEADERS, serialize

RECIPIENTS = ["owner@formmail.test"]
ALLOWED = {h.lower() for h in COMPOSED_HEADERS}
NASTY = ["taro@example.jp", "a@b.example", "x\r\nBcc: v@evil.test", "=?utf-8?q?a=0D=0ABcc:_v@evil.test?=",
         "v@evil.test, w@evil.test", "\u2028", "%0d%0a", "<script>", "=1+1", "山田 太郎", "\x00", ""]
NAMES = st.sampled_from(["name", "email", "phone", "message", "_form", "_charset_", "_website",
                         "_token", "recipient", "bcc", "subject"]) | st.text(max_size=12)
VALUES = st.sampled_from(NASTY) | st.text(max_size=80)
CHARSETS = st.sampled_from([None, "utf-8", "shift_jis", "euc-jp", "iso-8859-1", "bogus"])



def header_text(max_size):
    """Any text an HTTP header can carry: a raw line break cannot be sent in one."""
    return st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                   max_size=max_size)


HEADERS = st.fixed_dictionaries({}, optional={
    "Origin": st.sampled_from(["http://localhost", "https://evil.test", "null", "garbage"]) | header_text(20),
    "Referer": header_text(30),
    "Accept": st.sampled_from(["application/json", "text/html", "*/*"]) | header_text(20),
    "Accept-Language": st.sampled_from(["ja", "en", "fr;q=abc"]) | header_text(20),
    "User-Agent": header_text(40),
})

_folder = Path(tempfile.mkdtemp(prefix="formmail-properties-"))
_config = load_config(write_config(_folder, formmail={"max_posts_per_client": "0", "max_posts_per_hour": "0",
                                                      "duplicate_window_minutes": "0"}))
_transport = RecordingTransport()
_client = Client(FormMail(_config, transport=_transport))


def encode(fields, charset):
    codec = {"shift_jis": "cp932", "euc-jp": "euc_jp"}.get(charset, charset or "utf-8")
    try:
        "".encode(codec)
    except LookupError:
        codec = "utf-8"
    return "&".join(f"{quote_from_bytes(n.encode(codec, 'replace'))}={quote_from_bytes(v.encode(codec, 'replace'))}"
                    for n, v in fields).encode("ascii")


def check(response, sent_before):
    event(f"status {response.status_code}, {len(_transport.sent) - sent_before} mailed")
    assert response.status_code < 500, response.get_data()[:300]
    new = _transport.sent[sent_before:]
    if response.status_code != 200:
        assert new == []
    assert len(new) <= 1
    for msg, _, recipients in new:
        assert list(recipients) == RECIPIENTS
        data = serialize(msg)
        head = data.partition(b"\n\n")[0]
        for line in head.split(b"\n"):  # every line is a header of formmail's, or a fold of one
            assert line[:1] in (b" ", b"\t") or line.split(b":")[0].decode().lower() in ALLOWED, line
        parsed = message_from_bytes(data, policy=policy.default)
        assert sorted(k.lower() for k in parsed.keys()) == sorted({k.lower() for k in parsed.keys()})
        assert [a.addr_spec for a in parsed["To"].addresses] == RECIPIENTS
        if parsed["Reply-To"] is not None:
            (address,) = parsed["Reply-To"].addresses
            assert normalize_address(address.addr_spec) == address.addr_spec


SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(st.lists(st.tuples(NAMES, VALUES), max_size=8), CHARSETS, HEADERS,
       st.sampled_from(["urlencoded", "multipart", "charset-param"]))
def test_any_form_post(fields, charset, headers, how):
    before = len(_transport.sent)
    if how == "multipart":
        data = {}
        for n, v in fields:
            data.setdefault(n, v)
        response = _client.post("/", data=data, headers=headers, content_type="multipart/form-data")
    else:
        body = encode(fields + ([("_charset_", charset)] if charset and how == "urlencoded" else []), charset)
        ctype = "application/x-www-form-urlencoded"
        if how == "charset-param" and charset:
            ctype += f"; charset={charset}"
        response = _client.post("/", data=body, headers=headers, content_type=ctype)
    check(response, before)


@SETTINGS
@given(st.binary(max_size=400), header_text(60), st.sampled_from(["POST", "GET", "PUT", "HEAD", "OPTIONS"]),
       header_text(20), HEADERS)
def test_any_bytes_and_headers(body, content_type, method, path, headers):
    before = len(_transport.sent)
    builder = EnvironBuilder(method=method, path="/" + path.replace("?", "").replace("#", ""),
                             data=body, headers=headers)
    environ = builder.get_environ()
    environ["CONTENT_TYPE"] = content_type
    response = _client.open(environ)
    check(response, before)


PLAUSIBLE = st.fixed_dictionaries({
    "name": st.text(min_size=1, max_size=40) | st.sampled_from(NASTY),
    "email": st.emails() | st.sampled_from(["taro@example.jp", "Taro.Y+x@Example.CO.JP", "a@例え.jp"]),
    "phone": st.text(max_size=20),
    "message": st.text(min_size=1, max_size=300),
})


@SETTINGS
@given(PLAUSIBLE)
def test_valid_looking_posts_mail_exactly_what_was_sent(values):
    before = len(_transport.sent)
    response = _client.post("/", data=values, headers={"Accept": "application/json"})
    check(response, before)
    if response.status_code == 200:
        msg = _transport.sent[-1][0]
        assert msg["Reply-To"].addresses[0].addr_spec == normalize_address(values["email"].strip())
