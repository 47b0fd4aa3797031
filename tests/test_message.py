"""Message composition: on-domain From, visitor in Reply-To, encoded Japanese, checked headers."""

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest

from formmail.errors import HeaderInjection
from formmail.message import (
    check_headers, compose, compose_test, render_subject, serialize,
)
from formmail.pages import Templates
from formmail.submission import Submission, new_reference

JST = timezone(timedelta(hours=9))
WHEN = datetime(2026, 12, 3, 10, 15, 0, tzinfo=JST)


def submission(**changes):
    values = {"name": "山田 太郎", "email": "taro@example.jp", "phone": "",
              "message": "見積もりをお願いします。\n二行目です。"}
    base = dict(id="20261203-7K3QF9", received_at=WHEN, form="contact", values=values,
                extras=(("company", "ACME"),), reply_to="taro@example.jp", reply_name="山田 太郎",
                remote_addr="203.0.113.9")
    base.update(changes)
    return Submission(**base)


def build(config, sub=None):
    form = config.form("contact")
    sub = sub or submission()
    body = Templates(config.templates_dir).render(
        form.mail_template, submission=sub, form=form,
        fields=[(f.label, sub.values.get(f.name, "")) for f in form.fields])
    return compose(config, form, sub, body)


def reparse(msg):
    return message_from_bytes(serialize(msg), policy=policy.default)


def test_headers(config):
    parsed = reparse(build(config))
    assert parsed["From"].addresses[0].addr_spec == "form@formmail.test"
    assert parsed["From"].addresses[0].display_name == "テスト株式会社 Web Form"
    assert parsed["To"].addresses[0].addr_spec == "owner@formmail.test"
    assert parsed["Reply-To"].addresses[0].addr_spec == "taro@example.jp"
    assert parsed["Reply-To"].addresses[0].display_name == "山田 太郎"
    assert str(parsed["Subject"]) == "お問い合わせ: 山田 太郎 様"
    assert parsed["Date"].datetime == WHEN
    assert parsed["Message-ID"].endswith("@formmail.test>") and "20261203-7K3QF9" in parsed["Message-ID"]
    assert parsed["X-Formmail-Id"] == "20261203-7K3QF9"
    assert parsed.get_content_charset() == "utf-8"


def test_raw_headers_are_ascii_and_encoded(config):
    raw = serialize(build(config))
    head = raw.partition(b"\n\n")[0]
    assert head.isascii()
    assert b"=?utf-8?" in head  # RFC 2047 words for the Japanese subject and names
    assert max(len(line) for line in head.split(b"\n")) <= 78


def test_body_lists_fields_in_order_with_labels(config):
    body = reparse(build(config)).get_content()
    order = [body.index(label) for label in ("お名前", "メールアドレス", "電話番号", "お問い合わせ内容")]
    assert order == sorted(order)
    assert "見積もりをお願いします。\n二行目です。" in body
    assert "20261203-7K3QF9" in body and "2026-12-03T10:15:00+09:00" in body
    assert "203.0.113.9" in body and "company: ACME" in body


def test_ascii_body_is_7bit(config):
    sub = submission(values={"name": "Taro", "email": "t@example.jp", "phone": "", "message": "Hi"},
                     reply_name="Taro", extras=())
    msg = build(config, sub)
    form = config.form("contact")
    body = "plain ascii body\n"
    msg = compose(config, form, sub, body)
    assert msg["Content-Transfer-Encoding"] == "7bit"


def test_no_reply_to_without_address(config):
    parsed = reparse(build(config, submission(reply_to=None, reply_name=None)))
    assert parsed["Reply-To"] is None


def test_subject_collapses_line_breaks_and_is_bounded(config):
    sub = submission(values={"name": "a\nb\r\nc\u2028d" + "x" * 500})
    subject = render_subject("{{ name }}", sub)
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("a b c") and len(subject) == 200


def test_subject_can_use_id_and_form():
    assert render_subject("[{{ form }}] {{ id }}", submission()) == "[contact] 20261203-7K3QF9"


def test_check_headers_accepts_composed_message(config):
    check_headers(serialize(build(config)), ("owner@formmail.test",), "taro@example.jp")


@pytest.mark.parametrize("mangle", [
    lambda raw: raw.replace(b"X-Formmail-Id:", b"Bcc: victim@evil.test\nX-Formmail-Id:"),
    lambda raw: raw.replace(b"To: owner@formmail.test", b"To: owner@formmail.test, victim@evil.test"),
    lambda raw: raw.replace(b"\nSubject:", b"\nCc: victim@evil.test\nSubject:"),
    lambda raw: raw.replace(b"\nSubject:", b"\nbroken line\nSubject:"),
    lambda raw: raw.replace(b"\nSubject:", b"\nReply-To: x@evil.test\nSubject:"),
    lambda raw: raw.replace(b"\n\n", b"\n", 1),
])
def test_check_headers_refuses_smuggled_headers(config, mangle):
    raw = mangle(serialize(build(config)))
    with pytest.raises(HeaderInjection):
        check_headers(raw, ("owner@formmail.test",), "taro@example.jp")


