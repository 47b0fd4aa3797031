"""Validation of decoded fields against a form: a table of inputs and the error each gets."""

import pytest

from formmail.errors import FieldError, ValidationFailed
from formmail.validate import clean, collect

GOOD = {"name": "山田 太郎", "email": "taro@example.jp", "message": "よろしくお願いします。"}


def post(**changes):
    values = {**GOOD, **changes}
    return [(k, v) for k, v in values.items() if v is not None]


def errors_of(form, pairs):
    with pytest.raises(ValidationFailed) as info:
        clean(form, pairs)
    return info.value.errors


def test_valid_post(config):
    form = config.form("contact")
    cleaned = clean(form, post(phone="03-1234-5678", _form="contact", _charset_="utf-8"))
    assert cleaned.values == {"name": "山田 太郎", "email": "taro@example.jp",
                              "phone": "03-1234-5678", "message": "よろしくお願いします。"}
    assert cleaned.reply_to == "taro@example.jp" and cleaned.reply_name == "山田 太郎"
    assert cleaned.extras == ()


@pytest.mark.parametrize("changes, expected", [
    ({"name": None}, FieldError("name", "required")),
    ({"name": "   "}, FieldError("name", "required")),
    ({"email": ""}, FieldError("email", "required")),
    ({"email": "not-an-address"}, "bad_email"),
    ({"email": "a@example.com, b@example.com"}, "bad_email"),
    ({"email": "Taro <taro@example.jp>"}, "bad_email"),
    ({"email": "taro@example.jp\nBcc: v@evil.test"}, FieldError("email", "one_line")),
    ({"email": "taro@example.jp\rBcc: v@evil.test"}, FieldError("email", "one_line")),
    ({"name": "a\u2028b"}, FieldError("name", "one_line")),
    ({"name": "a\u2029b"}, FieldError("name", "one_line")),
    ({"name": "a\x85b"}, FieldError("name", "control_char")),
    ({"name": "a\x00b"}, FieldError("name", "control_char")),
    ({"name": "a\x1bb"}, FieldError("name", "control_char")),
    ({"message": "ok\x00"}, FieldError("message", "control_char")),
    ({"message": "bidi \u202e trick"}, FieldError("message", "control_char")),
    ({"name": "x" * 1001}, FieldError("name", "too_long", max=1000)),
    ({"message": "x" * 10_001}, FieldError("message", "too_long", max=10_000)),
    ({"extra": "bad\x00"}, FieldError("extra", "control_char")),
    ({"name": "=?utf-8?q?a=0D=0ABcc:_v@evil.test?="}, FieldError("name", "encoded_word")),
    ({"phone": "=?ISO-2022-JP?B?GyRCJTUlJBsoQg==?="}, FieldError("phone", "encoded_word")),
    ({"bad\nname": "v"}, FieldError("bad\nname", "one_line")),
])
def test_refusals(config, changes, expected):
    errors = errors_of(config.form("contact"), post(**changes))
    if isinstance(expected, str):
        assert [e.code for e in errors] == [expected]
    else:
        assert errors == [expected]


def test_every_wrong_field_is_named_and_input_kept(config):
    with pytest.raises(ValidationFailed) as info:
        clean(config.form("contact"), [("name", ""), ("email", "x"), ("message", "m")])
    assert [e.field for e in info.value.errors] == ["name", "email"]
    assert ("email", "x") in info.value.values and ("message", "m") in info.value.values


def test_line_breaks_allowed_in_multiline_fields_and_normalised(config):
    cleaned = clean(config.form("contact"), post(message="one\r\ntwo\rthree\n\tfour"))
    assert cleaned.values["message"] == "one\ntwo\nthree\n\tfour"


def test_tab_in_one_line_field_becomes_space(config):
    assert clean(config.form("contact"), post(name="山田\t太郎")).values["name"] == "山田 太郎"


def test_address_is_normalised(config):
    assert clean(config.form("contact"), post(email="Taro@EXAMPLE.jp")).reply_to == "Taro@example.jp"


def test_unlisted_fields_are_kept_as_extras(config):
    cleaned = clean(config.form("contact"), post(company="ACME", recipient="evil@evil.test"))
    assert cleaned.extras == (("company", "ACME"), ("recipient", "evil@evil.test"))


def test_repeated_names_are_joined(config):
    form = config.form("contact")
    cleaned = clean(form, post() + [("topic", "a"), ("topic", "b"), ("phone", "1"), ("phone", "2")])
    assert cleaned.values["phone"] == "1, 2" and ("topic", "a\nb") in cleaned.extras


def test_reserved_names_are_dropped():
    assert collect([("_form", "x"), ("_anything", "y"), ("a", "1")]) == {"a": ["1"]}
