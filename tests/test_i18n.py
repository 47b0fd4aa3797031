"""The visitor's words: both languages complete, and the choice between them."""

import pytest

from formmail.i18n import MESSAGES, choose_language, message


def test_both_languages_have_every_message():
    assert set(MESSAGES["ja"]) == set(MESSAGES["en"])


@pytest.mark.parametrize("setting, header, expected", [
    ("auto", "ja,en-US;q=0.9", "ja"), ("auto", "en-US,en;q=0.9,ja;q=0.8", "en"),
    ("auto", "fr-FR,ja;q=0.5", "ja"), ("auto", "", "en"), ("auto", "de", "en"),
    ("auto", "ja;q=0.2, en;q=0.7", "en"), ("auto", "ja;q=bogus, en;q=0.1", "en"),
    ("ja", "en", "ja"), ("en", "ja", "en"),
])
def test_choose_language(setting, header, expected):
    assert choose_language(setting, header) == expected


def test_message_fills_parameters():
    assert message("ja", "too_long", label="お名前", max=100) == "お名前：100文字以内で入力してください。"
    assert message("en", "no-such-code") == MESSAGES["en"]["bad_request"]
