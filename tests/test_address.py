"""Address syntax: what may stand in a header or an MTA's argv."""

import pytest

from formmail.address import AddressError, domain_of, normalize_address


@pytest.mark.parametrize("text, expected", [
    ("taro@example.jp", "taro@example.jp"),
    ("Taro.Yamada+form@Example.CO.JP", "Taro.Yamada+form@example.co.jp"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("user@例え.jp", "user@xn--r8jz45g.jp"),
    ("user@example.com.", "user@example.com"),
])
def test_accepted(text, expected):
    assert normalize_address(text) == expected


@pytest.mark.parametrize("text", [
    "", "plain", "a@b", "a@@example.com", "a@b@example.com",
    "Name <a@example.com>", "a@example.com, b@example.com", "a@example.com\nBcc: x@evil.test",
    "a@example.com\r", "a b@example.com", '"quoted"@example.com', "a(comment)@example.com",
    "victim%evil.test@example.com", "evil.test!victim@example.com", "a@[127.0.0.1]",
    "a@127.0.0.1", ".a@example.com", "a.@example.com", "a..b@example.com",
    "a@-example.com", "a@example-.com", "x" * 65 + "@example.com",
    "a@" + ("b" * 63 + ".") * 4 + "com", "ｔａｒｏ@example.jp", "a\u2028@example.com",
    "undisclosed:;", "group: a@example.com;",
])
def test_refused(text):
    with pytest.raises(AddressError):
        normalize_address(text)


def test_domain_of():
    assert domain_of("a@mail.example.jp") == "mail.example.jp"
