"""Config parsing: values, defaults, and errors that name their section and key."""

from pathlib import Path

import pytest

from conftest import write_config
from formmail.config import load_config, parse_fields, parse_list
from formmail.errors import ConfigInvalid


def problems(tmp_path, **kwargs):
    path = write_config(tmp_path, **kwargs)
    with pytest.raises(ConfigInvalid) as info:
        load_config(path)
    return [str(e) for e in info.value.errors]


def test_base_config_values(config, tmp_path):
    assert config.sender == "form@formmail.test"
    assert config.envelope_sender == "form@formmail.test"  # defaults to sender
    assert config.transport == "maildir"
    assert config.log_dir == (tmp_path / "data").resolve()  # relative to the config's folder
    assert config.retention_days == 180 and config.max_body_size == 1_000_000
    form = config.form("")  # the only form, when the request names none
    assert form.name == "contact"
    assert [f.name for f in form.fields] == ["name", "email", "phone", "message"]
    assert form.field("name").label == "お名前"
    assert form.field("message").multiline and not form.field("name").multiline
    assert form.field("message").max_length == 10_000 and form.field("name").max_length == 1_000
    assert form.required == {"name", "email", "message"}
    assert form.recipients == ("owner@formmail.test",)


def test_example_config_is_valid():
    config = load_config(Path(__file__).resolve().parent.parent / "config.example.ini")
    assert config.transport == "sendmail" and "contact" in config.forms


def test_demo_config_writes_files_not_mail(tmp_path):
    from formmail.cli import demo_config

    config = demo_config(tmp_path)
    assert config.transport == "maildir" and config.outbox == tmp_path / "outbox"


def test_second_form_needs_form_field(tmp_path):
    path = write_config(tmp_path, extra="""
        [form:order]
        recipients = sales@formmail.test
        fields = item, qty
        """)
    config = load_config(path)
    assert config.form("") is None and config.form("order").name == "order"


@pytest.mark.parametrize("formmail, form, expected", [
    ({"transport": "pigeon"}, {}, "[formmail] transport: must be one of sendmail, smtp, maildir"),
    ({"retention_days": "soon"}, {}, "[formmail] retention_days: must be a whole number"),
    ({"retention_days": "0"}, {}, "[formmail] retention_days: must be at least 1"),
    ({"smtp_port": "70000"}, {}, "[formmail] smtp_port: must be at least 1 and at most 65535"),
    ({"envelope_sender": "bounce"}, {}, "[formmail] envelope_sender: 'bounce' is not a plain address"),
    ({"sender": "Form <form@formmail.test>"}, {}, "[formmail] sender: 'Form <form@formmail.test>' is not"),
    ({"senderr": "x@formmail.test"}, {}, "[formmail] senderr: is not a setting formmail knows"),
    ({"language": "fr"}, {}, "[formmail] language: must be one of auto, ja, en"),
    ({"timezone": "Mars/Olympus"}, {}, "[formmail] timezone: 'Mars/Olympus' is not a known time zone"),
    ({"max_body_size": "10"}, {}, "[formmail] max_body_size: must be at least 1024"),
    ({}, {"required": "name, fax"}, "[form:contact] required: 'fax' is not in this form's fields"),
    ({}, {"reply_to": "mail"}, "[form:contact] reply_to: 'mail' is not in this form's fields"),
    ({}, {"thanks_url": "javascript:alert(1)"}, "[form:contact] thanks_url: must be a full http(s)://"),
    ({}, {"colour": "blue"}, "[form:contact] colour: is not a setting formmail knows"),
    ({}, {"fields": "name, _secret"}, "[form:contact] fields: '_secret' is not a usable field name"),
    ({}, {"fields": "name, name"}, "[form:contact] fields: 'name' is listed twice"),
    ({}, {"recipients": "owner@formmail.test, friend"}, "[form:contact] recipients: 'friend' is not"),
])
def test_errors_name_section_and_key(tmp_path, formmail, form, expected):
    found = problems(tmp_path, formmail=formmail, form=form)
    assert any(p.startswith(expected) for p in found), found


def test_missing_sender_and_recipients(tmp_path):
    found = problems(tmp_path, text="""
        [formmail]
        transport = maildir
        [form:contact]
        fields = name
        """)
    assert any(p.startswith("[formmail] sender: is required") for p in found)
    assert any(p.startswith("[form:contact] recipients: is required") for p in found)


def test_every_problem_is_listed_at_once(tmp_path):
    found = problems(tmp_path, formmail={"transport": "pigeon", "language": "fr"})
    assert len(found) == 2, found


def test_recipient_that_is_an_option_is_refused(tmp_path):
    found = problems(tmp_path, text="""
        [formmail]
        sender = form@formmail.test
        [form:contact]
        recipients = -oQ/tmp@formmail.test
        fields = name
        """)
    assert any("[form:contact] recipients:" in p for p in found)


def test_header_fields_cannot_be_multiline(tmp_path):
    found = problems(tmp_path, text="""
        [formmail]
        sender = form@formmail.test
        [form:contact]
        recipients = owner@formmail.test
        fields = name, email
        reply_to = email
        multiline = email
        """)
    assert any(p.startswith("[form:contact] reply_to: 'email' reaches a mail header") for p in found)


def test_subject_naming_unknown_field(tmp_path):
    found = problems(tmp_path, form={"subject": "{{ company }}"})
    assert any(p.startswith("[form:contact] subject: names company") for p in found)


def test_subject_with_bad_syntax(tmp_path):
    found = problems(tmp_path, form={"subject": "{{ name "})
    assert any(p.startswith("[form:contact] subject: is not a valid template") for p in found)


def test_unknown_section_and_duplicate_key(tmp_path):
    assert any(p.startswith("[mail]") for p in problems(tmp_path, extra="[mail]\nx = 1\n"))
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace("[form:contact]", "transport = smtp\n[form:contact]"))
    with pytest.raises(ConfigInvalid, match=r"\[formmail\] transport: is set twice"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigInvalid, match="does not exist"):
        load_config(tmp_path / "nope.ini")


def test_not_utf8(tmp_path):
    path = tmp_path / "config.ini"
    path.write_bytes("[formmail]\nsender_name = テスト\n".encode("shift_jis"))
    with pytest.raises(ConfigInvalid, match="cannot be read"):
        load_config(path)


def test_parse_helpers():
    assert parse_list("a, b,\n c,,") == ["a", "b", "c"]
    assert parse_fields("name = お名前\nemail\n a, b") == [
        ("name", "お名前"), ("email", "email"), ("a", "a"), ("b", "b")]


def test_percent_signs_need_no_escaping(tmp_path):
    config = load_config(write_config(tmp_path, form={"thanks_url": "/thanks?x=100%25"}))
    assert config.form("contact").thanks_url == "/thanks?x=100%25"