def test_check_headers_refuses_other_reply_to(config):
    with pytest.raises(HeaderInjection):
        check_headers(serialize(build(config)), ("owner@formmail.test",), "other@example.jp")


def test_hostile_display_name_stays_in_its_header(config):
    sub = submission(reply_name='"x" <evil@evil.test>, Bcc: v@evil.test')
    raw = serialize(build(config, sub))
    check_headers(raw, ("owner@formmail.test",), "taro@example.jp")
    parsed = message_from_bytes(raw, policy=policy.default)
    assert [a.addr_spec for a in parsed["Reply-To"].addresses] == ["taro@example.jp"]
    assert parsed["Reply-To"].addresses[0].display_name == sub.reply_name
    assert parsed["Bcc"] is None


CVE_2024_6923 = "=?utf-8?q?a=0D=0ABcc:_v@evil.test?="


@pytest.mark.parametrize("changes", [
    {"reply_name": CVE_2024_6923},
    {"values": {"name": CVE_2024_6923}},
    {"values": {"name": "=?utf-8?q?a=0D=0ABcc:", "email": "_v@evil.test?="}},
])
def test_encoded_word_line_breaks_never_reach_headers(config, changes):
    """Validation refuses these; composition must refuse them too, whatever the Python."""
    form = config.form("contact").__class__(**{**config.form("contact").__dict__,
                                               "subject": "{{ name }}{{ email }}"})
    sub = submission(**changes)
    with pytest.raises(HeaderInjection):
        msg = compose(config, form, sub, "body")
        check_headers(serialize(msg), form.recipients, sub.reply_to)


def test_send_test_message(config):
    msg = compose_test(config, config.form("contact"), WHEN)
    assert msg["To"] == "owner@formmail.test" and "test" in msg["Subject"]


def test_reference_format():
    ref = new_reference(WHEN)
    assert ref.startswith("20261203-") and len(ref) == 15
    assert not set(ref[9:]) & set("ILOU")
    assert len({new_reference(WHEN) for _ in range(200)}) == 200


def jis_config(config):
    from dataclasses import replace

    form = replace(config.form("contact"), charset="iso-2022-jp")
    return form


def test_iso_2022_jp_mail(config):
    form = jis_config(config)
    sub = submission()
    body = "お問い合わせ本文です。\n二行目。\n"
    raw = serialize(compose(config, form, sub, body))
    head, _, payload = raw.partition(b"\n\n")
    assert head.isascii() and payload.isascii()       # 7-bit all through
    assert b"=?iso-2022-jp?b?" in head.lower() and b'charset="iso-2022-jp"' in head.lower()
    assert b"\x1b$B" in payload                        # JIS X 0208 escape sequence
    parsed = message_from_bytes(raw, policy=policy.default)
    assert str(parsed["Subject"]) == "お問い合わせ: 山田 太郎 様"
    assert parsed["From"].addresses[0].display_name == "テスト株式会社 Web Form"
    assert parsed["Reply-To"].addresses[0].display_name == "山田 太郎"
    assert parsed.get_content() == body
    check_headers(raw, ("owner@formmail.test",), "taro@example.jp")


@pytest.mark.parametrize("text", ["①②", "㈱山田", "寿司🍣", "髙橋"])
def test_iso_2022_jp_falls_back_to_utf8_never_question_marks(config, text):
    from formmail.message import not_in_jis

    form = jis_config(config)
    sub = submission(values={"name": text, "email": "taro@example.jp", "phone": "", "message": text},
                     reply_name=text)
    raw = serialize(compose(config, form, sub, f"本文 {text}\n"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_charset() == "utf-8" and b"?" not in raw.partition(b"\n\n")[2]
    assert text in parsed.get_content() and text in str(parsed["Subject"])
    assert not_in_jis([text])


def test_iso_2022_jp_keeps_header_checks(config):
    form = jis_config(config)
    sub = submission(reply_name='"x" <evil@evil.test>, Bcc: v@evil.test')
    raw = serialize(compose(config, form, sub, "本文\n"))
    check_headers(raw, ("owner@formmail.test",), "taro@example.jp")
    assert message_from_bytes(raw, policy=policy.default)["Bcc"] is None
