"""Checks decoded form fields against a form's config and returns the cleaned values."""

import re
from dataclasses import dataclass

from formmail.address import AddressError, normalize_address
from formmail.errors import FieldError, ValidationFailed

RESERVED_PREFIX = "_"
# Characters that end a line somewhere: a mail header, a CSV reader, a text editor.
LINE_BREAKS = "\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# C0 controls other than TAB and LF, DEL, C1 controls, and the bidirectional overrides
# that can make a mail or CSV cell read differently from what it holds.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAK = re.compile(f"[{LINE_BREAKS}]")
# RFC 2047 encoded-word syntax. Unpatched Pythons (CVE-2024-6923) decode such a word typed
# into a header value and can write the line break it hides, so a one-line field refuses it.
ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")
# A line break percent-encoded once more than the form needed: harmless here, but a second
# decoder elsewhere (a mail client's link, a log viewer) would turn it into a real one.
ENCODED_LINE_BREAK = re.compile(r"%0[aAdD]|%E2%80%A[89]|%C2%85", re.I)
MAX_EXTRA_NAME = 64


@dataclass(frozen=True)
class Cleaned:
    """A valid submission: configured values in order, fields the config does not list, the
    visitor's address (already normalised) and name for Reply-To."""

    values: dict
    extras: tuple
    reply_to: str = None
    reply_name: str = None


def collect(pairs):
    """Group decoded pairs by name in first-seen order, dropping reserved `_` names.

    Repeated names (checkbox groups) keep every value; line endings become LF.
    """
    grouped = {}
    for name, value in pairs:
        if name.startswith(RESERVED_PREFIX):
            continue
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        grouped.setdefault(name, []).append(value)
    return grouped


def clean(form, pairs):
    """Validate `pairs` for `form`; return Cleaned or raise ValidationFailed naming each field."""
    grouped = collect(pairs)
    errors, values = [], {}
    for field in form.fields:
        joiner = "\n" if field.multiline else ", "
        value = joiner.join(v.strip() for v in grouped.get(field.name, ()) if v.strip())
        if not field.multiline:
            value = value.replace("\t", " ")
        values[field.name] = value
        error = check_value(field.name, value, multiline=field.multiline, max_length=field.max_length)
        if error is None and not value and field.name in form.required:
            error = FieldError(field.name, "required")
        if error is None and value and field.name == form.reply_to:
            try:
                values[field.name] = normalize_address(value)
            except AddressError as e:
                error = FieldError(field.name, "bad_email", reason=str(e))
        if error:
            errors.append(error)
    extras = []
    for name, items in grouped.items():
        if form.field(name):
            continue
        value = "\n".join(v.strip() for v in items if v.strip())
        error = (check_value(name, name, multiline=False, max_length=MAX_EXTRA_NAME)
                 or check_value(name, value, multiline=True, max_length=form.max_text_length))
        if error:
            errors.append(error)
        elif value:
            extras.append((name, value))
    if errors:
        shown = [(n, v) for n, items in grouped.items() for v in items]
        raise ValidationFailed(errors, shown)
    reply_to = values.get(form.reply_to) if form.reply_to else None
    reply_name = values.get(form.reply_to_name) if form.reply_to_name else None
    return Cleaned(values, tuple(extras), reply_to or None, reply_name or None)


def check_value(name, value, *, multiline, max_length):
    """The first thing wrong with one value, as a FieldError, or None."""
    if _CONTROL.search(value):
        return FieldError(name, "control_char")
    if not multiline and _LINE_BREAK.search(value):
        return FieldError(name, "one_line")
    if not multiline and ENCODED_WORD.search(value):
        return FieldError(name, "encoded_word")
    if not multiline and ENCODED_LINE_BREAK.search(value):
        return FieldError(name, "one_line")
    if len(value) > max_length:
        return FieldError(name, "too_long", max=max_length)
    return None
